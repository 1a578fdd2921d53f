/**
 * The reference semantics, evaluated directly for one packet with no classes, indexes or
 * precomputation: which pods are at each end, which policies select them, which rules admit the
 * other end and the port. It is the oracle the compiler is tested against, and what
 * `weftctl policy explain` reports. Cluster-wide: it does not care which node enforces what.
 */
import { parseIp, type Family } from './address';
import { namedPortKey, namespaceLabels, podRecordOf, type PodRecord } from './cluster';
import type { PolicyInput } from './input';
import { parsePolicies, type Direction, type ParsedPolicy, type Peer, type PortEntry } from './parse';
import { selectorMatches } from './selector';

export interface TrafficQuery {
  src: string;
  dst: string;
  /** "tcp", "udp", "sctp", or another protocol (matched only by rules without ports). */
  protocol: string;
  /** Destination port (tcp, udp, sctp). */
  port?: number;
}

export interface RuleRef {
  policy: string;
  /** Index in the policy's ingress or egress list. */
  rule: number;
}

export interface DirectionVerdict {
  direction: Direction;
  /** Pods at the end this direction protects: the destination (ingress) or the source (egress). */
  pods: string[];
  isolated: boolean;
  allowed: boolean;
  /** Policies selecting those pods for this direction, sorted. */
  policies: string[];
  /** The rules that admit the packet, sorted; empty when not isolated or denied. */
  rules: RuleRef[];
  reason: string;
}

export interface TrafficVerdict {
  allowed: boolean;
  egress: DirectionVerdict;
  ingress: DirectionVerdict;
}

interface Address {
  family: Family;
  value: bigint;
}

export class PolicyEvaluator {
  readonly policies: ParsedPolicy[];
  readonly problems: { policy: string; reason: string }[];
  private readonly pods: PodRecord[];
  private readonly nsLabels: Map<string, Readonly<Record<string, string>> | null>;

  constructor(input: PolicyInput) {
    ({ policies: this.policies, problems: this.problems } = parsePolicies(input.policies));
    this.pods = input.pods.map(podRecordOf);
    this.nsLabels = namespaceLabels(input);
  }

  /** Pods policy applies to at an address (known or not; hostNetwork and finished pods are not). */
  podsAt(address: Address): PodRecord[] {
    return this.pods.filter((p) => p.endpoint && p.addresses.some((a) => a.family === address.family && a.value === address.value));
  }

  explain(query: TrafficQuery): TrafficVerdict {
    const src = parseIp(query.src);
    const dst = parseIp(query.dst);
    if (!src || !dst) throw new TypeError(`not an address: ${!src ? query.src : query.dst}`);
    const egress = this.direction('egress', src, dst, query.protocol, query.port);
    const ingress = this.direction('ingress', dst, src, query.protocol, query.port);
    return { allowed: egress.allowed && ingress.allowed, egress, ingress };
  }

  /**
   * One direction: `localAddress` is the end the direction protects, `peerAddress` the other
   * end. Named ports resolve on the destination: the protected pod for ingress, the peer's pods
   * for egress.
   */
  direction(direction: Direction, localAddress: Address, peerAddress: Address, protocol: string, port: number | undefined): DirectionVerdict {
    const localPods = this.podsAt(localAddress);
    const peerPods = this.podsAt(peerAddress).filter((p) => p.labels !== null);
    const verdict: DirectionVerdict = { direction, pods: localPods.map((p) => p.id).sort(), isolated: false, allowed: true, policies: [], rules: [], reason: '' };
    if (localPods.length === 0) return { ...verdict, reason: 'not a pod address: not isolated' };
    const unknown = localPods.filter((p) => p.labels === null).map((p) => p.id);
    const policies = new Set<string>();
    const rules = new Map<string, RuleRef>();
    for (const pod of localPods) {
      if (pod.labels === null) continue;
      for (const policy of this.policies) {
        const list = policy[direction];
        if (!list || policy.namespace !== pod.namespace || !selectorMatches(policy.podSelector, pod.labels)) continue;
        policies.add(policy.id);
        const named = (key: string) => (direction === 'ingress' ? pod.namedPorts.get(key) : peerPods.flatMap((p) => p.namedPorts.get(key) ?? []));
        for (const rule of list) {
          const peerOk = rule.peers === null || rule.peers.some((peer) => this.peerMatches(peer, peerAddress, peerPods));
          if (peerOk && portMatches(rule.ports, protocol, port, named)) rules.set(`${policy.id}\0${rule.index}`, { policy: policy.id, rule: rule.index });
        }
      }
    }
    const isolated = unknown.length > 0 || policies.size > 0;
    const ruleList = [...rules.values()].sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : a.rule - b.rule));
    const allowed = !isolated || ruleList.length > 0;
    const selecting = [...policies].sort();
    let reason: string;
    if (!isolated) reason = `no policy selects ${verdict.pods.join(', ')} for ${direction}: not isolated`;
    else if (ruleList.length > 0) reason = `allowed by ${ruleList.map((r) => `${r.policy} ${direction}[${r.rule}]`).join(', ')}`;
    else {
      const why = [...(unknown.length ? [`${unknown.join(', ')} has no Pod object yet (isolated, nothing allowed)`] : []), ...(selecting.length ? [`isolated by ${selecting.join(', ')} and no rule admits the peer and port`] : [])];
      reason = why.join('; ');
    }
    return { ...verdict, isolated, allowed, policies: selecting, rules: ruleList, reason };
  }

  private peerMatches(peer: Peer, address: Address, peerPods: readonly PodRecord[]): boolean {
    if (peer.kind === 'ipBlock') {
      const inside = (b: { family: Family; first: bigint; last: bigint }) => b.family === address.family && b.first <= address.value && address.value <= b.last;
      return inside(peer.cidr) && !peer.except.some(inside);
    }
    return peerPods.some((pod) => {
      const nsOk = peer.namespace !== undefined ? pod.namespace === peer.namespace : selectorMatches(peer.namespaceSelector!, this.nsLabels.get(pod.namespace) ?? null);
      return nsOk && selectorMatches(peer.podSelector, pod.labels);
    });
  }
}

function portMatches(entries: readonly PortEntry[] | null, protocol: string, port: number | undefined, named: (key: string) => readonly number[] | undefined): boolean {
  if (entries === null) return true;
  if (port === undefined) return false;
  return entries.some((e) => {
    if (e.protocol !== protocol) return false;
    if (e.kind === 'all') return true;
    if (e.kind === 'range') return e.first <= port && port <= e.last;
    return (named(namedPortKey(e.name, e.protocol)) ?? []).includes(port);
  });
}
