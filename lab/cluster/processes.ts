/**
 * The lab's processes (agents, pod servers, whatever `lab exec` left running): started detached
 * inside a namespace, and stopped either by recorded pid -- only after /proc/PID/cmdline shows it
 * is still the process the lab started (pids are reused) -- or by sweeping every process whose
 * network namespace is one of the lab's.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import { inNetns, netnsId } from '../../kernel/netns';
import { childEnv } from '../child-env';

/**
 * Spawns a process inside the namespace, in a session of its own (detached), so it outlives
 * weftctl and a Ctrl-C on weftctl's terminal does not reach it.
 */
export function spawnDetachedIn(netns: string, file: string, args: string[], stdio: StdioOptions, env = childEnv()): ChildProcess {
  return inNetns(netns, () => spawn(file, args, { detached: true, stdio, env }));
}

/** The process's argv, or undefined when it is gone. */
export function cmdlineOf(pid: number): string[] | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw === '' ? undefined : raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** True when pid runs and its argv contains every marker (a program path, a socket path). */
export function isOurs(pid: number, markers: string[]): boolean {
  const argv = cmdlineOf(pid);
  if (!argv) return false;
  // A zombie keeps no cmdline; /proc/PID/cmdline of an exited child is "" (handled above).
  return markers.every((m) => argv.some((a) => a === m || a.endsWith(m)));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    return false;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until every pid has exited (or is a zombie), up to `timeoutMs`; returns those left. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(25);
    left = left.filter(alive);
  }
  return left;
}

/**
 * Stops the recorded processes that are still ours: SIGTERM, then SIGKILL for any that did not
 * exit within `graceMs`.
 */
export async function stopRecorded(procs: { pid: number; markers: string[] }[], graceMs = 3000): Promise<void> {
  const ours = procs.filter((p) => p.pid > 1 && p.pid !== process.pid && isOurs(p.pid, p.markers)).map((p) => p.pid);
  for (const pid of ours) signal(pid, 'SIGTERM');
  const left = await waitGone(ours, graceMs);
  for (const pid of left) signal(pid, 'SIGKILL');
  await waitGone(left, 2000);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Pids of every process whose network namespace is one of `netnsPaths`. */
export function processesIn(netnsPaths: string[]): number[] {
  const inodes = new Set<string>();
  for (const p of netnsPaths) {
    try {
      inodes.add(`net:[${netnsId(p)}]`);
    } catch {
      // namespace already gone
    }
  }
  if (inodes.size === 0) return [];
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      if (inodes.has(fs.readlinkSync(`/proc/${pid}/ns/net`))) found.push(pid);
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return found;
}

/** Kills (SIGKILL) every process inside the namespaces, until none is left. */
export async function sweepProcesses(netnsPaths: string[]): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 20; round++) {
    const pids = processesIn(netnsPaths).filter(alive);
    if (pids.length === 0) return killed;
    for (const pid of pids) signal(pid, 'SIGKILL');
    killed += pids.length;
    await waitGone(pids, 2000);
  }
  const left = processesIn(netnsPaths).filter(alive);
  if (left.length > 0) throw new Error(`processes ${left.join(', ')} in the lab's namespaces do not exit`);
  return killed;
}
