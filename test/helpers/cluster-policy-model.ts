/**
 * The lab's conformance model (test/integration/netpol-fixture.ts: namespaces x, y, z with pods
 * a, b, c, their labels and named ports, x/b's swapped named ports) as plain objects with
 * addresses, three Nodes, and ClusterNetworkPolicy objects, for unit tests of the reference
 * evaluator: truth tables over every ordered pair of pods, no lab.
 */
import { ObjectCache } from '../../agent/cache';
import { policyInputFromCache } from '../../agent/compile/policy';
import type { KubeObject } from '../../agent/objects';
import { PolicyEvaluator } from '../../policy/evaluate';
import { NAMESPACE_LABELS, NAMESPACES, nodeOf, podObject, PODS, POD_NAMES, Reachability, splitKey } from '../integration/netpol-fixture';

export const NODES = 3;

/** 10.1.N.P (N: namespace index, P: pod index + 1), and fd00::1:N:P. */
export function ipOf(key: string): string {
  const { namespace, pod } = splitKey(key);
  return `10.1.${NAMESPACES.indexOf(namespace as (typeof NAMESPACES)[number])}.${POD_NAMES.indexOf(pod as (typeof POD_NAMES)[number]) + 1}`;
}

export function ip6Of(key: string): string {
  const [, , n, p] = ipOf(key).split('.');
  return `fd00::1:${n}:${p}`;
}

/** node-N's InternalIP 192.168.0.(N+1); node-0 and node-1 are in zone a, node-2 in zone b. */
export const nodeIp = (n: number): string => `192.168.0.${n + 1}`;

export function nodeObject(n: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${n}`, labels: { 'kubernetes.io/os': 'linux', zone: n < 2 ? 'a' : 'b' } },
    status: { addresses: [{ type: 'InternalIP', address: nodeIp(n) }, { type: 'Hostname', address: `node-${n}` }, { type: 'ExternalIP', address: `203.0.113.${n + 1}` }] },
  };
}

export interface ModelOptions {
  namespaceLabels?: Record<string, Record<string, string>>;
}

/** Namespaces, the nine pods (running, with IPv4 and IPv6 addresses), and the nodes. */
export function modelObjects(options: ModelOptions = {}): KubeObject[] {
  const labels = { ...NAMESPACE_LABELS, ...options.namespaceLabels };
  return [
    ...NAMESPACES.map((ns): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns, ...labels[ns] } } })),
    ...PODS.map((key): KubeObject => ({ ...podObject(key, NODES), status: { phase: 'Running', podIPs: [{ ip: ipOf(key) }, { ip: ip6Of(key) }] } })),
    ...[0, 1, 2].map(nodeObject),
  ];
}

/** The reference evaluator over objects, their input distilled as the agent distils it. */
export function evaluatorOf(objects: readonly KubeObject[]): PolicyEvaluator {
  const cache = new ObjectCache();
  for (const object of objects) cache.apply({ type: 'ADDED', object });
  return new PolicyEvaluator(policyInputFromCache(cache, [], ''));
}

export type Tier = 'Admin' | 'Baseline';

export function clusterPolicy(name: string, tier: Tier, priority: number, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'policy.networking.k8s.io/v1alpha2', kind: 'ClusterNetworkPolicy', metadata: { name }, spec: { tier, priority, ...spec } };
}

/** `namespaces` selecting one of the model's namespaces by its `ns` label. */
export const ns = (name: string): Record<string, unknown> => ({ namespaces: { matchLabels: { ns: name } } });

export interface Probe {
  protocol: 'tcp' | 'udp' | 'sctp';
  port: number;
}

export const probeName = (p: Probe): string => `${p.port}/${p.protocol.toUpperCase()}`;
export const PROBES: readonly Probe[] = [
  { protocol: 'tcp', port: 80 },
  { protocol: 'tcp', port: 81 },
  { protocol: 'udp', port: 80 },
  { protocol: 'udp', port: 81 },
  { protocol: 'sctp', port: 80 },
  { protocol: 'sctp', port: 81 },
];

/** The evaluator's verdict for every ordered pair of different pods (a pod and itself: not checked, as upstream). */
export function observedTable(evaluator: PolicyEvaluator, probe: Probe, family: 4 | 6 = 4): Reachability {
  const address = family === 4 ? ipOf : ip6Of;
  const table = new Reachability(true);
  for (const from of PODS) {
    for (const to of PODS) {
      if (from !== to) table.expect(from, to, evaluator.explain({ src: address(from), dst: address(to), protocol: probe.protocol, port: probe.port }).allowed);
    }
  }
  return table;
}

/** The cells where `observed` differs from `expected`, "x/a -> y/b 80/TCP: expected 1, got 0". */
export function tableDiff(expected: Reachability, observed: Reachability, probe: Probe): string[] {
  const out: string[] = [];
  for (const from of PODS) {
    for (const to of PODS) {
      if (from === to) continue;
      const want = expected.allowed(from, to);
      if (want !== observed.allowed(from, to)) out.push(`${from} -> ${to} ${probeName(probe)}: expected ${want ? 1 : 0}, got ${want ? 0 : 1}`);
    }
  }
  return out;
}

/** Every probe's table against the expectation (one table, or one per probe); the differences. */
export function checkTables(evaluator: PolicyEvaluator, expectation: Reachability | ((probe: Probe) => Reachability), probes: readonly Probe[] = PROBES, family: 4 | 6 = 4): string[] {
  return probes.flatMap((probe) => tableDiff(typeof expectation === 'function' ? expectation(probe) : expectation, observedTable(evaluator, probe, family), probe));
}

export { nodeOf, PODS, Reachability };
