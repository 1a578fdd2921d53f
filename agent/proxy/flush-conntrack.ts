/**
 * Runs the deletions stale-conntrack.ts computes, once the rules they depend on are in the
 * kernel: deleting an entry before the new rules are there would let the next packet be
 * DNATed by the old ones again.
 */
import type { ConntrackDeleter } from '../../kernel/conntrack';
import type { ServiceState } from '../dataplane/service-state';
import { staleConntrackDeletions, type ConntrackDeletion } from './stale-conntrack';

export interface ConntrackFlushResult {
  /** The deletions asked for. */
  deletions: ConntrackDeletion[];
  /** Entries deleted, over all deletions. */
  deleted: number;
  /** Deletions that failed (logged by the caller; not retried: the next change brings its own). */
  failures: { deletion: ConntrackDeletion; error: Error }[];
}

/**
 * Deletes the entries `next` makes stale after `previous` (see stale-conntrack.ts), one
 * deletion at a time (each is a scan of the whole table): never throws, failures are returned.
 */
export async function flushStaleConntrack(previous: ServiceState | undefined, next: ServiceState, conntrack: ConntrackDeleter): Promise<ConntrackFlushResult> {
  const deletions = staleConntrackDeletions(previous, next);
  const result: ConntrackFlushResult = { deletions, deleted: 0, failures: [] };
  for (const deletion of deletions) {
    try {
      result.deleted += await conntrack.delete(deletion);
    } catch (err) {
      result.failures.push({ deletion, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }
  return result;
}
