/**
 * Everything a bench run creates outside its own process, in one registry: named namespaces
 * (weft-bench-*), temporary directories, child processes and labs. Benches remove what they made
 * in their own `finally`, which also takes it off the registry; what is still registered when
 * the run is interrupted (SIGINT, SIGTERM) or exits is removed here.
 *
 * Order matters: a namespace outlives its pin while a process is inside it, so the processes go
 * first (those started here, then any inside the bench's namespaces), then the labs (which stop
 * their own agents and remove their namespaces), then the namespaces and directories.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createNamedNetns, deleteNamedNetns } from '../kernel/netns';
import { labDown, sweepLabNamespaces } from '../lab/cluster/down';
import { processesIn, sweepProcesses } from '../lab/cluster/processes';

const namespaces = new Set<string>();
const dirs = new Set<string>();
const children = new Set<ChildProcess>();
const teardowns = new Set<() => Promise<unknown>>();
/** Set once an interrupt began: nothing new may be created while the registry is emptied. */
let stopping = false;

/** How long a lab's own teardown may take before its namespaces are swept without it. */
const LAB_TEARDOWN_MS = 10_000;

function refuseWhenStopping(): void {
  if (stopping) throw new Error('the bench run was interrupted');
}

/** createNamedNetns, registered. */
export function createBenchNetns(name: string): string {
  refuseWhenStopping();
  const pin = createNamedNetns(name);
  namespaces.add(pin);
  return pin;
}

/** deleteNamedNetns, unregistered. */
export function deleteBenchNetns(pin: string): void {
  deleteNamedNetns(pin);
  namespaces.delete(pin);
}

/** A new directory `<tmp>/<prefix>XXXXXX`, registered. */
export function makeBenchDir(prefix: string): string {
  refuseWhenStopping();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeBenchDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** A child process to kill if the run is interrupted before it ends; unregistered when it exits. */
export function trackChild<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A teardown to run if the run is interrupted; returns the function that unregisters it. */
export function onInterrupt(teardown: () => Promise<unknown>): () => void {
  teardowns.add(teardown);
  return () => teardowns.delete(teardown);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A lab under `root`, removed with `lab down` if the run is interrupted. Should that not finish
 * (an interrupted `lab up` holds the lab's lock, and goes on meanwhile), or leave anything, the
 * lab's namespaces are swept by name afterwards, with every process inside.
 */
export function trackLab(name: string, root: string): () => void {
  return onInterrupt(async () => {
    await withTimeout(labDown(name, root), LAB_TEARDOWN_MS).catch(() => undefined);
    await sweepLabNamespaces(name);
  });
}

/** What is registered now (for tests and the interrupt message). */
export function registered(): { namespaces: string[]; dirs: string[]; children: number; teardowns: number } {
  return { namespaces: [...namespaces], dirs: [...dirs], children: children.size, teardowns: teardowns.size };
}

function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

function removeNamespacesAndDirs(): void {
  for (const pin of [...namespaces]) {
    try {
      deleteBenchNetns(pin);
    } catch (err) {
      process.stderr.write(`bench cleanup: cannot remove ${pin}: ${String(err)}\n`);
    }
  }
  for (const dir of [...dirs]) removeBenchDir(dir);
}

/** Removes everything registered: processes, labs, namespaces, directories. */
export async function cleanupAll(): Promise<void> {
  stopping = true;
  killChildren();
  await sweepProcesses([...namespaces]);
  for (const teardown of [...teardowns]) {
    teardowns.delete(teardown);
    await teardown().catch((err: unknown) => process.stderr.write(`bench cleanup: ${String(err)}\n`));
  }
  removeNamespacesAndDirs();
}

/** cleanupAll without waiting (for the 'exit' event, where nothing asynchronous runs): labs are left to `weftctl lab down`. */
export function cleanupNow(): void {
  stopping = true;
  killChildren();
  for (const pid of processesIn([...namespaces])) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  removeNamespacesAndDirs();
}

const EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Cleans up on SIGINT and SIGTERM (then exits 130 or 143) and on exit. A second signal while
 * cleaning up stops waiting for labs and exits at once.
 */
export function installCleanup(): void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = EXIT_CODES[signal] ?? 1;
    if (interrupted) {
      cleanupNow();
      process.exit(code);
    }
    interrupted = true;
    const r = registered();
    process.stderr.write(`\n${signal}: removing what the bench created (${r.namespaces.length} namespaces, ${r.dirs.length} directories, ${r.teardowns} labs, ${r.children} processes)\n`);
    void cleanupAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', cleanupNow);
}

/** True once an interrupt began (a bench failing then is failing because of it). */
export function interrupted(): boolean {
  return stopping;
}
