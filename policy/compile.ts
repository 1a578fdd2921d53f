/**
 * compileNodePolicy: the NetworkPolicies of the cluster as this node enforces them (see
 * agent/dataplane/policy-state.ts). Per direction:
 *
 *  1. Targets: local pods each policy selects; a policy selecting none is not in force here.
 *     Local pods without a Pod object are isolated with nothing allowed.
 *  2. Grants: the rules of the policies in force. Rules without peers go to `anyPeer`, others
 *     name peers (deduplicated by identity across policies).
 *  3. Classes (peer-classes.ts): a sweep over each family's address space, with boundaries at
 *     every ipBlock edge and every pod address a pod peer matches (for egress also every pod
 *     address where a named port of a rule resolves), gives disjoint pieces; a piece's class is
 *     the set of peers that match it (plus, for egress, what the relevant named ports resolve to
 *     there). Pieces of one class that touch are merged, then cut into CIDRs.
 *  4. Allowances: each grant adds, for each of its targets' addresses, its ports to every class
 *     that contains one of its peers.
 *
 * Egress rules without peers but with named ports cannot go to `anyPeer` (what the name means
 * depends on the destination): their named part is a grant to the pseudo-peer "any", which
 * covers every address and so becomes part of every class.
 */
import type { Allowance, DirectionPolicy, NodePolicy, PeerClass, PortRange } from '../agent/dataplane/policy-state';
import { compareBigInt, rangeToCidrs, type AddressRange, type Family } from './address';
import { namedPortKey, type PodRecord } from './cluster';
import { ClusterIndex } from './cluster-index';
import { compileClusterTiers } from './cluster-policy/compile';
import { parseClusterPolicies } from './cluster-policy/parse';
import type { PolicyInput } from './input';
import { parsePolicies, type Direction, type ParsedPolicy, type Peer, type PortEntry } from './parse';
import { buildClasses, classKey, EVERY_ADDRESS, type ClassBuild, type ClassPeer } from './peer-classes';
import { normalizePortRanges, resolvePorts } from './ports';
import { selectorMatches } from './selector';

export function compileNodePolicy(input: PolicyInput, nodeName: string): NodePolicy {
  const { policies, problems } = parsePolicies(input.policies);
  const index = new ClusterIndex(input);
  const local = index.localPods(nodeName);
  // ClusterNetworkPolicy tiers around NetworkPolicy (cluster-policy/compile.ts).
  const cluster = parseClusterPolicies(input.clusterPolicies ?? []);
  const ingress = compileDirection('ingress', policies, index, local);
  const egress = compileDirection('egress', policies, index, local);
  const isolated = { ingress: new Set(ingress.isolated), egress: new Set(egress.isolated) };
  return {
    ingress,
    egress,
    ...compileClusterTiers(cluster.policies, index, local, input.nodes ?? [], isolated),
    problems,
    ...(cluster.problems.length > 0 ? { clusterProblems: cluster.problems } : {}),
  };
}

/** A peer of the rules in force, or the pseudo-peer "any" (every address). */
interface PeerInfo extends ClassPeer<PeerInfo> {
  peer: Peer | 'any';
}

/** What a peer matches, as the class sweep takes it. */
function matchOf(peer: Peer | 'any', index: ClusterIndex): Pick<PeerInfo, 'ranges' | 'pods' | 'addresses'> {
  if (peer === 'any') return { ranges: EVERY_ADDRESS, pods: [], addresses: [] };
  if (peer.kind === 'ipBlock') return { ranges: peer.ranges.map((r): AddressRange => ({ family: peer.family, first: r.first, last: r.last })), pods: [], addresses: [] };
  return { ranges: [], pods: index.podsMatching(peer), addresses: [] };
}

interface Grant {
  policy: string;
  targets: PodRecord[];
  /** null: any peer (anyPeer). */
  peers: PeerInfo[] | null;
  ports: PortEntry[] | null;
}

class AllowBuild {
  all = false;
  ranges: PortRange[] = [];
  readonly policies = new Set<string>();

  add(ports: 'all' | PortRange[], policy: string): void {
    if (ports === 'all') this.all = true;
    else if (ports.length === 0) return;
    else for (const r of ports) this.ranges.push(r);
    this.policies.add(policy);
  }
}

const NO_NAMES = (): undefined => undefined;
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function compileDirection(direction: Direction, policies: readonly ParsedPolicy[], index: ClusterIndex, local: readonly PodRecord[]): DirectionPolicy {
  const egress = direction === 'egress';
  const localByNamespace = new Map<string, PodRecord[]>();
  for (const pod of local) if (pod.labels !== null) (localByNamespace.get(pod.namespace) ?? localByNamespace.set(pod.namespace, []).get(pod.namespace)!).push(pod);

  // 1. Targets; unknown local pods are isolated and get nothing.
  const isolated = new Map<string, { family: Family; value: bigint }>();
  const isolatedBy = new Map<string, Set<string>>();
  for (const pod of local) if (pod.labels === null) for (const a of pod.addresses) isolated.set(a.text, a);

  // 2. Grants and their peers.
  const peers = new Map<string, PeerInfo>();
  const peerOf = (peer: Peer | 'any'): PeerInfo => {
    const identity = peer === 'any' ? 'any' : peer.identity;
    let info = peers.get(identity);
    if (!info) peers.set(identity, (info = { id: peers.size, peer, identity, ...matchOf(peer, index), names: new Set(), classes: [] }));
    return info;
  };
  const grants: Grant[] = [];
  for (const policy of policies) {
    const rules = policy[direction];
    if (!rules) continue;
    const targets = (localByNamespace.get(policy.namespace) ?? []).filter((p) => selectorMatches(policy.podSelector, p.labels));
    if (targets.length === 0) continue;
    for (const pod of targets) {
      for (const a of pod.addresses) {
        isolated.set(a.text, a);
        (isolatedBy.get(a.text) ?? isolatedBy.set(a.text, new Set()).get(a.text)!).add(policy.id);
      }
    }
    for (const rule of rules) {
      const named = rule.ports?.filter((e) => e.kind === 'named') ?? [];
      if (rule.peers === null) {
        if (egress && named.length > 0) {
          grants.push({ policy: policy.id, targets, peers: null, ports: rule.ports!.filter((e) => e.kind !== 'named') });
          grants.push({ policy: policy.id, targets, peers: [peerOf('any')], ports: named });
        } else grants.push({ policy: policy.id, targets, peers: null, ports: rule.ports });
        continue;
      }
      grants.push({ policy: policy.id, targets, peers: rule.peers.map(peerOf), ports: rule.ports });
    }
  }
  if (egress) {
    for (const g of grants) {
      if (!g.peers || !g.ports) continue;
      for (const e of g.ports) if (e.kind === 'named') for (const p of g.peers) p.names.add(namedPortKey(e.name, e.protocol));
    }
  }

  // 3. Classes.
  const classes = buildClasses(egress, [...peers.values()], index);
  const allowOfClass = new Map<ClassBuild<PeerInfo>, Map<string, AllowBuild>>(classes.map((c) => [c, new Map()]));

  // 4. Allowances.
  const anyPeer = new Map<string, AllowBuild>();
  for (const grant of grants) {
    if (grant.peers === null) {
      for (const target of grant.targets) {
        const ports = resolvePorts(grant.ports, egress ? NO_NAMES : (key) => target.namedPorts.get(key));
        if (ports !== 'all' && ports.length === 0) continue;
        for (const a of target.addresses) allowOf(anyPeer, a.text).add(ports, grant.policy);
      }
      continue;
    }
    const touched = new Set<ClassBuild<PeerInfo>>();
    for (const p of grant.peers) for (const c of p.classes) touched.add(c);
    if (touched.size === 0) continue;
    const ingressPorts = egress ? [] : grant.targets.map((t) => resolvePorts(grant.ports, (key) => t.namedPorts.get(key)));
    for (const c of touched) {
      const egressPorts = egress ? resolvePorts(grant.ports, (key) => c.resolution.get(key)) : 'all';
      grant.targets.forEach((target, i) => {
        const ports = egress ? egressPorts : ingressPorts[i];
        if (ports !== 'all' && ports.length === 0) return;
        for (const a of target.addresses) if (c.families.has(a.family)) allowOf(allowOfClass.get(c)!, a.text).add(ports, grant.policy);
      });
    }
  }

  const rank = rankOf(isolated);
  const peerClasses: PeerClass[] = [];
  for (const c of classes) {
    const allow = allowancesOf(allowOfClass.get(c)!, rank);
    if (allow.length === 0) continue;
    peerClasses.push({ key: classKey(direction, c), cidrs: c.ranges.flatMap(rangeToCidrs), allow });
  }
  peerClasses.sort((a, b) => compareText(a.key, b.key));
  const by = Object.fromEntries([...rank.keys()].filter((ip) => isolatedBy.has(ip)).map((ip) => [ip, [...isolatedBy.get(ip)!].sort(compareText)]));
  return { isolated: [...rank.keys()], isolatedBy: by, anyPeer: allowancesOf(anyPeer, rank), classes: peerClasses };
}

function allowOf(map: Map<string, AllowBuild>, ip: string): AllowBuild {
  let a = map.get(ip);
  if (!a) map.set(ip, (a = new AllowBuild()));
  return a;
}

/** Local addresses in order (IPv4 first, then by value), to sort allowances without reparsing. */
function rankOf(addresses: Map<string, { family: Family; value: bigint }>): Map<string, number> {
  const sorted = [...addresses.entries()].sort(([, a], [, b]) => a.family - b.family || compareBigInt(a.value, b.value));
  return new Map(sorted.map(([text], i) => [text, i]));
}

function allowancesOf(map: Map<string, AllowBuild>, rank: Map<string, number>): Allowance[] {
  const out: Allowance[] = [];
  for (const [localIp, a] of map) {
    out.push({ localIp, ports: a.all ? 'all' : normalizePortRanges(a.ranges), policies: [...a.policies].sort(compareText) });
  }
  return out.sort((x, y) => rank.get(x.localIp)! - rank.get(y.localIp)!);
}
