/**
 * The reference semantics, evaluated directly for one packet with no classes, indexes or
 * precomputation: which pods are at each end, which policies select them, which rules admit the
 * other end and the port. It is the oracle the compiler is tested against, and what
 * `weftctl policy explain` reports. Cluster-wide: it does not care which node enforces what.
 *
 * With ClusterNetworkPolicies, per direction: the Admin tier first (Accept and Deny decide, Pass
 * goes on), then NetworkPolicy when it isolates the pod, then the Baseline tier, then allowed
 * (policy/cluster-policy/parse.ts says where upstream says so). Without any, a verdict is what
 * it always was.
 */
import { parseIp, type Family } from './address';
import { namedPortKey, namespaceLabels, podRecordOf, type PodRecord } from './cluster';
import { clusterMatchText, firstMatch, type ClusterMatch, type TierQuestion } from './cluster-policy/evaluate';
import { parseClusterPolicies, type ClusterPeer, type ClusterSubject, type ParsedClusterPolicy } from './cluster-policy/parse';
import type { PolicyInput, PolicyNode } from './input';
import { parsePolicies, type Direction, type ParsedPolicy, type Peer, type PortEntry } from './parse';
import { selectorMatches } from './selector';

export interface TrafficQuery {
  src: string;
  dst: string;
  /** "tcp", "udp", "sctp", or another protocol (matched only by rules without ports). */
  protocol: string;
  /** Destination port (tcp, udp, sctp). */
  port?: number;
  /**
   * The packet went through a Service (it is after the DNAT). Upstream: a pod reaching its own
   * address is not subject to ClusterNetworkPolicy, but reaching itself through a Service is.
   */
  viaService?: boolean;
}

export interface RuleRef {
  policy: string;
  /** Index in the policy's ingress or egress list. */
  rule: number;
}

/**
 * What decided a direction: the Admin tier (an Accept or Deny rule), NetworkPolicy (it isolates
 * the pods), the Baseline tier (Accept or Deny), or nothing (allowed by default).
 */
export type DecidedBy = 'admin' | 'networkPolicy' | 'baseline' | 'default';

export interface DirectionVerdict {
  direction: Direction;
  /** Pods at the end this direction protects: the destination (ingress) or the source (egress). */
  pods: string[];
  /** Isolated by NetworkPolicy (whichever tier decided). */
  isolated: boolean;
  /** The verdict, all tiers considered. */
  allowed: boolean;
  /** NetworkPolicies selecting those pods for this direction, sorted. */
  policies: string[];
  /**
   * The NetworkPolicy rules that admit the packet, sorted; empty when not isolated or when
   * NetworkPolicy denies. NetworkPolicy's view: the Admin tier may have decided before it.
   */
  rules: RuleRef[];
  decidedBy: DecidedBy;
  /** The Admin tier's first matching rule (Accept or Deny decided; Pass went on). */
  admin?: ClusterMatch;
  /** The Baseline tier's first matching rule, when it was consulted and one matched. */
  baseline?: ClusterMatch;
  /**
   * A pod reaching its own address (not through a Service): the packet never leaves the pod's
   * network namespace, so no policy of any kind can see it, and it is allowed (upstream's
   * NetworkPolicy e2e tests expect loopback allowed whatever the policies; ClusterNetworkPolicy
   * says so). `isolated` and `policies` still say what would apply to other peers.
   */
  loopback?: boolean;
  reason: string;
}

export interface TrafficVerdict {
  allowed: boolean;
  egress: DirectionVerdict;
  ingress: DirectionVerdict;
}

export interface Address {
  family: Family;
  value: bigint;
}

export interface NodeRecord {
  name: string;
  labels: Readonly<Record<string, string>>;
  addresses: Address[];
}

export function nodeRecordOf(node: PolicyNode): NodeRecord {
  const addresses = node.addresses.map(parseIp).filter((a): a is Address => a !== undefined);
  return { name: node.name, labels: node.labels, addresses };
}

/**
 * What the evaluator reads, as questions rather than lists: a question about two pods then
 * needs only their namespaces' policies and the pods at two addresses. InputView answers from a
 * PolicyInput, everything parsed at once; weftctl's model (policy/explain/model.ts) answers from
 * objects, parsing and distilling only what a question reaches.
 */
export interface EvaluatorView {
  /** Usable NetworkPolicies of a namespace, sorted by id. */
  policiesIn(namespace: string): readonly ParsedPolicy[];
  /** Every usable NetworkPolicy and every invalid one, sorted by id. */
  allPolicies(): { policies: readonly ParsedPolicy[]; problems: readonly PolicyProblem[] };
  /** Every pod at an address (policy applies to them or not). */
  podsAt(address: Address): readonly PodRecord[];
  /** A namespace's labels; null: known only through its pods (or not at all). */
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | null;
  readonly nodes: readonly NodeRecord[];
  /** Usable ClusterNetworkPolicies, Admin then Baseline, each by priority and name, and the invalid ones. */
  readonly parsedClusterPolicies: { policies: readonly ParsedClusterPolicy[]; problems: readonly PolicyProblem[] };
}

export interface PolicyProblem {
  policy: string;
  reason: string;
}

const addressKey = (a: Address): string => `${a.family}:${a.value}`;

/** The view of a PolicyInput: parsed and indexed at once (the compiler's tests, the agent's oracle). */
export class InputView implements EvaluatorView {
  readonly nodes: NodeRecord[];
  readonly parsedClusterPolicies: { policies: ParsedClusterPolicy[]; problems: PolicyProblem[] };
  private readonly parsed: { policies: ParsedPolicy[]; problems: PolicyProblem[] };
  private readonly byNamespace = new Map<string, ParsedPolicy[]>();
  private readonly byAddress = new Map<string, PodRecord[]>();
  private readonly nsLabels: Map<string, Readonly<Record<string, string>> | null>;

  constructor(input: PolicyInput) {
    this.parsed = parsePolicies(input.policies);
    for (const policy of this.parsed.policies) {
      const list = this.byNamespace.get(policy.namespace);
      if (list) list.push(policy);
      else this.byNamespace.set(policy.namespace, [policy]);
    }
    this.parsedClusterPolicies = parseClusterPolicies(input.clusterPolicies ?? []);
    for (const pod of input.pods.map(podRecordOf)) {
      for (const a of pod.addresses) {
        const list = this.byAddress.get(addressKey(a));
        if (list) list.push(pod);
        else this.byAddress.set(addressKey(a), [pod]);
      }
    }
    this.nsLabels = namespaceLabels(input);
    this.nodes = (input.nodes ?? []).map(nodeRecordOf);
  }

  policiesIn(namespace: string): readonly ParsedPolicy[] {
    return this.byNamespace.get(namespace) ?? [];
  }

  allPolicies(): { policies: readonly ParsedPolicy[]; problems: readonly PolicyProblem[] } {
    return this.parsed;
  }

  podsAt(address: Address): readonly PodRecord[] {
    return this.byAddress.get(addressKey(address)) ?? [];
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | null {
    return this.nsLabels.get(namespace) ?? null;
  }
}

const isView = (source: PolicyInput | EvaluatorView): source is EvaluatorView => typeof (source as EvaluatorView).policiesIn === 'function';

export class PolicyEvaluator {
  /** Usable ClusterNetworkPolicies, Admin then Baseline, each by priority and name. */
  readonly clusterPolicies: readonly ParsedClusterPolicy[];
  /** ClusterNetworkPolicies the API server would refuse (they play no part). */
  readonly clusterProblems: readonly PolicyProblem[];
  private readonly view: EvaluatorView;
  private readonly tiers: { admin: ParsedClusterPolicy[]; baseline: ParsedClusterPolicy[] };

  constructor(source: PolicyInput | EvaluatorView) {
    this.view = isView(source) ? source : new InputView(source);
    ({ policies: this.clusterPolicies, problems: this.clusterProblems } = this.view.parsedClusterPolicies);
    this.tiers = { admin: this.clusterPolicies.filter((p) => p.tier === 'Admin'), baseline: this.clusterPolicies.filter((p) => p.tier === 'Baseline') };
  }

  /** Every usable NetworkPolicy, sorted by id (with a lazy view: all of them parsed now). */
  get policies(): readonly ParsedPolicy[] {
    return this.view.allPolicies().policies;
  }

  /** NetworkPolicies the API server would refuse (they play no part). */
  get problems(): readonly PolicyProblem[] {
    return this.view.allPolicies().problems;
  }

  /** Nodes with an address (InternalIP or ExternalIP): what `nodes` peers match. */
  nodesAt(address: Address): NodeRecord[] {
    return this.view.nodes.filter((n) => n.addresses.some((a) => a.family === address.family && a.value === address.value));
  }

  /** ClusterNetworkPolicies with rules for `direction` whose subject selects the pods at an address, in evaluation order. */
  clusterPoliciesSelecting(direction: Direction, address: Address): ParsedClusterPolicy[] {
    const pods = this.podsAt(address);
    return this.clusterPolicies.filter((p) => p[direction].length > 0 && this.selectsAny(p.subject, pods));
  }

  private selectsAny(subject: ClusterSubject, pods: readonly PodRecord[]): boolean {
    return pods.some((pod) => selectorMatches(subject.namespaceSelector, this.view.namespaceLabels(pod.namespace)) && selectorMatches(subject.podSelector, pod.labels));
  }

  /** Pods policy applies to at an address (known or not; hostNetwork and finished pods are not). */
  podsAt(address: Address): PodRecord[] {
    return this.view.podsAt(address).filter((p) => p.endpoint);
  }

  explain(query: TrafficQuery): TrafficVerdict {
    const src = parseIp(query.src);
    const dst = parseIp(query.dst);
    if (!src || !dst) throw new TypeError(`not an address: ${!src ? query.src : query.dst}`);
    const loopback = query.viaService !== true && src.family === dst.family && src.value === dst.value;
    const egress = this.direction('egress', src, dst, query.protocol, query.port, !loopback);
    const ingress = this.direction('ingress', dst, src, query.protocol, query.port, !loopback);
    if (loopback && egress.pods.length > 0) {
      // It never leaves the pod: what NetworkPolicy would say of another peer does not apply.
      const own = (v: DirectionVerdict): DirectionVerdict => ({ ...v, allowed: true, rules: [], decidedBy: 'default', loopback: true, reason: 'the pod reaching its own address: the packet never leaves the pod, no policy applies' });
      return { allowed: true, egress: own(egress), ingress: own(ingress) };
    }
    return { allowed: egress.allowed && ingress.allowed, egress, ingress };
  }

  /**
   * One direction: `localAddress` is the end the direction protects, `peerAddress` the other
   * end. Named ports resolve on the destination: the protected pod for ingress, the peer's pods
   * for egress. `clusterTiers` false: NetworkPolicy only (a pod reaching itself).
   */
  direction(direction: Direction, localAddress: Address, peerAddress: Address, protocol: string, port: number | undefined, clusterTiers = true): DirectionVerdict {
    const localPods = this.podsAt(localAddress);
    const peerPods = this.podsAt(peerAddress).filter((p) => p.labels !== null);
    const verdict: DirectionVerdict = { direction, pods: localPods.map((p) => p.id).sort(), isolated: false, allowed: true, policies: [], rules: [], decidedBy: 'default', reason: '' };
    if (localPods.length === 0) return { ...verdict, reason: 'not a pod address: not isolated' };
    const unknown = localPods.filter((p) => p.labels === null).map((p) => p.id);
    const policies = new Set<string>();
    const rules = new Map<string, RuleRef>();
    for (const pod of localPods) {
      if (pod.labels === null) continue;
      for (const policy of this.view.policiesIn(pod.namespace)) {
        const list = policy[direction];
        if (!list || !selectorMatches(policy.podSelector, pod.labels)) continue;
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
    const networkPolicy: DirectionVerdict = { ...verdict, isolated, allowed, policies: selecting, rules: ruleList, decidedBy: isolated ? 'networkPolicy' : 'default', reason };
    if (!clusterTiers || this.clusterPolicies.length === 0) return networkPolicy;
    return this.withTiers(networkPolicy, this.tierQuestion(direction, localPods, peerAddress, peerPods, protocol, port));
  }

  /**
   * The tiers around NetworkPolicy's verdict: Admin (Accept, Deny decide; Pass goes on), then
   * NetworkPolicy if it isolates, then Baseline, then allowed.
   */
  private withTiers(np: DirectionVerdict, q: TierQuestion): DirectionVerdict {
    const admin = firstMatch(this.tiers.admin, q);
    const said = (m: ClusterMatch) => clusterMatchText(m, np.direction);
    if (admin && admin.action !== 'Pass') return { ...np, allowed: admin.action === 'Accept', decidedBy: 'admin', admin, reason: said(admin) };
    const before = admin ? `${said(admin)}, then ` : '';
    if (np.isolated) return admin ? { ...np, admin, reason: `${before}NetworkPolicy: ${np.reason}` } : np;
    const baseline = firstMatch(this.tiers.baseline, q);
    const tiers = { ...(admin ? { admin } : {}), ...(baseline ? { baseline } : {}) };
    if (baseline && baseline.action !== 'Pass') return { ...np, ...tiers, allowed: baseline.action === 'Accept', decidedBy: 'baseline', reason: `${before}${np.reason}, then ${said(baseline)}` };
    if (!admin && !baseline) return np;
    return { ...np, ...tiers, reason: `${before}${np.reason}${baseline ? `, then ${said(baseline)}` : ''}: allowed` };
  }

  /** The packet as ClusterNetworkPolicy rules see it from the protected end. */
  private tierQuestion(direction: Direction, localPods: readonly PodRecord[], peerAddress: Address, peerPods: readonly PodRecord[], protocol: string, port: number | undefined): TierQuestion {
    // Named ports resolve on the destination: the protected pods (ingress), the peer's (egress).
    const destination = direction === 'ingress' ? localPods : peerPods;
    const named = (key: string) => destination.flatMap((p) => p.namedPorts.get(key) ?? []);
    return {
      direction,
      selects: (subject: ClusterSubject) => this.selectsAny(subject, localPods),
      peerMatches: (peer: ClusterPeer) => {
        if (peer.kind === 'networks') return peer.cidrs.some((b) => b.family === peerAddress.family && b.first <= peerAddress.value && peerAddress.value <= b.last);
        if (peer.kind === 'nodes') return this.nodesAt(peerAddress).some((n) => selectorMatches(peer.selector, n.labels));
        return this.peerMatches(peer, peerAddress, peerPods);
      },
      portsMatch: (entries) => portMatches(entries, protocol, port, named),
    };
  }

  private peerMatches(peer: Peer, address: Address, peerPods: readonly PodRecord[]): boolean {
    if (peer.kind === 'ipBlock') {
      const inside = (b: { family: Family; first: bigint; last: bigint }) => b.family === address.family && b.first <= address.value && address.value <= b.last;
      return inside(peer.cidr) && !peer.except.some(inside);
    }
    return podPeerMatchesAny(peer, peerPods, this.view);
  }
}

/** Whether a pod peer (namespace and pod selectors) matches one of `pods`. */
export function podPeerMatchesAny(peer: Extract<Peer, { kind: 'pods' }>, pods: readonly PodRecord[], namespaces: Pick<EvaluatorView, 'namespaceLabels'>): boolean {
  return pods.some((pod) => {
    const inNamespace = peer.namespace !== undefined ? pod.namespace === peer.namespace : selectorMatches(peer.namespaceSelector!, namespaces.namespaceLabels(pod.namespace));
    return inNamespace && selectorMatches(peer.podSelector, pod.labels);
  });
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
