/**
 * Delegation to an IPAM plugin executable found on CNI_PATH, as the spec describes for a plugin
 * whose config has an `ipam` section of a type it does not serve itself: same environment with
 * CNI_COMMAND set, the same configuration bytes on stdin, the result (or error JSON) on stdout.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execTool, ExecError } from '../kernel/exec';
import { formatCniArgs } from './env';
import type { AttachmentRequest, Command } from './plugin';
import { CniError, ErrorCode, PLUGIN_FAILURE, type Result } from './types';
import { resultFromJson } from './version';

/** A delegated plugin that hangs must not hang the pod's sandbox creation forever. */
const DELEGATE_TIMEOUT_MS = 60_000;

/** The first executable named `type` in the CNI_PATH directories, as runtimes look plugins up. */
export function findPlugin(type: string, cniPath: readonly string[]): string {
  if (type.includes('/') || type === '.' || type === '..') {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `invalid plugin type ${JSON.stringify(type)}`);
  }
  for (const dir of cniPath) {
    const candidate = path.join(dir, type);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(ErrorCode.InvalidNetworkConfig, `failed to find plugin ${JSON.stringify(type)} in path [${cniPath.join(' ')}]`);
}

/** Turns a delegated plugin's failure into the CniError it reported, or a description of the crash. */
function failureOf(type: string, code: number | null, stdout: string, stderr: string): CniError {
  try {
    const json = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof json.code === 'number' && typeof json.msg === 'string') {
      return new CniError(json.code, json.msg, typeof json.details === 'string' ? json.details : undefined);
    }
  } catch {
    // not error JSON: describe the exit instead
  }
  const why = code === null ? 'was killed' : `exited with status ${code}`;
  const output = (stderr.trim() || stdout.trim()).slice(0, 500);
  return new CniError(PLUGIN_FAILURE, `IPAM plugin ${type} ${why}${output ? `: ${output}` : ''}`);
}

/**
 * Runs the IPAM plugin of `req.config.ipam.type` for `command`. ADD resolves with its result in
 * the current version's form; DEL and CHECK resolve with undefined.
 */
export async function delegateIpam(command: 'ADD', req: AttachmentRequest): Promise<Result>;
export async function delegateIpam(command: 'DEL' | 'CHECK', req: AttachmentRequest): Promise<void>;
export async function delegateIpam(command: Extract<Command, 'ADD' | 'DEL' | 'CHECK'>, req: AttachmentRequest): Promise<Result | void> {
  const type = req.config.ipam?.type;
  if (typeof type !== 'string' || type === '') throw new CniError(ErrorCode.InvalidNetworkConfig, 'ipam.type must be a non-empty string');
  const file = findPlugin(type, req.path);
  let run;
  try {
    run = await execTool(file, [], {
      input: req.rawConfig.toString('utf8'),
      timeoutMs: DELEGATE_TIMEOUT_MS,
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: req.containerId,
        CNI_NETNS: req.netns,
        CNI_IFNAME: req.ifName,
        CNI_ARGS: formatCniArgs(req.args),
        CNI_PATH: req.path.join(':'),
      },
    });
  } catch (err) {
    if (err instanceof ExecError) throw new CniError(ErrorCode.IOFailure, err.message, undefined, { cause: err });
    throw err;
  }
  if (run.code !== 0) throw failureOf(type, run.code, run.stdout, run.stderr);
  if (command !== 'ADD') return;
  let json: unknown;
  try {
    json = JSON.parse(run.stdout);
  } catch (err) {
    throw new CniError(ErrorCode.DecodingFailure, `IPAM plugin ${type} returned no JSON result`, run.stdout.slice(0, 500), { cause: err });
  }
  return resultFromJson(json, String(req.config.cniVersion ?? ''));
}
