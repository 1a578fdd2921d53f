/**
 * The Kubernetes API as an object source: lists and watches the kinds weft-agent consumes, in
 * all namespaces, one KindWatch each (the client library's ListWatch, hardened; see
 * kube-watch.ts), and announces SYNCED once every kind's initial list has been delivered, and
 * again after each later relist (410 Gone), when that kind's state has converged. A kind whose
 * CRD is not installed (ClusterNetworkPolicy, in most clusters) counts as listed, with no objects.
 */
import { WATCHED_KINDS, type WatchedKind } from '../objects';
import { loadKubeConfig, type KubeConfigSource, type SourceKubeConfig } from './kube-config';
import { KindWatch, type KindWatchOptions } from './kube-watch';
import type { ObjectSource, SourceEvent } from './source';

export interface KubeSourceOptions extends KubeConfigSource {
  /**
   * Seconds the API server keeps one watch open before ending it (the watch then resumes from
   * its last resourceVersion). Default: drawn between 5 and 10 minutes for each watch, as
   * client-go does, so that the watches of many agents do not all end together.
   */
  watchTimeoutSeconds?: number;
  /** Delay before retrying a failed list or watch: starts at initialMs, doubles up to maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  /** Limit for one list request. */
  listTimeoutMs?: number;
  /** How often a kind whose CRD is not installed is looked for again (default 60 s). */
  absentRecheckMs?: number;
}

const DEFAULT_BACKOFF = { initialMs: 200, maxMs: 10_000 };
const DEFAULT_LIST_TIMEOUT_MS = 60_000;
const DEFAULT_ABSENT_RECHECK_MS = 60_000;

export class KubeSource implements ObjectSource {
  readonly description: string;
  private readonly kc: SourceKubeConfig;
  private readonly options: KindWatchOptions;
  private watches: KindWatch[] = [];
  private readonly listed = new Set<WatchedKind>();
  private synced = false;
  private started = false;

  constructor(options: KubeSourceOptions = {}) {
    this.kc = loadKubeConfig(options);
    this.description = `kube ${this.kc.server}`;
    const fixed = options.watchTimeoutSeconds;
    this.options = {
      watchTimeoutSeconds: fixed !== undefined ? () => fixed : () => 300 + Math.floor(Math.random() * 300),
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      listTimeoutMs: options.listTimeoutMs ?? DEFAULT_LIST_TIMEOUT_MS,
      absentRecheckMs: options.absentRecheckMs ?? DEFAULT_ABSENT_RECHECK_MS,
    };
  }

  /** Starts every kind's watch; resolves once each has made its first attempt (failures keep retrying). */
  async start(onEvent: (event: SourceEvent) => void): Promise<void> {
    if (this.started) throw new Error(`${this.description}: already started`);
    this.started = true;
    this.watches = WATCHED_KINDS.map(
      (kind) =>
        new KindWatch(kind, this.kc, this.options, {
          object: (type, object) => onEvent({ type, object }),
          skipped: (where, reason) => onEvent({ type: 'SKIPPED', where, reason }),
          restarted: (reason) => onEvent({ type: 'WATCH_RESTARTED', kind, reason }),
          listed: () => this.onListed(kind, onEvent),
          served: (served, detail) => onEvent({ type: 'KIND_SERVED', kind, served, detail }),
        }),
    );
    await Promise.all(this.watches.map((w) => w.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.watches.map((w) => w.stop()));
    // Cuts whatever is still connecting (a watch waiting for its response headers).
    this.kc.destroyConnections();
  }

  private onListed(kind: WatchedKind, onEvent: (event: SourceEvent) => void): void {
    this.listed.add(kind);
    if (this.synced) {
      onEvent({ type: 'SYNCED' });
    } else if (this.listed.size === WATCHED_KINDS.length) {
      this.synced = true;
      onEvent({ type: 'SYNCED' });
    }
  }
}
