/**
 * What every object source (Kubernetes API, manifests directory) delivers to the agent: the
 * objects as a stream of events, a "synced" mark once the initial state is complete (the agent
 * applies nothing before it, so a restart never programs a partial state), and reports of
 * objects or files it had to skip.
 */
import type { KubeObject, WatchedKind } from '../objects';

export type SourceEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject }
  /** The initial state has been delivered (and, after a relist, again). */
  | { type: 'SYNCED' }
  /** Something was skipped; everything else keeps flowing. */
  | { type: 'SKIPPED'; where: string; reason: string }
  /** A watch ended abnormally and was restarted (relist after 410 Gone, dropped connection...). */
  | { type: 'WATCH_RESTARTED'; kind: WatchedKind; reason: string }
  /**
   * An optional kind (one a CRD serves, which a cluster may not install) stopped or started being
   * served: said once per change, not on every check. While it is not served it has no objects.
   */
  | { type: 'KIND_SERVED'; kind: WatchedKind; served: boolean; detail: string };

export interface ObjectSource {
  /** A name for logs and status ("manifests /etc/weft/manifests", "kube https://..."). */
  readonly description: string;
  /** Starts delivering events to `onEvent`; resolves once watching has begun. */
  start(onEvent: (event: SourceEvent) => void): Promise<void>;
  stop(): Promise<void>;
}
