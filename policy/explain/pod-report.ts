/**
 * `policy explain NS/POD`: what may reach a pod and what it may reach, policy by policy and
 * rule by rule, each peer with the known pods it stands for and each named port with the
 * number it has on this pod.
 */
import { parseIp } from '../address';
import type { Direction, ParsedPolicy, Peer, PortEntry } from '../parse';
import type { ModelPod, PolicyModel } from './model';
import { NotFoundError, parseEndRef } from './query';
import { peerText, portEntryText, ruleText } from './terms';

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

export interface DirectionReport {
  direction: Direction;
  isolated: boolean;
  policies: string[];
  summary: string;
  rules: RuleReport[];
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
  const policies = ids.map((id) => model.policies.get(id)).filter((p): p is ParsedPolicy => p !== undefined);
  const rules: RuleReport[] = policies.flatMap((policy) =>
    (policy[direction] ?? []).map((rule) => ({
      policy: policy.id,
      rule: rule.index + 1,
      peers: rule.peers === null ? null : rule.peers.map((peer) => ({ peer: peerText(peer), pods: peerPods(model, peer) })),
      ports: rule.ports === null ? null : rule.ports.map((e) => portText(pod, direction, e)),
      text: `${policy.id} ${direction} rule ${rule.index + 1}: ${ruleText(direction, rule)}`,
    })),
  );
  const words = SUMMARY[direction];
  let summary: string;
  if (!pod.policyApplies) summary = 'NetworkPolicy does not apply to it (hostNetwork, or finished)';
  else if (ids.length === 0) summary = `not isolated for ${direction}: ${words.open}`;
  else summary = `isolated for ${direction} by ${ids.join(', ')}: ${rules.length === 0 ? words.closed : words.some}`;
  return { direction, isolated: ids.length > 0, policies: ids, summary, rules };
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
