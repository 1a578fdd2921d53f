/** The agent's "sync applied" log lines, which the sync benchmarks time changes by. */
import type { AgentProcess } from '../lab/agent-process';
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

export const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);
