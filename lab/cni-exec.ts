/**
 * Runs a CNI plugin executable exactly as a container runtime does: the CNI_* environment, the
 * network configuration on stdin, the result or error JSON on stdout. The plugin process is
 * started inside `hostNetns` (the node's namespace in the lab), so whatever it does to "the
 * host" happens there and never in the root namespace.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execTool } from '../kernel/exec';

/** Where `npm run build` links weft's multi-call plugin under each plugin name. */
export const WEFT_BIN_DIR = path.join(__dirname, '..', 'bin');
/** weft-cni-shim under each plugin name (hands calls to a CNI server, see cni/server.ts). */
export const SHIM_BIN_DIR = path.join(__dirname, '..', 'shim', 'bin');
/** The single executable's plugin links (`npm run build:sea`). */
export const SEA_BIN_DIR = path.join(__dirname, '..', 'sea', 'bin');
/** Debian's containernetworking-plugins. */
export const REFERENCE_CNI_DIR = '/usr/lib/cni';
export const DEFAULT_CNI_PATH = [WEFT_BIN_DIR, REFERENCE_CNI_DIR];

export interface CniInvocation {
  /**
   * Namespace the plugin runs in (the "host" of the pod). Only a plugin that touches no network
   * namespace (an IPAM plugin) may be run without one, in the caller's own namespace.
   */
  hostNetns?: string;
  /** Plugin type, looked up on cniPath. */
  plugin: string;
  command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';
  config: object;
  containerId?: string;
  netns?: string;
  ifName?: string;
  /** Extra CNI_ARGS; K8S_POD_NAMESPACE / K8S_POD_NAME are passed as kubelet does. */
  args?: Record<string, string>;
  cniPath?: string[];
  /** Extra environment (tests use it for fault injection). */
  env?: Record<string, string>;
}

export interface CniOutcome {
  /** The exit status, or 128 when the plugin was killed by a signal. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The parsed stdout, when it is JSON. */
  json?: Record<string, unknown>;
  durationMs: number;
}

/** Finds the plugin executable the way a runtime does: first match on CNI_PATH. */
export function pluginPath(plugin: string, cniPath: string[] = DEFAULT_CNI_PATH): string {
  for (const dir of cniPath) {
    const candidate = path.join(dir, plugin);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`CNI plugin ${plugin} not found on ${cniPath.join(':')}`);
}

function cniArgs(inv: CniInvocation): string {
  const pairs = { IgnoreUnknown: '1', ...(inv.args ?? {}) };
  return Object.entries(pairs)
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
}

export async function runCni(inv: CniInvocation): Promise<CniOutcome> {
  const cniPath = inv.cniPath ?? DEFAULT_CNI_PATH;
  const exe = pluginPath(inv.plugin, cniPath);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
    CNI_COMMAND: inv.command,
    CNI_PATH: cniPath.join(':'),
    ...(inv.containerId !== undefined ? { CNI_CONTAINERID: inv.containerId } : {}),
    ...(inv.netns !== undefined ? { CNI_NETNS: inv.netns } : {}),
    ...(inv.ifName !== undefined ? { CNI_IFNAME: inv.ifName } : {}),
    CNI_ARGS: cniArgs(inv),
    ...(inv.env ?? {}),
  };
  const started = process.hrtime.bigint();
  // Plugins may run long under load (100 at once in the IPAM tests); a hung one still ends.
  const run = await execTool(exe, [], { netns: inv.hostNetns, input: JSON.stringify(inv.config), env, cleanEnv: true, timeoutMs: 120_000 });
  let json: Record<string, unknown> | undefined;
  try {
    json = run.stdout.trim() ? (JSON.parse(run.stdout) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return {
    exitCode: run.code ?? 128,
    signal: run.signal,
    stdout: run.stdout,
    stderr: run.stderr,
    json,
    durationMs: Number(process.hrtime.bigint() - started) / 1e6,
  };
}

/** Like runCni, but throws with the plugin's error JSON when it fails. */
export async function runCniOk(inv: CniInvocation): Promise<CniOutcome> {
  const outcome = await runCni(inv);
  if (outcome.exitCode !== 0) {
    throw new Error(`${inv.plugin} ${inv.command} failed (exit ${outcome.exitCode}): ${outcome.stdout.trim() || outcome.stderr.trim()}`);
  }
  return outcome;
}
