/**
 * Runs an IPAM plugin process the way a runtime does (CNI_* environment, configuration on
 * stdin) for the weft-ipam tests: the reference host-local, or weft-ipam through ipam-driver.
 * IPAM plugins touch no network namespace, so no namespace is needed (CNI_NETNS is only a
 * string that must be present).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const HOST_LOCAL = '/usr/lib/cni/host-local';
const DRIVER = path.join(__dirname, 'ipam-driver.js');

export type IpamPluginKind = 'weft-ipam' | 'host-local';

export interface IpamCall {
  plugin: IpamPluginKind;
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC';
  config: object;
  containerId?: string;
  ifName?: string;
  /** CNI_ARGS pairs (IgnoreUnknown=1 is always added, as runtimes do). */
  args?: Record<string, string>;
  env?: Record<string, string>;
}

export interface IpamOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  json?: Record<string, unknown>;
}

export function runIpam(call: IpamCall): Promise<IpamOutcome> {
  const [file, argv] = call.plugin === 'host-local' ? [HOST_LOCAL, []] : [process.execPath, [DRIVER]];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    CNI_COMMAND: call.command,
    CNI_PATH: '/usr/lib/cni',
    CNI_NETNS: '/var/run/netns/weft-t-unused',
    CNI_ARGS: Object.entries({ IgnoreUnknown: '1', ...(call.args ?? {}) }).map(([k, v]) => `${k}=${v}`).join(';'),
    ...(call.containerId !== undefined ? { CNI_CONTAINERID: call.containerId } : {}),
    ...(call.ifName !== undefined ? { CNI_IFNAME: call.ifName } : {}),
    ...(process.env.WEFT_NATIVE_ADDON ? { WEFT_NATIVE_ADDON: process.env.WEFT_NATIVE_ADDON } : {}),
    ...(call.env ?? {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { env, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ exitCode, signal, stdout, json });
    });
    child.stdin.end(JSON.stringify(call.config));
  });
}

/** Runs the call and fails with its output unless it exited 0. */
export async function runIpamOk(call: IpamCall): Promise<IpamOutcome> {
  const outcome = await runIpam(call);
  if (outcome.exitCode !== 0) {
    throw new Error(`${call.plugin} ${call.command} ${call.containerId ?? ''} failed (${outcome.exitCode ?? outcome.signal}): ${outcome.stdout}`);
  }
  return outcome;
}
