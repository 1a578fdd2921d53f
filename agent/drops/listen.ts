/**
 * The agent's reader of its node's drop log: an NFLOG socket on DROP_LOG_GROUP in the agent's
 * network namespace (its node's), feeding a PolicyDropLog. Not being able to listen (another
 * program holds the group, no NFLOG in the kernel) leaves policy enforcement as it is: only
 * weftctl policy drops has nothing to show, and says why.
 */
import { openNflog, type NflogListener } from '../../kernel/nflog';
import { PolicyDropLog, type DropNamer } from './drop-log';
import { DROP_LOG_GROUP } from './log-rules';

export interface PolicyDrops {
  readonly log: PolicyDropLog;
  /** Why the drop log cannot be read; undefined while listening. */
  readonly unavailable?: string;
  close(): void;
}

export interface ListenOptions {
  name: DropNamer;
  /** Network namespace to listen in; the process's own (the agent runs in its node's) when absent. */
  netns?: string;
  group?: number;
  capacity?: number;
  /** Errors of the socket after it was bound. */
  onError?: (err: Error) => void;
}

export async function listenForPolicyDrops(options: ListenOptions): Promise<PolicyDrops> {
  const log = new PolicyDropLog({ name: options.name, ...(options.capacity !== undefined ? { capacity: options.capacity } : {}) });
  let listener: NflogListener;
  try {
    listener = await openNflog({ group: options.group ?? DROP_LOG_GROUP, ...(options.netns !== undefined ? { netns: options.netns } : {}) }, (packet) => log.record(packet), options.onError);
  } catch (err) {
    return { log, unavailable: (err as Error).message, close: () => undefined };
  }
  return { log, close: () => listener.close() };
}
