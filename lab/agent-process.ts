/**
 * Runs the real weft-agent executable (dist/agent/main.js) as a process inside a network
 * namespace (a lab node, a test's or a benchmark's namespace), and waits for it to be ready
 * through its own gRPC API: the way an operator sees it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createAgentClient } from '../agent/api/client';
import type { AgentStatus } from '../agent/api/messages';
import { inNetns } from '../kernel/netns';
import { childEnv } from './child-env';

export const AGENT_MAIN = path.join(__dirname, '..', 'agent', 'main.js');

export interface AgentProcess {
  child: ChildProcess;
  socket: string;
  /** Everything it logged so far (pino JSON lines on stdout, anything on stderr). */
  output(): string;
  /** Log lines parsed (non-JSON lines dropped). */
  logs(): Record<string, unknown>[];
  status(): Promise<AgentStatus>;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash), when still running. */
  kill(): Promise<void>;
  /** Resolves with the exit code once it exited and its output is complete. */
  exited(): Promise<number | null>;
}

/** Starts `weft-agent --socket SOCKET ARGS...` inside `netns`, its output captured. */
export function spawnAgent(netns: string, args: string[], socket: string): AgentProcess {
  const child = inNetns(netns, () => spawn(process.execPath, [AGENT_MAIN, '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() }));
  let output = '';
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  // 'close' comes after the output streams ended: output() is complete by then.
  const closed = once(child, 'close').then(() => child.exitCode);
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    socket,
    output: () => output,
    logs: () =>
      output.split('\n').flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    async status() {
      const client = createAgentClient(socket, 2000);
      try {
        return await client.status();
      } finally {
        client.close();
      }
    },
    async stop() {
      if (!running()) return child.exitCode;
      child.kill('SIGTERM');
      return closed;
    },
    async kill() {
      if (!running()) return;
      child.kill('SIGKILL');
      await closed;
    },
    exited: () => closed,
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Waits until the agent reports itself ready (sources synced, a sync in the kernel). The
 * deadline allows for a machine busy with many agents starting at once (CI on 2 cores).
 */
export async function waitReady(agent: AgentProcess, ms = 30_000): Promise<AgentStatus> {
  return eventually(
    'the agent to be ready',
    async () => {
      if (agent.child.exitCode !== null) throw new Error(`agent exited with ${agent.child.exitCode}: ${agent.output().slice(-2000)}`);
      const s = await agent.status();
      return s.ready ? s : undefined;
    },
    ms,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nagent output:\n${agent.output().slice(-2000)}`);
  });
}
