/**
 * One kind's list+watch against the API server, built on the client library's ListWatch, which
 * already lists, watches from the list's resourceVersion, resumes from the last resourceVersion
 * when the server ends a watch normally (timeoutSeconds), follows BOOKMARKs, and on 410 Gone
 * lists again and reports the difference (deletes for what vanished, adds and updates for the
 * rest). What it leaves to us, and this module adds:
 *  - any other failure (list refused, 5xx, a connection dropped mid-stream) stops it for good:
 *    we restart it with capped exponential backoff, from the last resourceVersion;
 *  - its watch asks for neither bookmarks nor a timeout, and a server that ends watches at once
 *    would make it reconnect in a tight loop: our Watch adds both parameters and turns a watch
 *    that ends at once, with nothing in it, into a failure (which backs off);
 *  - list responses omit kind/apiVersion, and an item without a usable name would throw inside
 *    it: our list and watch check every object (validateObject) before it gets there, report the
 *    invalid ones, and keep its cache (which is the record of what we delivered) to valid ones;
 *  - on 410 it lists again at once, every time: a server that expires every fresh watch would
 *    get lists in a tight loop; we let the first 410 in a row relist at once, and back off on
 *    the next ones;
 *  - it has no "initial list delivered" signal: its list is processed synchronously just before
 *    it opens the watch, so our Watch being asked to open one right after a list is that signal;
 *  - stop() does not end a list in flight (it would then open a watch): ours aborts the list and
 *    refuses to open watches once stopped;
 *  - an optional kind (served by a CRD most clusters do not install) answers 404 where the CRD
 *    is absent: ours takes that as "no objects", delivered like any list (so that it holds no
 *    one up and deletes what the kind had, the CRD having been removed), opens no watch, and
 *    lists again every absentRecheckMs, so that a CRD installed later is picked up. A watch of
 *    it answered 404 (the CRD removed while watched) lists again to find out.
 */
import { IsomorphicFetchHttpLibrary, ListWatch, Watch, type KubernetesListObject } from '@kubernetes/client-node';
import { isClusterScoped, type KubeObject, type WatchedKind } from '../objects';
import type { SourceKubeConfig } from './kube-config';
import { checkListed, describeError, KIND_PATHS, listKind, StatusError, statusOf } from './kube-list';

export { KIND_PATHS } from './kube-list';

export interface KindWatchOptions {
  /** Seconds the server keeps one watch open; a function so each watch can draw its own. */
  watchTimeoutSeconds: () => number;
  backoff: { initialMs: number; maxMs: number };
  listTimeoutMs: number;
  /** How often an optional kind that is not served (its CRD not installed) is listed again. */
  absentRecheckMs: number;
}

export interface KindWatchEvents {
  object(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject): void;
  skipped(where: string, reason: string): void;
  restarted(reason: string): void;
  /** The kind's list (the first, or a relist) has been delivered. */
  listed(): void;
  /** An optional kind is not served (404), or is served again after that: once per change. */
  served(served: boolean, detail: string): void;
}

/** A watch that ends normally this soon, with no event in it, counts as a failure (it backs off). */
const SHORT_WATCH_MS = 250;
/** A watch still open this long after its timeoutSeconds is presumed to be on a dead connection. */
const WATCH_DEADLINE_GRACE_MS = 30_000;

/** What ListWatch's watch callback takes: one phase and one object per event. */
type WatchCallback = (phase: string, object: unknown) => void;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isGone(err: unknown): boolean {
  return isRecord(err) && (err.statusCode === 410 || err.code === 410);
}

function resourceVersionOf(obj: unknown): string | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata)) return undefined;
  const rv = obj.metadata.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

export class KindWatch {
  private readonly listWatch: ListWatch<KubeObject>;
  private readonly http = new IsomorphicFetchHttpLibrary();
  /** Aborts lists in flight on stop(). */
  private readonly abort = new AbortController();
  /** Cleanups of the timers of open watches (deadlines, delayed relists), run by stop(). */
  private readonly openWatches = new Set<() => void>();
  private stopped = false;
  private started = false;
  /** A list has been returned to ListWatch; the next watch it opens means the list was delivered. */
  private listReturned = false;
  /** Failures since the server last served us (a list or a watch event): the backoff's exponent. */
  private failures = 0;
  /**
   * 410s since a watch last made progress. The first relists at once (as ListWatch does); more
   * in a row back off, so that a server that expires every fresh watch is not hammered by lists.
   */
  private gones = 0;
  private retryTimer?: NodeJS.Timeout;
  /**
   * Whether the API server serves the kind, as last found: undefined until a list says it is
   * not (only optional kinds are ever not served), false while it is not.
   */
  private served?: boolean;

  constructor(
    readonly kind: WatchedKind,
    private readonly kc: SourceKubeConfig,
    private readonly options: KindWatchOptions,
    private readonly events: KindWatchEvents,
  ) {
    const { path } = KIND_PATHS[kind];
    this.listWatch = new ListWatch<KubeObject>(path, new GuardedWatch(kc, this), () => this.list(), false);
    this.listWatch.on('add', (o) => this.events.object('ADDED', o));
    this.listWatch.on('update', (o) => this.events.object('MODIFIED', o));
    this.listWatch.on('delete', (o) => this.events.object('DELETED', o));
    this.listWatch.on('error', (err: unknown) => this.failed(err));
  }

  /** Lists and starts watching; resolves after the first attempt, successful or not (failures retry). */
  async start(): Promise<void> {
    if (this.started) throw new Error(`${this.kind} watch already started`);
    this.started = true;
    await this.listWatch.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.abort.abort();
    await this.listWatch.stop();
    for (const cleanup of this.openWatches) cleanup();
    this.openWatches.clear();
  }

  /** The resourceVersion the next watch would start from ('' before the first list). */
  get resourceVersion(): string {
    return this.listWatch.latestResourceVersion();
  }

  // --- called by GuardedWatch ---------------------------------------------------------------

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * The last list found the kind not served: ListWatch, which has just delivered that empty
   * list, must not open a watch (it would get 404 too); the kind is listed again later instead.
   */
  notServedRecheck(): boolean {
    if (this.served !== false) return false;
    this.later(this.options.absentRecheckMs, () => this.listWatch.start().catch((e: unknown) => this.failed(e)));
    return true;
  }

  /** ListWatch is about to open a watch: if it just listed, that list has been delivered. */
  watchOpening(): void {
    if (!this.listReturned) return;
    this.listReturned = false;
    this.events.listed();
  }

  watchParams(): Record<string, string | number | boolean> {
    return { allowWatchBookmarks: true, timeoutSeconds: this.options.watchTimeoutSeconds() };
  }

  deadlineMs(params: Record<string, string | number | boolean | undefined>): number {
    return Number(params.timeoutSeconds) * 1000 + WATCH_DEADLINE_GRACE_MS;
  }

  trackWatch(cleanup: () => void): () => void {
    this.openWatches.add(cleanup);
    return () => this.openWatches.delete(cleanup);
  }

  /** A watch delivered an object or a bookmark, or ran its course. */
  watchProgressed(): void {
    this.failures = 0;
    this.gones = 0;
  }

  /**
   * A watch ended: what ListWatch should be told, and after how long. 410 Gone it handles
   * itself (it lists again); other errors reach its error callback (our backoff); null resumes.
   */
  watchEnded(err: unknown, durationMs: number, events: number): { err: unknown; delayMs: number } {
    if (this.stopped) return { err, delayMs: 0 };
    const rv = this.resourceVersion;
    if (err && isGone(err)) {
      const delayMs = this.gones++ === 0 ? 0 : this.backoff(this.gones - 2);
      this.events.restarted(`resourceVersion ${rv} is too old (410 Gone): listing again${delayMs ? ` in ${delayMs} ms` : ''}`);
      return { err, delayMs };
    }
    if (err && this.optional && statusOf(err) === 404) {
      // The CRD was removed while watched. ListWatch lists again only after a 410: said so, it
      // relists, and the list finds out (not served: its objects are deleted). Counted with
      // the 410s, so that a server whose lists and watches disagree is not hammered.
      const delayMs = this.gones++ === 0 ? 0 : this.backoff(this.gones - 2);
      return { err: new StatusError(`watch at resourceVersion ${rv}: HTTP 404, the resource is no longer served`, 410), delayMs };
    }
    if (err) return { err: new StatusError(`watch at resourceVersion ${rv} failed: ${describeError(err)}`, statusOf(err)), delayMs: 0 };
    if (durationMs < SHORT_WATCH_MS && events === 0) return { err: new Error(`the server ended the watch at once (after ${durationMs} ms, no events)`), delayMs: 0 };
    this.watchProgressed();
    return { err: null, delayMs: 0 };
  }

  /** Runs `fn` after `ms`, unless stopped first. */
  later(ms: number, fn: () => void): void {
    let timer: NodeJS.Timeout | undefined;
    const untrack = this.trackWatch(() => clearTimeout(timer));
    timer = setTimeout(() => {
      untrack();
      if (!this.stopped) fn();
    }, ms);
  }

  /**
   * Checks one object from a watch event or a list: a valid one goes on (with kind and
   * apiVersion set, which list items lack); an invalid one is reported, and ListWatch gets
   * what keeps its cache and resourceVersion right: the deletion of the valid version it holds,
   * or a bookmark.
   */
  guard(phase: string, raw: unknown, where: string): { phase: string; object: unknown } | undefined {
    if (phase === 'BOOKMARK') return { phase, object: raw };
    const checked = checkListed(this.kind, raw);
    if (checked.ok) return { phase, object: checked.object };
    this.events.skipped(this.describe(raw, where), checked.reason);
    const rv = resourceVersionOf(raw);
    const id = this.identity(raw);
    const previous = id ? this.listWatch.get(id.name, id.namespace) : undefined;
    if (previous) return { phase: 'DELETED', object: { ...previous, metadata: { ...previous.metadata, resourceVersion: rv ?? previous.metadata.resourceVersion } } };
    return rv ? { phase: 'BOOKMARK', object: { metadata: { resourceVersion: rv } } } : undefined;
  }

  // --- internals --------------------------------------------------------------------------------

  private get optional(): boolean {
    return KIND_PATHS[this.kind].optional === true;
  }

  /** Name and namespace as ListWatch keys them, when the object has a usable identity. */
  private identity(raw: unknown): { name: string; namespace?: string } | undefined {
    if (!isRecord(raw) || !isRecord(raw.metadata) || typeof raw.metadata.name !== 'string') return undefined;
    const ns = raw.metadata.namespace;
    if (isClusterScoped(this.kind)) return { name: raw.metadata.name };
    if (ns !== undefined && typeof ns !== 'string') return undefined;
    return { name: raw.metadata.name, namespace: ns ?? 'default' };
  }

  private describe(raw: unknown, where: string): string {
    const id = this.identity(raw);
    if (!id) return `${this.kind} (${where}, no usable name)`;
    return id.namespace ? `${this.kind} ${id.namespace}/${id.name}` : `${this.kind} ${id.name}`;
  }

  private async list(): Promise<KubernetesListObject<KubeObject>> {
    if (this.stopped) throw new Error('stopped');
    const listed = await listKind(this.kc, this.http, this.kind, AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.listTimeoutMs)]));
    if (!listed.served) return this.notServed(listed.message);
    const items: KubeObject[] = [];
    listed.items.forEach((item: unknown, i: number) => {
      const guarded = this.guard('ADDED', item, `list item ${i}`);
      if (guarded?.phase === 'ADDED') items.push(guarded.object as KubeObject);
    });
    // The server serves us again; a fresh list is no progress of the watch (see gones).
    this.failures = 0;
    this.listReturned = true;
    if (this.served === false) {
      this.served = true;
      this.events.served(true, `${KIND_PATHS[this.kind].path} is served`);
    }
    return { metadata: { resourceVersion: listed.resourceVersion }, items };
  }

  /**
   * An optional kind's list answered 404: no objects. The empty list makes ListWatch delete
   * what it held (the CRD was removed); it is delivered (listed(), so SYNCED) the first time
   * and whenever the kind was served before, not on every recheck that finds nothing new.
   */
  private notServed(message: string): KubernetesListObject<KubeObject> {
    this.failures = 0;
    this.gones = 0;
    this.listReturned = this.served !== false;
    if (this.served !== false) {
      this.served = false;
      this.events.served(false, `${KIND_PATHS[this.kind].path}: HTTP 404 ${message}`);
    }
    return { metadata: { resourceVersion: '' }, items: [] };
  }

  /** The delay before attempt `n` (from 0): initial, doubling, capped, plus up to 20% jitter to spread many agents' retries. */
  private backoff(n: number): number {
    const { initialMs, maxMs } = this.options.backoff;
    return Math.round(Math.min(initialMs * 2 ** n, maxMs) * (1 + Math.random() * 0.2));
  }

  /** ListWatch gave up (a list or watch failed): report, and start it again after a backoff. */
  private failed(err: unknown): void {
    this.listReturned = false;
    if (this.stopped) return;
    const delay = this.backoff(this.failures++);
    this.events.restarted(`${describeError(err)}; retrying in ${delay} ms`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.stopped) return;
      // Resumes from the last resourceVersion; lists first when there is none yet.
      this.listWatch.start().catch((e: unknown) => this.failed(e));
    }, delay);
  }
}

/**
 * The client's Watch, with what ListWatch does not ask for (bookmarks, a server-side timeout, a
 * deadline for dead connections) and every event checked by the KindWatch before ListWatch
 * sees it.
 */
class GuardedWatch extends Watch {
  constructor(
    config: SourceKubeConfig,
    private readonly owner: KindWatch,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const owner = this.owner;
    if (owner.isStopped) {
      // A list finished after stop(): ListWatch would open a watch nobody wants.
      const controller = new AbortController();
      controller.abort();
      return controller;
    }
    owner.watchOpening();
    if (owner.notServedRecheck()) {
      const controller = new AbortController();
      controller.abort();
      return controller;
    }
    const params = { ...queryParams, ...owner.watchParams() };
    const began = Date.now();
    let events = 0;
    let ended = false;
    /** Why we cut the watch ourselves (an ERROR event, the deadline), reported instead of the abort. */
    let failure: Error | undefined;
    let controller: AbortController | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const cleanup = () => clearTimeout(deadline);
    const untrack = owner.trackWatch(cleanup);
    const cut = (why: Error) => {
      failure ??= why;
      controller?.abort();
    };

    const onEvent = (phase: string, object: unknown) => {
      events++;
      if (phase === 'ERROR') {
        // A metav1.Status; ListWatch would note a 410 and wait for the server to close. We end
        // the watch ourselves, so the relist (410) or the backoff (anything else) starts now.
        const code = isRecord(object) && typeof object.code === 'number' ? object.code : undefined;
        const message = isRecord(object) && typeof object.message === 'string' ? object.message : 'watch error';
        cut(new StatusError(`watch error: ${message}`, code));
        return;
      }
      owner.watchProgressed();
      const guarded = owner.guard(phase, object, `${phase} event`);
      if (guarded) callback(guarded.phase, guarded.object);
    };
    const onDone = (err: unknown) => {
      if (ended) return;
      ended = true;
      cleanup();
      untrack();
      const verdict = owner.watchEnded(failure ?? err ?? null, Date.now() - began, events);
      if (verdict.delayMs > 0) owner.later(verdict.delayMs, () => done(verdict.err));
      else done(verdict.err);
    };

    controller = await super.watch(path, params, onEvent, onDone);
    if (owner.isStopped || failure) controller.abort();
    else if (!ended) deadline = setTimeout(() => cut(new Error('the watch outlived its timeout: connection presumed dead')), owner.deadlineMs(params));
    return controller;
  }
}
