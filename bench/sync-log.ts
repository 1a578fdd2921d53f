/** The agent's "sync applied" log lines, which the sync benchmarks time changes by. */
import { eventually, type AgentProcess } from '../lab/agent-process';
import { quantile } from './stats';

export interface SyncLog {
  /** Unix ms when the line was written: once the kernel transaction returned. */
  time: number;
  changes: number;
  rules: number;
  durationMs: number;
  compileMs: number;
}

export function syncLogs(agent: AgentProcess): SyncLog[] {
  return agent.logs().filter((l) => l.msg === 'sync applied') as unknown as SyncLog[];
}

/**
 * Makes a change (`change` hands an object to the agent's source) and waits for the sync that
 * put it in the kernel: its log line, with `time` from the change to the end of that sync.
 */
export async function changeToKernel(agent: AgentProcess, change: () => void, timeoutMs = 30_000): Promise<SyncLog> {
  const seen = syncLogs(agent).length;
  const t0 = Date.now();
  change();
  const applied = await eventually('the change in the kernel', () => syncLogs(agent).slice(seen).find((l) => l.changes > 0), timeoutMs);
  return { ...applied, time: applied.time - t0 };
}

export const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);
