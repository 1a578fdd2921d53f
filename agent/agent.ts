/**
 * weft-agent, assembled: sources feed the object cache; every change (and every endpoint a CNI
 * plugin registers) triggers the reconcile loop, which compiles the node's desired state and
 * has the backend apply it in one transaction. Around it: the gRPC API, the CNI server the shim
 * talks to, health/readiness/metrics over HTTP, and logs.
 *
 * Nothing is applied before every source has delivered its initial state (a restart never
 * programs a partial view), and stopping leaves the rules in the kernel: traffic keeps its
 * policy while the agent restarts, and the next agent adopts the rules (see backend/).
 */
import type { Logger } from 'pino';
import { startCniServer, type CniServer } from '../cni/server';
import { LocalEndpoints } from './api/endpoints';
import type { AgentStatus } from './api/messages';
import { Inspection, inspectionCallbacks } from './api/inspect-answers';
import { listenForPolicyDrops, type PolicyDrops } from './drops/listen';
import { policyAnswerer } from './api/policy-answers';
import { startAgentApi, type AgentApi } from './api/server';
import { ObjectCache } from './cache';
import { clusterNodes, compileNodeState, type CompileConfig } from './compile/node-state';
import { ensureBridgeNetfilter } from './dataplane/bridge-netfilter';
import type { NodePolicy, PolicyProblem } from './dataplane/policy-state';
import type { ServiceProblem, ServiceState } from './dataplane/service-state';
import { ConntrackCli, type ConntrackDeleter } from '../kernel/conntrack';
import { flushStaleConntrack } from './proxy/flush-conntrack';
import { HealthCheckServers } from './proxy/health-check-server';
import { proxyHealthy } from './proxy/proxy-health';
import type { OverlayController } from '../overlay/controller';
import type { ApplyOutcome, DataPlaneBackend } from './dataplane/node-state';
import { startHealthServer, type HealthServer } from './health';
import { AgentMetrics } from './metrics';
import { Reconciler, type ReconcilerOptions, type SyncOutcome } from './reconcile';
import type { ObjectSource, SourceEvent } from './sources/source';

export interface AgentOptions {
  nodeName: string;
  sources: ObjectSource[];
  backend: DataPlaneBackend;
  /** Routes to the other nodes (VXLAN, host-gw); none when absent. */
  overlay?: OverlayController;
  compile?: CompileConfig;
  /** The gRPC API's unix socket. */
  socketPath: string;
  /** The CNI server's socket (weft-cni-shim); none when absent. */
  cniSocketPath?: string;
  /** Health, readiness and metrics; none when absent. */
  health?: { host: string; port: number };
  log: Logger;
  metrics?: AgentMetrics;
  /** How long a CNI registration waits for the pod's object (default 3 s). */
  registerPodWaitMs?: number;
  /** Deletes stale conntrack entries of UDP/SCTP services (--proxy); the `conntrack` tool when absent. */
  conntrack?: ConntrackDeleter;
  /** Timings of the reconcile loop (tests shorten them). */
  reconcile?: Pick<ReconcilerOptions, 'coalesceMs' | 'initialRetryMs' | 'maxRetryMs' | 'resyncIntervalMs'>;
}

export const DEFAULT_REGISTER_POD_WAIT_MS = 3000;

interface SourceState {
  source: ObjectSource;
  synced: boolean;
  skipped: number;
}

export class Agent {
  readonly cache = new ObjectCache();
  readonly endpoints = new LocalEndpoints();
  readonly metrics: AgentMetrics;
  readonly reconciler: Reconciler;
  private readonly sources: SourceState[];
  private rules = 0;
  private api?: AgentApi;
  private cni?: CniServer;
  private healthServer?: HealthServer;
  /** The overlay's last "no route" reasons, logged again only when they change. */
  private lastOverlaySkipped = '[]';
  private lastPolicyProblems = '[]';
  private lastServiceProblems = '[]';
  private lastHealthCheckFailures = '[]';
  /** The services the last successful apply put in the kernel: what stale conntrack entries are found against. */
  private appliedServices?: ServiceState;
  /**
   * The policy the last successful apply put in the kernel, the one before it, and the one an
   * apply is writing: what weftctl reads ClusterNetworkPolicy rules from (InspectSources.tierPolicies).
   */
  private appliedPolicy?: NodePolicy;
  private previousPolicy?: NodePolicy;
  private applyingPolicy?: NodePolicy;
  /** Health-check node ports, when services are proxied. */
  private readonly healthChecks?: HealthCheckServers;
  private readonly conntrack: ConntrackDeleter;
  /** The policy drop log's reader (weftctl policy drops), when NetworkPolicy is enforced. */
  private drops?: PolicyDrops;

  private constructor(private readonly options: AgentOptions) {
    this.metrics = options.metrics ?? new AgentMetrics();
    this.sources = options.sources.map((source) => ({ source, synced: false, skipped: 0 }));
    this.conntrack = options.conntrack ?? new ConntrackCli();
    // Load balancers reading the health-check ports move away from a node whose sync keeps failing.
    if (options.compile?.proxy) this.healthChecks = new HealthCheckServers({ proxyHealthy: () => proxyHealthy(this.reconciler.status, Date.now()) });
    const log = options.log;
    this.reconciler = new Reconciler({
      ...options.reconcile,
      held: () => !this.sourcesSynced,
      sync: ({ resync }) => this.sync(resync),
      onSynced: (r) => {
        this.rules = r.rules;
        this.metrics.syncDuration.observe({ result: 'success' }, r.durationMs / 1000);
        this.metrics.kernelChanges.inc(r.changes);
        this.metrics.rules.set({ backend: options.backend.name }, r.rules);
        // A sync that changed nothing is the common case (resyncs): keep it out of info logs.
        const level = r.changes > 0 ? 'info' : 'debug';
        log[level]({ changes: r.changes, rules: r.rules, durationMs: round(r.durationMs), compileMs: round(r.compileMs ?? 0) }, 'sync applied');
      },
      onFailed: (err, retryInMs, durationMs) => {
        this.metrics.syncDuration.observe({ result: 'error' }, durationMs / 1000);
        this.metrics.syncErrors.inc();
        log.error({ err, retryInMs }, 'sync failed; retrying');
      },
    });
  }

  /**
   * One sync: the pod bridge handing its traffic to netfilter, the rules through the backend,
   * what follows services once their rules are in (stale conntrack entries, health-check
   * ports), then the overlay's devices and routes.
   */
  private async sync(resync: boolean): Promise<SyncOutcome> {
    const { backend, overlay, nodeName } = this.options;
    const compileStarted = performance.now();
    const state = compileNodeState(this.cache, this.endpoints.list(), nodeName, this.options.compile);
    const compileMs = performance.now() - compileStarted;
    this.reportPolicyProblems(state.policy?.problems ?? [], state.policy?.clusterProblems ?? []);
    this.reportServiceProblems(state.services?.state.problems ?? []);
    let bridgeChanges = 0;
    if (state.podBridge && (await ensureBridgeNetfilter(state.podBridge)) === 'turned-on') {
      bridgeChanges = 1;
      this.options.log.info({ bridge: state.podBridge }, 'pod bridge now hands its traffic to netfilter');
    }
    this.applyingPolicy = state.policy;
    let applied: ApplyOutcome;
    try {
      applied = await backend.apply(state, { fromKernel: resync ? 'if-changed' : false });
      if (state.policy !== this.appliedPolicy) [this.previousPolicy, this.appliedPolicy] = [this.appliedPolicy, state.policy];
    } finally {
      this.applyingPolicy = undefined;
    }
    if (state.services) await this.afterServicesApplied(state.services.state);
    const outcome = { changes: applied.changes + bridgeChanges, rules: applied.rules, compileMs };
    if (!overlay) return outcome;
    const { nodes, problems } = clusterNodes(this.cache, this.options.compile?.derive);
    const result = await overlay.sync(nodes, nodeName);
    const skipped = [...problems, ...result.skipped];
    const text = JSON.stringify(skipped);
    if (text !== this.lastOverlaySkipped) {
      this.lastOverlaySkipped = text;
      for (const s of skipped) this.options.log.warn({ peer: s.node, reason: s.reason }, 'no overlay route');
    }
    if (result.changes > 0) this.options.log.info({ changes: result.changes, peers: result.peers }, 'overlay applied');
    return { ...outcome, changes: outcome.changes + result.changes };
  }

  /**
   * A pod's policy depends on its labels, which come with its Pod object. The API server has
   * it before the kubelet runs the CNI ADD, but this agent's watch may lag behind: a
   * registration waits for it (bounded), so that the pod starts with its own policy. Without it
   * the pod is isolated both ways until the object arrives (policy/ treats it so).
   */
  private async waitForPodObject(namespace: string, name: string): Promise<void> {
    const deadline = Date.now() + (this.options.registerPodWaitMs ?? DEFAULT_REGISTER_POD_WAIT_MS);
    while (!this.cache.get('Pod', name, namespace)) {
      if (Date.now() >= deadline) {
        this.options.log.warn({ pod: `${namespace}/${name}` }, 'pod registered before its Pod object arrived: isolated until it does');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Once the backend has the new service rules: deletes the conntrack entries they leave stale
   * (UDP flows still DNATed to endpoints that left) and serves the health-check node ports.
   * Neither failure fails the sync: the rules are in, and redoing them would not help.
   */
  private async afterServicesApplied(next: ServiceState): Promise<void> {
    const { log } = this.options;
    const previous = this.appliedServices;
    this.appliedServices = next;
    const flush = await flushStaleConntrack(previous, next, this.conntrack);
    if (flush.deletions.length > 0) {
      // Endpoint churn without live UDP flows is common: only deletions that found entries are news.
      log[flush.deleted > 0 ? 'info' : 'debug']({ filters: flush.deletions.length, deleted: flush.deleted, failed: flush.failures.length }, 'stale conntrack entries deleted');
    }
    for (const f of flush.failures) log.warn({ err: f.error, filter: f.deletion }, 'could not delete stale conntrack entries');
    if (!this.healthChecks) return;
    const hc = await this.healthChecks.sync(next.healthChecks);
    for (const c of hc.closed) log.info(c, 'health-check node port closed');
    for (const o of hc.opened) log.info(o, 'health-check node port serving');
    // Tried again every sync: logged when the set of ports that cannot be bound changes.
    const failures = hc.failed.map((f) => ({ service: f.service, port: f.port, reason: f.error.message }));
    const text = JSON.stringify(failures);
    if (text !== this.lastHealthCheckFailures) {
      this.lastHealthCheckFailures = text;
      for (const f of failures) log.warn(f, 'health-check node port cannot be served; retrying on every sync');
    }
  }

  /** Logs the Services (and slices, Node, configuration) that cannot be fully proxied, each time the list changes. */
  private reportServiceProblems(problems: readonly ServiceProblem[]): void {
    const text = JSON.stringify(problems);
    if (text === this.lastServiceProblems) return;
    this.lastServiceProblems = text;
    for (const p of problems) this.options.log.warn({ object: p.object, reason: p.reason }, 'Service not fully proxied');
  }

  /** Logs the policies that cannot be enforced, each time the list changes (not every sync). */
  private reportPolicyProblems(problems: readonly PolicyProblem[], clusterProblems: readonly PolicyProblem[]): void {
    const text = JSON.stringify([problems, clusterProblems]);
    if (text === this.lastPolicyProblems) return;
    this.lastPolicyProblems = text;
    for (const p of problems) this.options.log.warn({ policy: p.policy, reason: p.reason }, 'NetworkPolicy skipped');
    for (const p of clusterProblems) this.options.log.warn({ policy: p.policy, reason: p.reason }, 'ClusterNetworkPolicy skipped');
  }

  /** Starts everything; throws (having undone what it started) when a part cannot start. */
  static async start(options: AgentOptions): Promise<Agent> {
    const agent = new Agent(options);
    try {
      await agent.startParts();
    } catch (err) {
      await agent.stop();
      throw err;
    }
    return agent;
  }

  private get sourcesSynced(): boolean {
    return this.sources.every((s) => s.synced);
  }

  private async startParts(): Promise<void> {
    const { log } = this.options;
    const inspection = new Inspection({
      nodeName: this.options.nodeName,
      backend: this.options.backend,
      cache: this.cache,
      proxying: Boolean(this.options.compile?.proxy),
      appliedServices: () => this.appliedServices,
      enforcingPolicy: Boolean(this.options.compile?.networkPolicy),
      drops: () => this.drops,
      tierPolicies: () => [this.appliedPolicy, this.applyingPolicy, this.previousPolicy].filter((p) => p !== undefined),
    });
    // The API socket first: a second agent for this node fails here, before touching anything.
    this.api = await startAgentApi({
      socketPath: this.options.socketPath,
      endpoints: this.endpoints,
      status: () => this.status(),
      ...(this.options.backend.policyCounters ? { policyCounters: () => this.options.backend.policyCounters!() } : {}),
      policyQuery: policyAnswerer(this.cache, this.options.nodeName),
      ...inspectionCallbacks(inspection),
      afterEndpointChange: async (registered) => {
        this.metrics.localEndpoints.set(this.endpoints.size);
        if (registered) await this.waitForPodObject(registered.podNamespace, registered.podName);
        return this.reconciler.syncedAfterNow();
      },
    });
    if (this.options.compile?.networkPolicy) {
      this.drops = await listenForPolicyDrops({ name: inspection.dropNamer(), onError: (err) => log.warn({ err }, 'reading the policy drop log failed') });
      if (this.drops.unavailable) log.warn({ reason: this.drops.unavailable }, 'policy drops cannot be read (weftctl policy drops)');
    }
    if (this.options.cniSocketPath) {
      this.cni = await startCniServer({ socketPath: this.options.cniSocketPath, log: (line) => log.warn({ component: 'cni-server' }, line) });
    }
    if (this.options.health) {
      this.healthServer = await startHealthServer({
        ...this.options.health,
        ready: () => this.readiness(),
        metrics: async () => ({ contentType: this.metrics.contentType, body: await this.metrics.text() }),
      });
    }
    for (const state of this.sources) await state.source.start((event) => this.onSourceEvent(state, event));
    log.info(
      { backend: this.options.backend.name, rules: this.options.backend.location, socket: this.options.socketPath, cniSocket: this.options.cniSocketPath, health: this.healthServer?.address },
      'weft-agent started',
    );
  }

  private onSourceEvent(state: SourceState, event: SourceEvent): void {
    const { log } = this.options;
    switch (event.type) {
      case 'SYNCED':
        if (!state.synced) log.info({ source: state.source.description }, 'source synced');
        state.synced = true;
        this.reconciler.trigger();
        return;
      case 'SKIPPED':
        state.skipped++;
        this.metrics.skipped.inc({ source: state.source.description });
        log.warn({ source: state.source.description, where: event.where, reason: event.reason }, 'skipped an object');
        return;
      case 'WATCH_RESTARTED':
        this.metrics.watchRestarts.inc({ kind: event.kind });
        log.warn({ source: state.source.description, kind: event.kind, reason: event.reason }, 'watch restarted');
        return;
      case 'KIND_SERVED':
        // Most clusters do not install the ClusterNetworkPolicy CRD: info, not a warning.
        if (event.served) log.info({ source: state.source.description, kind: event.kind, detail: event.detail }, 'kind now served (its CRD was installed): watching it');
        else log.info({ source: state.source.description, kind: event.kind, detail: event.detail }, 'kind not served (its CRD is not installed): none of its objects, looking again periodically');
        return;
      default:
        if (this.cache.apply(event)) {
          this.metrics.setObjectCounts(this.cache.counts());
          this.reconciler.trigger();
        }
    }
  }

  private readiness(): { ready: boolean; reason: string } {
    const waiting = this.sources.filter((s) => !s.synced).map((s) => s.source.description);
    if (waiting.length > 0) return { ready: false, reason: `waiting for the initial state of ${waiting.join(', ')}` };
    if (!this.reconciler.status.everSucceeded) return { ready: false, reason: `no successful sync yet${this.reconciler.status.lastError ? `: ${this.reconciler.status.lastError}` : ''}` };
    return { ready: true, reason: 'ok' };
  }

  status(): AgentStatus {
    const s = this.reconciler.status;
    return {
      nodeName: this.options.nodeName,
      sources: this.sources.map((x) => ({ description: x.source.description, synced: x.synced, skipped: x.skipped })),
      objectCounts: this.cache.counts(),
      sync: { lastSyncUnixMs: s.lastSyncUnixMs, lastSyncDurationMs: s.lastDurationMs, lastError: s.lastError },
      localEndpoints: this.endpoints.size,
      backend: this.options.backend.name,
      rulesLocation: this.options.backend.location,
      rules: this.rules,
      ready: this.readiness().ready,
    };
  }

  /** Stops serving and watching. The kernel keeps every rule (see the file comment). */
  async stop(): Promise<void> {
    for (const s of this.sources) await s.source.stop().catch(() => undefined);
    await this.reconciler.stop();
    await Promise.all([this.api?.close(), this.cni?.close(), this.healthServer?.close(), this.healthChecks?.close()]);
    this.drops?.close();
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
