/**
 * NetworkPolicy conformance in the lab, shaped like Kubernetes' e2e netpol suite
 * (test/e2e/network/netpol): namespaces x, y, z with pods a, b, c each, every pod serving TCP and
 * UDP on ports 80 and 81; a case applies policies and states, by hand, which of the 9x9 pairs may
 * connect on each port and protocol (a truth table, `Reachability`); the lab's real connections
 * (lab/cluster/probe.ts) fill the observed table, which must come to equal the expected one.
 *
 * Policies take effect asynchronously (file -> agent -> kernel), so a check first waits until
 * every agent reports a sync that started after the change was written, then probes until the
 * observed table equals the expected one or a deadline passes, and fails with the last diff.
 * A pod reaching itself is not checked (upstream ignores loopback too: it never leaves the pod).
 *
 * Placement: node (namespace index + pod index) mod nodes, so with 3 nodes each namespace has a
 * pod on every node and each node one pod of every namespace: same-node and cross-node pairs
 * both occur within and across namespaces.
 *
 * Named ports are declared as upstream names them (serve-80-tcp, ...). One pod, x/b, declares
 * serve-80-tcp as 81 and serve-81-tcp as 80 (it serves both), so a named port means different
 * numbers on different pods; every case that uses numbers is unaffected by that.
 *
 * The lab itself is model-agnostic: NetpolLab takes another LabModel (namespaces, pods and how to
 * write them; cnp-fixture.ts has upstream ClusterNetworkPolicy conformance's four houses), and a
 * Reachability table covers the pods it is given (the x/y/z pods by default).
 *
 * Beside the probes, `weftctl policy trace`'s engine (policy/explain/) is asked about every
 * probed pair, from the objects the agents read (the lab's manifests directory): once a step's
 * probes match, the trace verdict of every pair must equal the probe's result. A step whose
 * probes do not match shows the trace verdict next to each wrong cell.
 */
import fs from 'node:fs';
import { createAgentClient } from '../../agent/api/client';
import type { KubeObject } from '../../agent/objects';
import { labApply } from '../../lab/cluster/apply';
import type { ContainerPort } from '../../lab/cluster/kube';
import { manifestFile, readObjects } from '../../lab/cluster/manifests';
import { PolicyModel } from '../../policy/explain/model';
import { trace } from '../../policy/explain/trace';
import { labPaths } from '../../lab/cluster/names';
import { addressOf, probeMatrix, type ProbeCell, type ProbeMatrix, type Protocol } from '../../lab/cluster/probe';
import { loadState, podKey, type AgentBackend, type LabState, type PodRecord } from '../../lab/cluster/state';
import { labUp } from '../../lab/cluster/up';

// ---------------------------------------------------------------------------------------------
// The model

export const NAMESPACES = ['x', 'y', 'z'] as const;
export const POD_NAMES = ['a', 'b', 'c'] as const;
/** Every pod, `namespace/name`, in the order of the rows and columns of a table. */
export const PODS: readonly string[] = NAMESPACES.flatMap((ns) => POD_NAMES.map((p) => `${ns}/${p}`));
/** Its serve-80-tcp is port 81 and its serve-81-tcp port 80. */
export const SWAPPED_POD = 'x/b';

export const NAMESPACE_LABELS: Readonly<Record<string, Record<string, string>>> = { x: { ns: 'x' }, y: { ns: 'y' }, z: { ns: 'z' } };
/** Extra pod labels for the matchExpressions cases: b has role=web, c role=db, a no role at all. */
const ROLES: Readonly<Record<string, string | undefined>> = { a: undefined, b: 'web', c: 'db' };

export function splitKey(key: string): { namespace: string; pod: string } {
  const [namespace, pod] = key.split('/');
  if (!PODS.includes(key)) throw new Error(`${JSON.stringify(key)} is not one of the model's pods (${PODS.join(' ')})`);
  return { namespace, pod };
}

export function podLabels(key: string): Record<string, string> {
  const { pod } = splitKey(key);
  const role = ROLES[pod];
  return { pod, ...(role ? { role } : {}) };
}

export function namespaceObject(ns: string, labels: Record<string, string> = NAMESPACE_LABELS[ns]): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } };
}

export function containerPorts(key: string): ContainerPort[] {
  const swap = key === SWAPPED_POD;
  return [
    { name: 'serve-80-tcp', containerPort: swap ? 81 : 80, protocol: 'TCP' },
    { name: 'serve-81-tcp', containerPort: swap ? 80 : 81, protocol: 'TCP' },
    { name: 'serve-80-udp', containerPort: 80, protocol: 'UDP' },
    { name: 'serve-81-udp', containerPort: 81, protocol: 'UDP' },
  ];
}

export function nodeOf(key: string, nodes: number): string {
  const { namespace, pod } = splitKey(key);
  return `node-${(NAMESPACES.indexOf(namespace as (typeof NAMESPACES)[number]) + POD_NAMES.indexOf(pod as (typeof POD_NAMES)[number])) % nodes}`;
}

/** The Pod as applied: same spec every time (so a re-apply can change only its labels). */
export function podObject(key: string, nodes: number, labels: Record<string, string> = podLabels(key)): KubeObject {
  const { namespace, pod } = splitKey(key);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod, namespace, labels },
    spec: { nodeName: nodeOf(key, nodes), containers: [{ name: 'server', image: 'weft-lab/pod-server', ports: containerPorts(key) }] },
  };
}

export function networkPolicy(namespace: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

/** The namespaces and pods a lab is built with, and how their objects are written. */
export interface LabModel {
  namespaces: readonly string[];
  /** Every pod, `namespace/name`, in the order of the rows and columns of a table. */
  pods: readonly string[];
  /** With its model labels when `labels` is not given. */
  namespaceObject(ns: string, labels?: Record<string, string>): KubeObject;
  /** The same spec every time (so a re-apply can change only its labels); model labels by default. */
  podObject(key: string, nodes: number, labels?: Record<string, string>): KubeObject;
}

/** x, y, z with a, b, c each: Kubernetes' e2e netpol model. */
export const XYZ_MODEL: LabModel = { namespaces: NAMESPACES, pods: PODS, namespaceObject: (ns, labels) => namespaceObject(ns, labels), podObject };

// ---------------------------------------------------------------------------------------------
// Targets: what one probe matrix connects to

export interface Target {
  protocol: Protocol;
  port: number;
  family: 4 | 6;
}

export const targetName = (t: Target): string => `${t.protocol}/${t.port}${t.family === 6 ? ' IPv6' : ''}`;
export const TCP80: Target = { protocol: 'TCP', port: 80, family: 4 };
export const TCP81: Target = { protocol: 'TCP', port: 81, family: 4 };
export const UDP80: Target = { protocol: 'UDP', port: 80, family: 4 };
export const UDP81: Target = { protocol: 'UDP', port: 81, family: 4 };
export const TCP80_V6: Target = { protocol: 'TCP', port: 80, family: 6 };
export const UDP80_V6: Target = { protocol: 'UDP', port: 80, family: 6 };
/** TCP and UDP, ports 80 and 81, IPv4: what every case probes unless it says otherwise. */
export const V4: readonly Target[] = [TCP80, TCP81, UDP80, UDP81];
export const V6: readonly Target[] = [TCP80_V6, UDP80_V6];

// ---------------------------------------------------------------------------------------------
// The truth table

/** Pods by namespace and/or name; an empty peer is every pod. */
export interface Peer {
  namespace?: string;
  pod?: string;
}

const peerOf = (key: string): Peer => {
  const [namespace, pod] = key.split('/');
  return { namespace, pod };
};
const inPeer = (key: string, peer: Peer): boolean => {
  const [namespace, pod] = key.split('/');
  return (peer.namespace === undefined || peer.namespace === namespace) && (peer.pod === undefined || peer.pod === pod);
};

/** Which pod may connect to which (rows: from, columns: to), for one port and protocol. */
export class Reachability {
  private readonly cells = new Map<string, boolean>();

  /** `pods`: the model's pods (the x/y/z model's by default). */
  constructor(defaultAllowed = true, readonly pods: readonly string[] = PODS) {
    for (const from of pods) for (const to of pods) this.cells.set(`${from}>${to}`, defaultAllowed);
  }

  private known(key: string): void {
    if (!this.pods.includes(key)) throw new Error(`${JSON.stringify(key)} is not one of the model's pods (${this.pods.join(' ')})`);
  }

  expect(from: string, to: string, allowed: boolean): this {
    this.known(from);
    this.known(to);
    this.cells.set(`${from}>${to}`, allowed);
    return this;
  }

  expectPeer(from: Peer, to: Peer, allowed: boolean): this {
    for (const f of this.pods) if (inPeer(f, from)) for (const t of this.pods) if (inPeer(t, to)) this.cells.set(`${f}>${t}`, allowed);
    return this;
  }

  /** Everything to `to`. */
  expectAllIngress(to: string, allowed: boolean): this {
    this.known(to);
    return this.expectPeer({}, peerOf(to), allowed);
  }

  /** Everything from `from`. */
  expectAllEgress(from: string, allowed: boolean): this {
    this.known(from);
    return this.expectPeer(peerOf(from), {}, allowed);
  }

  allowed(from: string, to: string): boolean {
    return this.cells.get(`${from}>${to}`) === true;
  }

  /**
   * A table written out: a header line of the model's pods in order, then one line per client
   * pod: its name and 1 (allowed), 0 (denied) or . (itself, not checked) per server pod.
   */
  static grid(text: string, pods: readonly string[] = PODS): Reachability {
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
    const header = lines[0].split(/\s+/);
    if (header.join(' ') !== pods.join(' ')) throw new Error(`grid header must be: ${pods.join(' ')}`);
    if (lines.length !== pods.length + 1) throw new Error(`grid needs ${pods.length} rows, has ${lines.length - 1}`);
    const r = new Reachability(false, pods);
    lines.slice(1).forEach((line, i) => {
      const [from, ...cells] = line.split(/\s+/);
      if (from !== pods[i]) throw new Error(`grid row ${i + 1} must be ${pods[i]}, is ${from}`);
      if (cells.length !== pods.length) throw new Error(`grid row ${from} has ${cells.length} cells`);
      cells.forEach((c, j) => {
        if (!['0', '1', '.'].includes(c)) throw new Error(`grid row ${from}: bad cell ${JSON.stringify(c)}`);
        if (c === '.' && pods[j] !== from) throw new Error(`grid row ${from}: "." is only for the pod itself`);
        r.expect(from, pods[j], c !== '0');
      });
    });
    return r;
  }
}

/** One table for every target, or one per target. */
export type Expectation = Reachability | ((target: Target) => Reachability);
const tableFor = (e: Expectation, t: Target): Reachability => (typeof e === 'function' ? e(t) : e);

// ---------------------------------------------------------------------------------------------
// Observing and comparing

export interface ProbeTuning {
  /** Per connection: a denied probe costs this much (its packets are dropped). */
  timeoutMs: number;
}

export const DEFAULT_TUNING: ProbeTuning = { timeoutMs: 400 };

/** The model's pods in the lab (the x/y/z model's by default), in table order. */
export function modelPods(state: LabState, keys: readonly string[] = PODS): PodRecord[] {
  const byKey = new Map(state.pods.map((p) => [podKey(p), p]));
  return keys.map((k) => {
    const pod = byKey.get(k);
    if (!pod) throw new Error(`pod ${k} is not in lab ${state.name}`);
    return pod;
  });
}

/** All targets at once, each a full matrix of the model's pods, every connection of a client in flight together. */
export async function observe(state: LabState, targets: readonly Target[], tuning: ProbeTuning = DEFAULT_TUNING, keys: readonly string[] = PODS): Promise<ProbeMatrix[]> {
  const pods = modelPods(state, keys);
  return Promise.all(targets.map((t) => probeMatrix(state, { ...t, timeoutMs: tuning.timeoutMs, perClient: pods.length, clients: pods.length }, pods)));
}

export interface Mismatch {
  target: Target;
  from: string;
  to: string;
  expected: boolean;
  observed: ProbeCell;
}

export function compare(expectation: Expectation, observed: ProbeMatrix[]): Mismatch[] {
  const out: Mismatch[] = [];
  for (const m of observed) {
    const target: Target = { protocol: m.protocol, port: m.port, family: m.family };
    const table = tableFor(expectation, target);
    for (const from of m.pods) {
      for (const to of m.pods) {
        if (from === to) continue;
        const cell = m.cells[from]?.[to] ?? { ok: false, detail: 'not probed' };
        const expected = table.allowed(from, to);
        if (cell.ok !== expected) out.push({ target, from, to, expected, observed: cell });
      }
    }
  }
  return out;
}

const pad = (s: string, n: number) => s.padStart(n);

/**
 * The observed table of each target with wrong cells marked, then the wrong cells one by one:
 *   1 allowed, 0 denied, - the pod itself (not checked); 1! allowed where the expected table
 *   denies (a leak), 0! denied where it allows.
 */
export function formatDiff(expectation: Expectation, observed: ProbeMatrix[], mismatches: Mismatch[]): string {
  const lines: string[] = [];
  for (const m of observed) {
    // Wide enough for the model's longest pod name.
    const cols = Math.max(5, ...m.pods.map((p) => p.length + 2));
    const first = Math.max(7, ...m.pods.map((p) => p.length));
    const target: Target = { protocol: m.protocol, port: m.port, family: m.family };
    const wrong = mismatches.filter((x) => targetName(x.target) === targetName(target));
    if (wrong.length === 0) {
      lines.push(`${targetName(target)}: as expected`);
      continue;
    }
    const table = tableFor(expectation, target);
    lines.push(`${targetName(target)}: ${wrong.length} of ${m.pods.length * (m.pods.length - 1)} cells wrong (observed; 1! = allowed but expected denied, 0! = denied but expected allowed)`);
    lines.push(`  ${'from\\to'.padEnd(first)}${m.pods.map((p) => pad(p, cols)).join('')}`);
    for (const from of m.pods) {
      const row = m.pods.map((to) => {
        if (from === to) return pad('- ', cols);
        const ok = m.cells[from]?.[to]?.ok === true;
        return pad(`${ok ? '1' : '0'}${ok !== table.allowed(from, to) ? '!' : ' '}`, cols);
      });
      lines.push(`  ${from.padEnd(first)}${row.join('')}`);
    }
  }
  const shown = mismatches.slice(0, 12);
  if (shown.length > 0) lines.push('wrong cells:');
  for (const x of shown) {
    lines.push(`  ${targetName(x.target)} ${x.from} -> ${x.to}: expected ${x.expected ? 'allowed' : 'denied'}, observed ${x.observed.ok ? 'allowed' : 'denied'} (${x.observed.detail})`);
  }
  if (mismatches.length > shown.length) lines.push(`  ... and ${mismatches.length - shown.length} more`);
  return lines.join('\n');
}

export interface PollResult {
  ok: boolean;
  /** Probe rounds made. */
  rounds: number;
  ms: number;
  /** The last round's diff (empty when ok). */
  diff: string;
  /** The last round's tables. */
  observed: ProbeMatrix[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Probes until the observed tables equal the expected ones or the deadline passes. */
export async function pollUntil(state: LabState, expectation: Expectation, targets: readonly Target[], deadlineMs: number, tuning: ProbeTuning = DEFAULT_TUNING, keys: readonly string[] = PODS): Promise<PollResult> {
  const started = performance.now();
  for (let rounds = 1; ; rounds++) {
    const observed = await observe(state, targets, tuning, keys);
    const wrong = compare(expectation, observed);
    if (wrong.length === 0) return { ok: true, rounds, ms: performance.now() - started, diff: '', observed };
    if (performance.now() - started >= deadlineMs) return { ok: false, rounds, ms: performance.now() - started, diff: formatDiff(expectation, observed, wrong), observed };
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// The trace engine beside the probes

/** Trace verdicts of one target: allowed[from][to], every pair but a pod with itself. */
export interface TraceTable {
  target: Target;
  allowed: Record<string, Record<string, boolean>>;
}

/**
 * What `weftctl policy trace` answers for every pair and target, from the objects in the lab's
 * manifests directory (what the agents read). The source is named by its address of the
 * target's family, the destination by NS/POD (the trace picks its address of the same family).
 */
export function traceTables(state: LabState, manifests: string, targets: readonly Target[], keys: readonly string[] = PODS): TraceTable[] {
  const model = PolicyModel.fromObjects([...readObjects(manifests).values()], { source: `lab ${state.name}` });
  const pods = modelPods(state, keys);
  return targets.map((target) => {
    const allowed: TraceTable['allowed'] = {};
    for (const src of pods) {
      const from = addressOf(src, target.family);
      if (!from) throw new Error(`${podKey(src)} has no IPv${target.family} address`);
      const row: Record<string, boolean> = (allowed[podKey(src)] = {});
      for (const dst of pods) {
        if (dst === src) continue;
        const r = trace(model, { from, to: podKey(dst), port: { protocol: target.protocol === 'TCP' ? 'tcp' : 'udp', port: target.port } });
        if (r.paths[0]?.to.address !== addressOf(dst, target.family)) throw new Error(`trace from ${from} to ${podKey(dst)} went to ${r.paths[0]?.to.address}, not its IPv${target.family} address`);
        row[podKey(dst)] = r.verdict === 'allowed';
      }
    }
    return { target, allowed };
  });
}

export interface TraceDisagreement {
  target: Target;
  from: string;
  to: string;
  traced: boolean;
  observed: ProbeCell;
}

/** The pairs whose trace verdict is not the probe's result. */
export function compareTrace(tables: readonly TraceTable[], observed: readonly ProbeMatrix[]): { pairs: number; disagreements: TraceDisagreement[] } {
  let pairs = 0;
  const disagreements: TraceDisagreement[] = [];
  for (const table of tables) {
    const m = observed.find((o) => targetName({ protocol: o.protocol, port: o.port, family: o.family }) === targetName(table.target));
    if (!m) throw new Error(`${targetName(table.target)} was not probed`);
    for (const from of m.pods) {
      for (const to of m.pods) {
        if (from === to) continue;
        pairs++;
        const cell = m.cells[from]?.[to] ?? { ok: false, detail: 'not probed' };
        const traced = table.allowed[from]?.[to];
        if (traced !== cell.ok) disagreements.push({ target: table.target, from, to, traced: traced === true, observed: cell });
      }
    }
  }
  return { pairs, disagreements };
}

export function formatTraceDisagreements(list: readonly TraceDisagreement[]): string {
  const word = (allowed: boolean) => (allowed ? 'allowed' : 'denied');
  const lines = list.slice(0, 20).map((d) => `  ${targetName(d.target)} ${d.from} -> ${d.to}: trace says ${word(d.traced)}, the probe was ${word(d.observed.ok)} (${d.observed.detail})`);
  if (list.length > 20) lines.push(`  ... and ${list.length - 20} more`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The lab, with the model in it

/** The policy kinds whose counts an agent must agree on before its sync counts. */
const POLICY_KINDS = ['NetworkPolicy', 'ClusterNetworkPolicy'] as const;

/**
 * Until every agent reports a sync that started after `changedAt` (a Date.now() time), with as
 * many NetworkPolicies and ClusterNetworkPolicies as the manifests directory holds. Returns what
 * it waited for, or why it gave up (a check goes on regardless: the probes are what counts).
 */
export async function waitAgentsSynced(state: LabState, manifests: string, changedAt: number, timeoutMs = 5000): Promise<string> {
  const objects = [...readObjects(manifests).values()];
  const expected = POLICY_KINDS.map((kind) => ({ kind, count: objects.filter((o) => o.kind === kind).length }));
  const started = performance.now();
  const pending = new Set(state.nodes);
  let last = '';
  for (;;) {
    for (const node of [...pending]) {
      if (!node.agent) {
        pending.delete(node);
        continue;
      }
      const client = createAgentClient(node.agent.socket, 1000);
      try {
        const s = await client.status();
        const syncStart = Number(s.sync.lastSyncUnixMs) - Number(s.sync.lastSyncDurationMs);
        const miscounted = expected.find(({ kind, count }) => (s.objectCounts[kind] ?? 0) !== count);
        if (s.sync.lastError) last = `${node.name}: last sync failed: ${s.sync.lastError}`;
        else if (miscounted) last = `${node.name}: has ${s.objectCounts[miscounted.kind] ?? 0} ${miscounted.kind} objects, expected ${miscounted.count}`;
        else if (syncStart < changedAt) last = `${node.name}: no sync since the change`;
        else pending.delete(node);
      } catch (err) {
        last = `${node.name}: ${(err as Error).message}`;
      } finally {
        client.close();
      }
    }
    if (pending.size === 0) return `agents synced in ${(performance.now() - started).toFixed(0)} ms`;
    if (performance.now() - started > timeoutMs) return `agents not synced after ${timeoutMs} ms (${last})`;
    await sleep(20);
  }
}

export interface NetpolLabOptions {
  name: string;
  root: string;
  backend: AgentBackend;
  nodes?: number;
  /** The namespaces and pods (x/y/z by default). */
  model?: LabModel;
  /** How long a check may take after the agents synced; WEFT_NETPOL_DEADLINE_MS overrides. */
  deadlineMs?: number;
  tuning?: ProbeTuning;
}

/** Thrown by a check whose table did not come: the message is the step and the diff. */
export class ReachabilityMismatch extends Error {}

export class NetpolLab {
  readonly nodes: number;
  readonly model: LabModel;
  readonly deadlineMs: number;
  readonly tuning: ProbeTuning;
  /** Lines for t.log: what each step did and how long it took. */
  readonly journal: string[] = [];
  /** The Date.now() the last change was written at, and how many policies exist since. */
  private changedAt = 0;
  /** Pairs whose trace verdict was compared with a probe since the last takeTraced(). */
  private traced = 0;

  private constructor(readonly o: NetpolLabOptions) {
    this.nodes = o.nodes ?? 3;
    this.model = o.model ?? XYZ_MODEL;
    this.deadlineMs = Number(process.env.WEFT_NETPOL_DEADLINE_MS) || o.deadlineMs || 10_000;
    this.tuning = o.tuning ?? DEFAULT_TUNING;
  }

  /** A lab with no default pods, then the model's namespaces and pods through lab apply. */
  static async up(o: NetpolLabOptions): Promise<NetpolLab> {
    const lab = new NetpolLab(o);
    await labUp({ name: o.name, root: o.root, nodes: lab.nodes, podsPerNode: 0, ports: [80, 81], backend: o.backend });
    await lab.applyObjects(lab.modelObjects());
    return lab;
  }

  /** The model's namespaces and pods with their model labels. */
  private modelObjects(): KubeObject[] {
    return [...this.model.namespaces.map((ns) => this.model.namespaceObject(ns)), ...this.model.pods.map((k) => this.model.podObject(k, this.nodes))];
  }

  get state(): LabState {
    return loadState(labPaths(this.o.root, this.o.name), this.o.name);
  }

  get manifests(): string {
    return labPaths(this.o.root, this.o.name).manifests;
  }

  ip(key: string, family: 4 | 6 = 4): string {
    if (!this.model.pods.includes(key)) throw new Error(`${JSON.stringify(key)} is not one of the model's pods`);
    const pod = this.state.pods.find((p) => podKey(p) === key);
    const ip = pod && addressOf(pod, family);
    if (!ip) throw new Error(`${key} has no IPv${family} address`);
    return ip;
  }

  private async run(objects: KubeObject[], del: boolean): Promise<void> {
    const text = objects.map((o) => JSON.stringify(o)).join('\n---\n');
    const before = Date.now();
    await labApply({ name: this.o.name, root: this.o.root, files: ['-'], stdin: () => text, delete: del });
    // A write's time is its file's mtime (the agents see the file only after that); a delete
    // leaves no file, and is recognised by the agents' object counts.
    const mtimes = del ? [] : objects.map((o) => fs.statSync(manifestFile(this.manifests, o)).mtimeMs);
    // An apply that changed nothing writes nothing: the last change stays the one to wait for.
    this.changedAt = Math.max(this.changedAt, ...mtimes, del ? before : 0);
  }

  applyObjects(objects: KubeObject[]): Promise<void> {
    return this.run(objects, false);
  }

  deleteObjects(objects: KubeObject[]): Promise<void> {
    return this.run(objects, true);
  }

  relabelPod(key: string, labels: Record<string, string>): Promise<void> {
    return this.applyObjects([this.model.podObject(key, this.nodes, labels)]);
  }

  labelNamespace(ns: string, labels: Record<string, string>): Promise<void> {
    return this.applyObjects([this.model.namespaceObject(ns, labels)]);
  }

  waitAgentsSynced(timeoutMs = 5000): Promise<string> {
    return waitAgentsSynced(this.state, this.manifests, this.changedAt, timeoutMs);
  }

  /** Pairs compared with trace since the last call. */
  takeTraced(): number {
    const n = this.traced;
    this.traced = 0;
    return n;
  }

  /**
   * Waits for the agents, then probes until the tables match; throws with the diff if they
   * never do. Then the trace verdict of every probed pair must be the probe's result.
   */
  async check(what: string, expectation: Expectation, targets: readonly Target[] = V4): Promise<void> {
    const synced = await this.waitAgentsSynced();
    const r = await pollUntil(this.state, expectation, targets, this.deadlineMs, this.tuning, this.model.pods);
    const names = targets.map(targetName).join(', ');
    const traceNow = () => compareTrace(traceTables(this.state, this.manifests, targets, this.model.pods), r.observed);
    if (!r.ok) {
      this.journal.push(`FAIL ${what} [${names}]: ${synced}; still wrong after ${(r.ms / 1000).toFixed(1)} s, ${r.rounds} probe rounds`);
      // Who is wrong, the expected table or the kernel? The engine's view of the same objects helps tell.
      let traceText: string;
      try {
        const { disagreements } = traceNow();
        traceText = disagreements.length === 0 ? 'trace agrees with the last probes' : `trace disagrees with the last probes:\n${formatTraceDisagreements(disagreements)}`;
      } catch (err) {
        traceText = `trace failed: ${(err as Error).message}`;
      }
      throw new ReachabilityMismatch(`${what} [${names}]: the observed table still differs after ${(r.ms / 1000).toFixed(1)} s (${r.rounds} probe rounds; ${synced})\n${r.diff}\n${traceText}`);
    }
    const traced = traceNow();
    if (traced.disagreements.length > 0) {
      this.journal.push(`FAIL ${what} [${names}]: probes as expected, trace disagrees on ${traced.disagreements.length} of ${traced.pairs} pairs`);
      throw new ReachabilityMismatch(`${what} [${names}]: the probes match the expected tables, but trace disagrees on ${traced.disagreements.length} of ${traced.pairs} pairs:\n${formatTraceDisagreements(traced.disagreements)}`);
    }
    this.traced += traced.pairs;
    this.journal.push(`ok   ${what} [${names}]: ${synced}; matched after ${r.rounds} probe round(s), ${(r.ms / 1000).toFixed(2)} s; trace = probe for ${traced.pairs} pairs`);
  }

  /**
   * Back to the starting point: no policies (NetworkPolicies and ClusterNetworkPolicies), the
   * model's labels on namespaces and pods, and every pod reaching every pod again.
   */
  async reset(targets: readonly Target[] = V4): Promise<void> {
    const policies = [...readObjects(this.manifests).values()].filter((o) => (POLICY_KINDS as readonly string[]).includes(o.kind));
    if (policies.length > 0) await this.deleteObjects(policies);
    await this.applyObjects(this.modelObjects());
    await this.check('baseline restored: no policies, every pod reaches every pod', new Reachability(true, this.model.pods), targets);
  }
}
