/**
 * `policy explain NS/POD`: what may reach a pod and what it may reach, policy by policy and
 * rule by rule, each peer with the known pods it stands for and each named port with the
 * number it has on this pod; and the ClusterNetworkPolicies around them (Admin before,
 * Baseline after NetworkPolicy).
 */
import { parseIp } from '../address';
import type { ClusterPeer, ParsedClusterPolicy, Tier } from '../cluster-policy/parse';
import type { Direction, ParsedPolicy, Peer, PortEntry } from '../parse';
import { selectorMatches } from '../selector';
import type { ModelPod, PolicyModel } from './model';
import { NotFoundError, parseEndRef } from './query';
import { clusterPeerText, clusterPolicyText, clusterRuleHeading, clusterRuleName, clusterRuleText, peerText, portEntryText, ruleText, type ClusterRuleHeading } from './terms';

export interface PeerReport {
  peer: string;
  /** Known pods it matches (pod peers), or known pods whose address it contains (ipBlock). */
  pods: string[];
}

export interface RuleReport {
  policy: string;
  /** Counted from 1, in spec.ingress or spec.egress. */
  rule: number;
  /** null: any peer (no from/to). */
  peers: PeerReport[] | null;
  /** null: any port and protocol. */
  ports: string[] | null;
  text: string;
}

export interface ClusterRuleReport extends ClusterRuleHeading {
  /** null: any peer (a rule failing closed). Pods, or nodes for a nodes peer. */
  peers: PeerReport[] | null;
  ports: string[] | null;
  text: string;
}

export interface DirectionReport {
  direction: Direction;
  /** Isolated by NetworkPolicy. */
  isolated: boolean;
  policies: string[];
  summary: string;
  rules: RuleReport[];
  /** ClusterNetworkPolicies selecting the pod for this direction, in evaluation order ("Admin ClusterNetworkPolicy x (priority 10)"). */
  clusterPolicies: string[];
  /** Their rules, in evaluation order: the first that matches a packet decides for its tier. */
  clusterRules: ClusterRuleReport[];
}

export interface PodReport {
  pod: string;
  addresses: string[];
  labels: Readonly<Record<string, string>>;
  node?: string;
  /** Declared container ports ("http 80/TCP"). */
  ports: string[];
  ingress: DirectionReport;
  egress: DirectionReport;
}

function peerPods(model: PolicyModel, peer: Peer): string[] {
  if (peer.kind !== 'ipBlock') return model.index.podsMatching(peer).map((p) => p.id);
  return model.pods
    .filter((pod) =>
      pod.addresses.some((text) => {
        const a = parseIp(text)!;
        return a.family === peer.family && peer.ranges.some((r) => r.first <= a.value && a.value <= r.last);
      }),
    )
    .map((p) => p.id);
}

function clusterPeerPods(model: PolicyModel, peer: ClusterPeer): string[] {
  if (peer.kind === 'pods') return model.index.podsMatching(peer).map((p) => p.id);
  if (peer.kind === 'nodes') return model.input.nodes?.filter((n) => selectorMatches(peer.selector, n.labels)).map((n) => `node ${n.name}`) ?? [];
  return model.pods
    .filter((pod) => pod.addresses.some((text) => {
      const a = parseIp(text)!;
      return peer.cidrs.some((b) => a.family === b.family && b.first <= a.value && a.value <= b.last);
    }))
    .map((p) => p.id);
}

function clusterRules(model: PolicyModel, direction: Direction, policies: readonly ParsedClusterPolicy[]): ClusterRuleReport[] {
  return policies.flatMap((policy) =>
    policy[direction].map((rule) => ({
      ...clusterRuleHeading(policy, rule),
      peers: rule.peers === null ? null : rule.peers.map((peer) => ({ peer: clusterPeerText(peer), pods: clusterPeerPods(model, peer) })),
      ports: rule.protocols === null ? null : rule.protocols.map((p) => p.text),
      text: `${clusterPolicyText(policy)} ${clusterRuleName(direction, rule)}: ${clusterRuleText(direction, rule)}`,
    })),
  );
}

/** The tiers around NetworkPolicy's summary, when ClusterNetworkPolicies select the pod. */
function tiersSummary(policies: readonly ParsedClusterPolicy[], isolated: boolean): string {
  const list = (tier: Tier) => policies.filter((p) => p.tier === tier).map(clusterPolicyText).join(', ');
  const admin = list('Admin');
  const baseline = list('Baseline');
  return [
    ...(admin ? [`before NetworkPolicy: ${admin}`] : []),
    ...(baseline ? [isolated ? `not consulted while NetworkPolicy isolates it: ${baseline}` : `then: ${baseline}`] : []),
  ].join('; ');
}

function portText(pod: ModelPod, direction: Direction, entry: PortEntry): string {
  if (entry.kind !== 'named') return portEntryText(entry);
  if (direction === 'egress') return `${portEntryText(entry)} (as each destination pod names it)`;
  const numbers = pod.record.namedPorts.get(`${entry.name}/${entry.protocol}`);
  return `${portEntryText(entry)} (${numbers ? numbers.join(', ') : 'this pod has no such port: matches nothing'})`;
}

const SUMMARY: Readonly<Record<Direction, { open: string; closed: string; some: string }>> = {
  ingress: { open: 'everything may reach it', closed: 'nothing may reach it', some: 'only what these rules allow may reach it' },
  egress: { open: 'it may reach everything', closed: 'it may reach nothing', some: 'it may reach only what these rules allow' },
};

function directionReport(model: PolicyModel, pod: ModelPod, direction: Direction): DirectionReport {
  const address = parseIp(pod.address)!;
  // The evaluator decides which policies select the pod (the peer does not matter for that).
  const ids = model.evaluator.direction(direction, address, address, 'tcp', 1).policies;
  const policies = ids.map((id) => model.policy(id)).filter((p): p is ParsedPolicy => p !== undefined);
  const rules: RuleReport[] = policies.flatMap((policy) =>
    (policy[direction] ?? []).map((rule) => ({
      policy: policy.id,
      rule: rule.index + 1,
      peers: rule.peers === null ? null : rule.peers.map((peer) => ({ peer: peerText(peer), pods: peerPods(model, peer) })),
      ports: rule.ports === null ? null : rule.ports.map((e) => portText(pod, direction, e)),
      text: `${policy.id} ${direction} rule ${rule.index + 1}: ${ruleText(direction, rule)}`,
    })),
  );
  const cluster = model.evaluator.clusterPoliciesSelecting(direction, address);
  const words = SUMMARY[direction];
  let summary: string;
  if (!pod.policyApplies) summary = 'NetworkPolicy does not apply to it (hostNetwork, or finished)';
  else if (ids.length === 0) summary = cluster.length ? `not isolated for ${direction} by NetworkPolicy` : `not isolated for ${direction}: ${words.open}`;
  else summary = `isolated for ${direction} by ${ids.join(', ')}: ${rules.length === 0 ? words.closed : words.some}`;
  if (pod.policyApplies && cluster.length) summary = `${summary}; ${tiersSummary(cluster, ids.length > 0)}`;
  return { direction, isolated: ids.length > 0, policies: ids, summary, rules, clusterPolicies: cluster.map(clusterPolicyText), clusterRules: clusterRules(model, direction, cluster) };
}

export function explainPod(model: PolicyModel, text: string): PodReport {
  const ref = parseEndRef(text, 'pod', false);
  const pod = ref.kind === 'pod' ? model.requirePod(ref.namespace, ref.name) : ref.kind === 'address' ? model.podAt(ref.ip) : undefined;
  if (!pod) throw new NotFoundError(`no pod has the address ${text} in ${model.source}`);
  return {
    pod: pod.id,
    addresses: pod.addresses,
    labels: pod.labels,
    ...(pod.nodeName ? { node: pod.nodeName } : {}),
    ports: pod.containerPorts.map((p) => `${p.name ? `${p.name} ` : ''}${p.containerPort}/${p.protocol ?? 'TCP'}`),
    ingress: directionReport(model, pod, 'ingress'),
    egress: directionReport(model, pod, 'egress'),
  };
}
