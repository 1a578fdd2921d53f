/**
 * compileNodePolicy: the NetworkPolicies of the cluster as this node enforces them (see
 * agent/dataplane/policy-state.ts). Per direction:
 *
 *  1. Targets: local pods each policy selects; a policy selecting none is not in force here.
 *     Local pods without a Pod object are isolated with nothing allowed.
 *  2. Grants: the rules of the policies in force. Rules without peers go to `anyPeer`, others
 *     name peers (deduplicated by identity across policies).
 *  3. Classes: a sweep over each family's address space, with boundaries at every ipBlock edge
 *     and every pod address a pod peer matches (for egress also every pod address where a named
 *     port of a rule resolves), gives disjoint pieces; a piece's class is the set of peers that
 *     match it (plus, for egress, what the relevant named ports resolve to there). Pieces of one
 *     class that touch are merged, then cut into CIDRs.
 *  4. Allowances: each grant adds, for each of its targets' addresses, its ports to every class
 *     that contains one of its peers.
 *
 * Egress rules without peers but with named ports cannot go to `anyPeer` (what the name means
 * depends on the destination): their named part is a grant to the pseudo-peer "any", which
 * covers every address and so becomes part of every class.
 */
import crypto from 'node:crypto';
import type { Allowance, DirectionPolicy, NodePolicy, PeerClass, PortRange } from '../agent/dataplane/policy-state';
import { compareBigInt, maxAddress, rangeToCidrs, type AddressRange, type Family } from './address';
import { namedPortKey, type PodAddress, type PodRecord } from './cluster';
import { ClusterIndex } from './cluster-index';
import type { PolicyInput } from './input';
import { parsePolicies, type Direction, type ParsedPolicy, type Peer, type PortEntry } from './parse';
import { normalizePortRanges, resolvePorts } from './ports';
import { selectorMatches } from './selector';

export function compileNodePolicy(input: PolicyInput, nodeName: string): NodePolicy {
  const { policies, problems } = parsePolicies(input.policies);
  const index = new ClusterIndex(input);
  const local = index.localPods(nodeName);
  return {
    ingress: compileDirection('ingress', policies, index, local),
    egress: compileDirection('egress', policies, index, local),
    problems,
  };
}

/** A peer of the rules in force, or the pseudo-peer "any" (every address). */
interface PeerInfo {
  id: number;
  peer: Peer | 'any';
  identity: string;
  /** Egress: the named ports (`name/protocol`) of the rules naming this peer. */
  names: Set<string>;
  classes: ClassBuild[];
}

interface Grant {
  policy: string;
  targets: PodRecord[];
  /** null: any peer (anyPeer). */
  peers: PeerInfo[] | null;
  ports: PortEntry[] | null;
}

interface ClassBuild {
  peers: PeerInfo[];
  /** Egress: what the relevant named ports resolve to on this class's addresses. */
  resolution: Map<string, number[]>;
  signature: string;
  ranges: AddressRange[];
  families: Set<Family>;
  allow: Map<string, AllowBuild>;
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
    if (!info) peers.set(identity, (info = { id: peers.size, peer, identity, names: new Set(), classes: [] }));
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
  const classes = buildClasses(direction, [...peers.values()], index);

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
    const touched = new Set<ClassBuild>();
    for (const p of grant.peers) for (const c of p.classes) touched.add(c);
    if (touched.size === 0) continue;
    const ingressPorts = egress ? [] : grant.targets.map((t) => resolvePorts(grant.ports, (key) => t.namedPorts.get(key)));
    for (const c of touched) {
      const egressPorts = egress ? resolvePorts(grant.ports, (key) => c.resolution.get(key)) : 'all';
      grant.targets.forEach((target, i) => {
        const ports = egress ? egressPorts : ingressPorts[i];
        if (ports !== 'all' && ports.length === 0) return;
        for (const a of target.addresses) if (c.families.has(a.family)) allowOf(c.allow, a.text).add(ports, grant.policy);
      });
    }
  }

  const rank = rankOf(isolated);
  const peerClasses: PeerClass[] = [];
  for (const c of classes) {
    const allow = allowancesOf(c.allow, rank);
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

/**
 * A short hash of what the class means (its peers' identities and, for egress, the named-port
 * resolutions), so that it names the same kernel objects for as long as it means the same.
 */
function classKey(direction: Direction, c: ClassBuild): string {
  const text = [direction, ...c.peers.map((p) => p.identity).sort(compareText), ...(c.signature ? [`ports ${c.signature}`] : [])].join('\n');
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** One pod address a pod peer matches or where a relevant named port resolves. */
interface Point {
  value: bigint;
  /** Sorted by id, without duplicates. */
  peers: PeerInfo[];
  pods: readonly PodRecord[];
}

function buildClasses(direction: Direction, peers: readonly PeerInfo[], index: ClusterIndex): ClassBuild[] {
  const egress = direction === 'egress';
  const points: Record<Family, Map<string, Point>> = { 4: new Map(), 6: new Map() };
  const pointAt = (a: PodAddress): Point => {
    let p = points[a.family].get(a.text);
    if (!p) points[a.family].set(a.text, (p = { value: a.value, peers: [], pods: index.podsAt(a.text) }));
    return p;
  };
  // Peers in id order, so that each point's list comes out sorted.
  for (const info of peers) {
    if (info.peer === 'any' || info.peer.kind !== 'pods') continue;
    for (const pod of index.podsMatching(info.peer)) {
      for (const a of pod.addresses) {
        const list = pointAt(a).peers;
        if (list[list.length - 1] !== info) list.push(info);
      }
    }
  }
  if (egress) {
    const names = new Set<string>();
    for (const info of peers) for (const n of info.names) names.add(n);
    if (names.size > 0) {
      for (const pod of index.podsWithNamedPorts) {
        if (pod.namedPortKeys.some((key) => names.has(key))) for (const a of pod.addresses) pointAt(a);
      }
    }
  }

  const classes = new Map<string, ClassBuild>();
  const namesMemo = new Map<string, string[]>();
  /** The class of a set of peers (sorted by id) at an address with these pods (none: not a point). */
  const classOf = (set: PeerInfo[], setKey: string, pods: readonly PodRecord[] | undefined): ClassBuild => {
    let resolution: Map<string, number[]> | undefined;
    let signature = '';
    if (egress && pods && pods.length > 0) {
      let names = namesMemo.get(setKey);
      if (!names) {
        const all = new Set<string>();
        for (const p of set) for (const n of p.names) all.add(n);
        namesMemo.set(setKey, (names = [...all].sort(compareText)));
      }
      for (const name of names) {
        let ports: number[] | undefined;
        for (const pod of pods) {
          const found = pod.namedPorts.get(name);
          if (found) ports = ports ? [...new Set([...ports, ...found])].sort((a, b) => a - b) : found;
        }
        if (!ports) continue;
        (resolution ??= new Map()).set(name, ports);
        signature += `${signature ? ';' : ''}${name}=${ports.join('+')}`;
      }
    }
    const key = signature ? `${setKey}|${signature}` : setKey;
    let c = classes.get(key);
    if (!c) classes.set(key, (c = { peers: set, resolution: resolution ?? new Map(), signature, ranges: [], families: new Set(), allow: new Map() }));
    return c;
  };

  for (const family of [4, 6] as const) sweep(family, peers, [...points[family].values()], classOf);

  const out = [...classes.values()].filter((c) => c.ranges.length > 0);
  for (const c of out) for (const p of c.peers) p.classes.push(c);
  return out;
}

/** The union of two lists sorted by id. */
function mergeById(a: readonly PeerInfo[], b: readonly PeerInfo[]): PeerInfo[] {
  const out: PeerInfo[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i].id < b[j].id)) out.push(a[i++]);
    else if (i >= a.length || b[j].id < a[i].id) out.push(b[j++]);
    else out.push(a[i++]), j++;
  }
  return out;
}

/**
 * Walks one family's address space from boundary to boundary, keeping the set of ipBlock peers
 * (and "any") that cover the current piece; a point piece adds the pod peers that match it.
 */
function sweep(
  family: Family,
  peers: readonly PeerInfo[],
  points: readonly Point[],
  classOf: (set: PeerInfo[], setKey: string, pods: readonly PodRecord[] | undefined) => ClassBuild,
): void {
  const max = maxAddress(family);
  const events: { at: bigint; peer: PeerInfo; add: boolean }[] = [];
  for (const info of peers) {
    if (info.peer === 'any') events.push({ at: 0n, peer: info, add: true });
    else if (info.peer.kind === 'ipBlock' && info.peer.family === family) {
      for (const r of info.peer.ranges) {
        events.push({ at: r.first, peer: info, add: true });
        if (r.last < max) events.push({ at: r.last + 1n, peer: info, add: false });
      }
    }
  }
  if (events.length === 0 && points.length === 0) return;
  events.sort((a, b) => compareBigInt(a.at, b.at));
  const sortedPoints = [...points].sort((a, b) => compareBigInt(a.value, b.value));
  const bounds: bigint[] = [0n];
  for (const e of events) bounds.push(e.at);
  for (const p of sortedPoints) {
    bounds.push(p.value);
    if (p.value < max) bounds.push(p.value + 1n);
  }
  bounds.sort(compareBigInt);
  const sorted: bigint[] = [];
  for (const b of bounds) if (sorted.length === 0 || sorted[sorted.length - 1] !== b) sorted.push(b);

  const active = new Set<PeerInfo>();
  let activeList: PeerInfo[] = [];
  let activeKey = '';
  let dirty = false;
  let e = 0;
  let pi = 0;
  /** Pod peers of a point on top of the active ipBlocks: the merged set, per (active set, point peers). */
  const unions = new Map<string, { set: PeerInfo[]; key: string }>();
  let last: { c: ClassBuild; range: AddressRange } | undefined;
  for (let i = 0; i < sorted.length; i++) {
    const first = sorted[i];
    while (e < events.length && events[e].at === first) {
      const ev = events[e++];
      if (ev.add) active.add(ev.peer);
      else active.delete(ev.peer);
      dirty = true;
    }
    if (dirty) {
      activeList = [...active].sort((a, b) => a.id - b.id);
      activeKey = activeList.map((p) => p.id).join(',');
      dirty = false;
    }
    const lastAddr = i + 1 < sorted.length ? sorted[i + 1] - 1n : max;
    const point = pi < sortedPoints.length && sortedPoints[pi].value === first ? sortedPoints[pi++] : undefined;
    let c: ClassBuild | undefined;
    if (point) {
      if (point.peers.length === 0) {
        if (activeList.length > 0) c = classOf(activeList, activeKey, point.pods);
      } else {
        const unionKey = `${activeKey}|${point.peers.map((p) => p.id).join(',')}`;
        let union = unions.get(unionKey);
        if (!union) {
          const set = mergeById(activeList, point.peers);
          unions.set(unionKey, (union = { set, key: set.map((p) => p.id).join(',') }));
        }
        c = classOf(union.set, union.key, point.pods);
      }
    } else if (activeList.length > 0) {
      c = classOf(activeList, activeKey, undefined);
    }
    if (!c) {
      last = undefined;
      continue;
    }
    if (last && last.c === c) {
      last.range.last = lastAddr;
      continue;
    }
    const range: AddressRange = { family, first, last: lastAddr };
    c.ranges.push(range);
    c.families.add(family);
    last = { c, range };
  }
}
