/**
 * The agent's Prometheus metrics, in a registry of its own (no global state, so tests and
 * several agents in one process do not mix). Served at /metrics by health.ts.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { WATCHED_KINDS } from './objects';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly syncDuration = new Histogram({
    name: 'weft_sync_duration_seconds',
    help: 'Time to compile the desired state and apply it to the kernel (including reading it back).',
    // From a no-op sync (~5 ms: one read of the table) to a full write at scale.
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly syncErrors = new Counter({ name: 'weft_sync_errors_total', help: 'Syncs that failed (retried with backoff).', registers: [this.registry] });
  readonly kernelChanges = new Counter({ name: 'weft_kernel_changes_total', help: 'Kernel operations applied by syncs (0 for a sync that found nothing to change).', registers: [this.registry] });
  readonly rules = new Gauge({ name: 'weft_rules', help: 'Rules plus set/map elements weft owns in the kernel after the last successful sync.', labelNames: ['backend'], registers: [this.registry] });
  readonly objects = new Gauge({ name: 'weft_objects', help: 'Objects in the cache, by kind.', labelNames: ['kind'], registers: [this.registry] });
  readonly skipped = new Counter({ name: 'weft_objects_skipped_total', help: 'Objects or files a source reported and skipped (invalid, unparsable).', labelNames: ['source'], registers: [this.registry] });
  readonly watchRestarts = new Counter({ name: 'weft_watch_restarts_total', help: 'Watches that ended abnormally and were restarted (410 Gone relists, dropped connections).', labelNames: ['kind'], registers: [this.registry] });
  readonly localEndpoints = new Gauge({ name: 'weft_local_endpoints', help: 'Pod attachments registered by CNI plugins on this node.', registers: [this.registry] });

  constructor(options: { processMetrics?: boolean } = {}) {
    // Process metrics (RSS, CPU, event loop lag) cost a few timers; the daemon wants them.
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'weft_agent_' });
  }

  setObjectCounts(counts: Record<string, number>): void {
    for (const kind of WATCHED_KINDS) this.objects.set({ kind }, counts[kind] ?? 0);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
