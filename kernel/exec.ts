/**
 * Runs a tool (nft, iptables-restore, ...) with text on stdin, optionally inside a network
 * namespace, and collects its output.
 *
 * The process is spawned synchronously inside `inNetns` (fork happens during `spawn`, so the child
 * starts in the namespace) and awaited outside it, so the main thread spends only the fork in the
 * namespace. Output is collected as text; the exit status is returned, never thrown, because each
 * caller turns a failure into its own typed error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { inNetns } from './netns';

/** Where distributions install system tools, searched before PATH. */
const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin', '/bin', '/usr/local/bin'];

/**
 * The absolute path of a system tool such as `nft` or `iptables-restore`, found in the system
 * directories first: under npm, PATH starts with node_modules/.bin, where an unrelated package's
 * command may carry the same name (ava pulls in @vercel/nft, whose CLI is called `nft`).
 * A name containing '/' is taken as given; an unknown name is returned unchanged.
 */
export function systemBinary(name: string): string {
  if (name.includes('/')) return name;
  for (const dir of SYSTEM_DIRS) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return name;
}

export interface ExecOptions {
  /** Namespace path to run in; the current namespace when absent. */
  netns?: string;
  /** Written to stdin, which is then closed. stdin is /dev/null when absent. */
  input?: string;
  /** Kills the process (SIGKILL) after this long; 30 s by default. */
  timeoutMs?: number;
  /** Variables set on top of this process's environment. */
  env?: Readonly<Record<string, string>>;
  /** Start from an empty environment instead of this process's (a runtime gives plugins only what it chooses). */
  cleanEnv?: boolean;
}

export interface ExecResult {
  /** Exit status; null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when `timeoutMs` ran out and the process was killed. */
  timedOut: boolean;
}

/** The program could not be started at all (missing binary, bad namespace). */
export class ExecError extends Error {
  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ExecError';
  }
}

/** Runs `file args` and resolves with its status and output once it has exited. */
export function execTool(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const start = (): ChildProcess =>
    spawn(file, [...args], {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      // A predictable C locale keeps error messages parseable.
      env: { ...(options.cleanEnv ? {} : process.env), LC_ALL: 'C', LANG: 'C', ...options.env },
    });
  const child = options.netns === undefined ? start() : inNetns(options.netns, start);

  return new Promise<ExecResult>((resolve, reject) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);

    child.stdout?.on('data', (b: Buffer) => stdout.push(b));
    child.stderr?.on('data', (b: Buffer) => stderr.push(b));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new ExecError(`cannot run ${file}: ${err.message}`, file, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
      });
    });
    if (options.input !== undefined && child.stdin) {
      // EPIPE when the tool exits before reading everything: its exit status tells the story.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}
