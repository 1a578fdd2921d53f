/**
 * Shared by the lab tests: lab names of this test run (which the clean-up after the run sweeps,
 * see test/helpers/cleanup.ts), a temporary state root, weftctl run as a real process, and what
 * a lab may have left behind (namespaces, processes, files).
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { labDown } from '../../lab/cluster/down';
import { isLabNetns } from '../../lab/cluster/names';
import { listNamedNetns } from '../../kernel/netns';
import { tempDir } from '../helpers/tmp';
import { childEnv } from '../../lab/child-env';

export const WEFTCTL = path.join(__dirname, '..', '..', 'cli', 'weftctl.js');

/** Lab names of one test run (`t-<run>-...`). */
export function runLabPrefix(run = process.env.WEFT_TEST_RUN ?? 'adhoc'): string {
  return `t-${run}-`;
}

/** A unique lab name of this run, short enough for every derived name. */
export function labName(label: string): string {
  return `${runLabPrefix()}${label}${crypto.randomBytes(2).toString('hex')}`.slice(0, 24).replace(/-$/, '');
}

/** A state root for the test, and `lab down` of `lab` at teardown (which also runs after a failure). */
export function labRoot(t: ExecutionContext, ...labs: string[]): string {
  const root = tempDir(t, 'lab');
  // Registered after tempDir's removal, so it runs first (ava runs teardowns in reverse).
  t.teardown(async () => {
    for (const lab of labs) await labDown(lab, root);
  });
  return root;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli/weftctl.js ARGS` with the lab root in WEFT_LAB_ROOT. */
export function weftctl(root: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = childEnv({ WEFT_LAB_ROOT: root });
    const child = spawn(process.execPath, [WEFTCTL, ...args], { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Like weftctl, but fails the test with the output when the exit code is not 0. */
export async function weftctlOk(t: ExecutionContext, root: string, args: string[], input?: string): Promise<string> {
  const run = await weftctl(root, args, input);
  if (run.code !== 0) t.fail(`weftctl ${args.join(' ')} exited ${run.code}: ${run.stderr}${run.stdout}`);
  return run.stdout;
}

/** Processes whose command line mentions the lab's state directory (agents, pod servers). */
export function processesOf(root: string, lab: string): number[] {
  const dir = path.join(root, lab);
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

export interface Leftovers {
  namespaces: string[];
  processes: number[];
  files: string[];
}

export function leftovers(root: string, lab: string): Leftovers {
  const files = fs.existsSync(root) ? fs.readdirSync(root).filter((f) => f === lab || f === `.${lab}.lock`) : [];
  return { namespaces: listNamedNetns().filter((n) => isLabNetns(lab, n)), processes: processesOf(root, lab), files };
}

export const nothingLeft: Leftovers = { namespaces: [], processes: [], files: [] };

export type Matrix = Record<string, Record<string, boolean>>;

/** The pairs of a probe matrix that are on the same node (client != server). */
export function sameNodePairs(pods: { namespace: string; name: string; node: string }[]): [string, string][] {
  const key = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;
  return pods.flatMap((a) => pods.filter((b) => b !== a && b.node === a.node).map((b) => [key(a), key(b)] as [string, string]));
}
