/**
 * The reconcile loop: whatever triggers it (a source event, an endpoint registered, a timer), it
 * runs one sync at a time over the whole desired state. A trigger after a quiet spell syncs at
 * once (on the next turn of the event loop, so that the events of one delivery go together);
 * later triggers wait until `coalesceMs` after the last sync, so a burst costs few syncs (what
 * kube-proxy's minSyncPeriod does). A trigger during a sync causes exactly one more afterwards;
 * a failed sync is retried with exponential backoff; and a periodic resync reverts changes made
 * behind the agent's back.
 */
import type { ApplyOutcome } from './dataplane/node-state';

/** What a sync did: the kernel outcome, and how long compiling the desired state took. */
export interface SyncOutcome extends ApplyOutcome {
  compileMs?: number;
}

export interface SyncReport extends SyncOutcome {
  durationMs: number;
}

export interface ReconcilerOptions {
  /**
   * Compiles and applies the desired state. `resync` is true for the periodic resync (and the
   * sync after a failure): the kernel is to be read back rather than trusted to hold what was
   * last committed, so that changes made behind the agent's back are reverted.
   */
  sync: (context: { resync: boolean }) => Promise<SyncOutcome>;
  /** The least time from the end of one sync to the start of the next; 20 ms by default. */
  coalesceMs?: number;
  /** First retry delay after a failure, doubled per failure up to maxRetryMs. */
  initialRetryMs?: number;
  maxRetryMs?: number;
  /** Sync this often even when nothing was triggered; 0 disables. 60 s by default. */
  resyncIntervalMs?: number;
  /**
   * While this returns true, triggers are only remembered (the agent holds syncs until every
   * source has delivered its initial state); trigger() again once it turns false.
   */
  held?: () => boolean;
  onSynced?: (report: SyncReport) => void;
  onFailed?: (error: Error, retryInMs: number, durationMs: number) => void;
}

export interface ReconcilerStatus {
  /** Unix ms when the last sync (successful or not) ended; 0 before the first. */
  lastSyncUnixMs: number;
  /** Unix ms when the last successful sync ended; 0 before the first. */
  lastSuccessUnixMs: number;
  lastDurationMs: number;
  /** Message of the last sync's error; empty after a success. */
  lastError: string;
  syncs: number;
  failures: number;
  /** True once a sync has succeeded: the kernel holds the desired state (readiness). */
  everSucceeded: boolean;
}

export class Reconciler {
  readonly status: ReconcilerStatus = { lastSyncUnixMs: 0, lastSuccessUnixMs: 0, lastDurationMs: 0, lastError: '', syncs: 0, failures: 0, everSucceeded: false };
  private readonly coalesceMs: number;
  private readonly initialRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly resyncIntervalMs: number;
  private timer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private pending = false;
  /** The next sync reads the kernel back (periodic resync, or after a failure). */
  private resyncDue = false;
  private consecutiveFailures = 0;
  /** performance.now() when the last sync ended. */
  private lastEnded = -Infinity;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** Syncs started so far; a waiter registered after N started is settled by sync N+1. */
  private started = 0;
  private syncWaiters: { after: number; resolve: () => void; reject: (err: Error) => void }[] = [];

  constructor(private readonly options: ReconcilerOptions) {
    this.coalesceMs = options.coalesceMs ?? 20;
    this.initialRetryMs = options.initialRetryMs ?? 250;
    this.maxRetryMs = options.maxRetryMs ?? 30_000;
    this.resyncIntervalMs = options.resyncIntervalMs ?? 60_000;
  }

  /** Asks for a sync; returns at once. */
  trigger(): void {
    if (this.stopped) return;
    this.pending = true;
    // While a sync runs, or a retry or coalescing timer is set, that one will pick this up.
    if (this.running || this.timer || this.options.held?.()) return;
    this.schedule(Math.max(0, this.lastEnded + this.coalesceMs - performance.now()));
  }

  /**
   * Triggers a sync and resolves when one that started after this call has succeeded, or
   * rejects with its error: "my change is in the kernel now".
   */
  syncedAfterNow(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('agent is stopping'));
    const after = this.started;
    const settled = new Promise<void>((resolve, reject) => this.syncWaiters.push({ after, resolve, reject }));
    this.trigger();
    return settled;
  }

  /** Resolves once no sync is pending or running (for tests and orderly shutdown). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops triggering new syncs; waits for a running one to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.resyncTimer);
    this.timer = undefined;
    this.pending = false;
    await this.running;
    for (const w of this.syncWaiters.splice(0)) w.reject(new Error('agent is stopping'));
    this.notifyIdle();
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        this.lastEnded = performance.now();
        this.afterRun();
      });
    }, delayMs);
  }

  private afterRun(): void {
    if (this.stopped) return this.notifyIdle();
    if (this.consecutiveFailures > 0) {
      const delay = Math.min(this.maxRetryMs, this.initialRetryMs * 2 ** (this.consecutiveFailures - 1));
      this.pending = true;
      this.schedule(delay);
    } else if (this.pending && !this.options.held?.()) {
      this.schedule(this.coalesceMs);
    } else {
      this.notifyIdle();
    }
    this.armResync();
  }

  private armResync(): void {
    if (this.resyncIntervalMs <= 0 || this.stopped) return;
    clearTimeout(this.resyncTimer);
    this.resyncTimer = setTimeout(() => {
      this.resyncDue = true;
      this.trigger();
    }, this.resyncIntervalMs);
    this.resyncTimer.unref();
  }

  private async runOnce(): Promise<void> {
    this.pending = false;
    const number = ++this.started;
    const settle = (err?: Error) => {
      const due = this.syncWaiters.filter((w) => w.after < number);
      this.syncWaiters = this.syncWaiters.filter((w) => w.after >= number);
      for (const w of due) (err ? w.reject(err) : w.resolve());
    };
    const started = performance.now();
    const resync = this.resyncDue;
    this.resyncDue = false;
    try {
      const outcome = await this.options.sync({ resync });
      const durationMs = performance.now() - started;
      this.consecutiveFailures = 0;
      const now = Date.now();
      Object.assign(this.status, { lastSyncUnixMs: now, lastSuccessUnixMs: now, lastDurationMs: durationMs, lastError: '', everSucceeded: true });
      this.status.syncs++;
      this.options.onSynced?.({ ...outcome, durationMs });
      settle();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const durationMs = performance.now() - started;
      this.consecutiveFailures++;
      this.resyncDue = true;
      Object.assign(this.status, { lastSyncUnixMs: Date.now(), lastDurationMs: durationMs, lastError: error.message });
      this.status.syncs++;
      this.status.failures++;
      const retryIn = Math.min(this.maxRetryMs, this.initialRetryMs * 2 ** (this.consecutiveFailures - 1));
      this.options.onFailed?.(error, retryIn, durationMs);
      settle(error);
    }
  }

  /** Nothing running or scheduled (a trigger held back counts as idle: nothing will run). */
  private isIdle(): boolean {
    return !this.running && !this.timer && (!this.pending || this.options.held?.() === true);
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
