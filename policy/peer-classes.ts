/**
 * Peer classes: the address space cut into pieces that every peer in force treats alike, for
 * NetworkPolicy (policy/compile.ts) and ClusterNetworkPolicy tiers (cluster-policy/compile.ts).
 *
 * A sweep over each family's address space, with boundaries at every edge of a peer's ranges
 * and at every single address a peer matches (its pods', or nodes'), and for egress also at
 * every pod address where a named port of a rule resolves, gives disjoint pieces; a piece's
 * class is the set of peers that match it (plus, for egress, what the relevant named ports
 * resolve to there). Pieces of one class that touch are merged. Pure.
 */
import crypto from 'node:crypto';
import { compareBigInt, maxAddress, type AddressRange, type Family } from './address';
import type { PodAddress, PodRecord } from './cluster';
import type { ClusterIndex } from './cluster-index';

/** A peer of the rules in force, as the sweep sees it: what addresses it matches. */
export interface ClassPeer<Self extends ClassPeer<Self>> {
  /** Its position among the compile's peers: classes list their peers in this order. */
  id: number;
  /** Canonical text: equal peers share one entry, and a class's key is made of these. */
  identity: string;
  /** Whole ranges it matches, disjoint per family (ipBlock minus excepts, networks, every address). */
  ranges: readonly AddressRange[];
  /** Pods it matches: each of their addresses is a piece of its own. */
  pods: readonly PodRecord[];
  /** Other single addresses it matches (node addresses). */
  addresses: readonly PodAddress[];
  /** Egress: the named ports (`name/protocol`) of the rules naming this peer. */
  names: Set<string>;
  /** Filled by buildClasses: the classes it is part of. */
  classes: ClassBuild<Self>[];
}

export interface ClassBuild<P extends ClassPeer<P>> {
  peers: P[];
  /** Egress: what the relevant named ports resolve to on this class's addresses. */
  resolution: Map<string, number[]>;
  signature: string;
  ranges: AddressRange[];
  families: Set<Family>;
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every address of both families: the ranges of a peer that matches anything. */
export const EVERY_ADDRESS: readonly AddressRange[] = [
  { family: 4, first: 0n, last: maxAddress(4) },
  { family: 6, first: 0n, last: maxAddress(6) },
];

/**
 * A short hash of what the class means (`scope`, its peers' identities and, for egress, the
 * named-port resolutions), so that it names the same kernel objects for as long as it means the same.
 */
export function classKey<P extends ClassPeer<P>>(scope: string, c: ClassBuild<P>): string {
  const text = [scope, ...c.peers.map((p) => p.identity).sort(compareText), ...(c.signature ? [`ports ${c.signature}`] : [])].join('\n');
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** One pod address a pod peer matches or where a relevant named port resolves. */
interface Point<P> {
  value: bigint;
  /** Sorted by id, without duplicates. */
  peers: P[];
  pods: readonly PodRecord[];
}

/** The classes of `peers` (sorted by id); each peer's `classes` lists those it is part of. */
export function buildClasses<P extends ClassPeer<P>>(egress: boolean, peers: readonly P[], index: ClusterIndex): ClassBuild<P>[] {
  const points: Record<Family, Map<string, Point<P>>> = { 4: new Map(), 6: new Map() };
  const pointAt = (a: PodAddress): Point<P> => {
    let p = points[a.family].get(a.text);
    if (!p) points[a.family].set(a.text, (p = { value: a.value, peers: [], pods: index.podsAt(a.text) }));
    return p;
  };
  const addPoint = (a: PodAddress, info: P) => {
    const list = pointAt(a).peers;
    if (list[list.length - 1] !== info) list.push(info);
  };
  // Peers in id order, so that each point's list comes out sorted.
  for (const info of peers) {
    for (const pod of info.pods) for (const a of pod.addresses) addPoint(a, info);
    for (const a of info.addresses) addPoint(a, info);
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

  const classes = new Map<string, ClassBuild<P>>();
  const namesMemo = new Map<string, string[]>();
  /** The class of a set of peers (sorted by id) at an address with these pods (none: not a point). */
  const classOf = (set: P[], setKey: string, pods: readonly PodRecord[] | undefined): ClassBuild<P> => {
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
    if (!c) classes.set(key, (c = { peers: set, resolution: resolution ?? new Map(), signature, ranges: [], families: new Set() }));
    return c;
  };

  for (const family of [4, 6] as const) sweep(family, peers, [...points[family].values()], classOf);

  const out = [...classes.values()].filter((c) => c.ranges.length > 0);
  for (const c of out) for (const p of c.peers) p.classes.push(c);
  return out;
}

/** The union of two lists sorted by id. */
function mergeById<P extends { id: number }>(a: readonly P[], b: readonly P[]): P[] {
  const out: P[] = [];
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
 * Walks one family's address space from boundary to boundary, keeping the set of range peers
 * that cover the current piece; a point piece adds the peers that match it alone.
 */
function sweep<P extends ClassPeer<P>>(
  family: Family,
  peers: readonly P[],
  points: readonly Point<P>[],
  classOf: (set: P[], setKey: string, pods: readonly PodRecord[] | undefined) => ClassBuild<P>,
): void {
  const max = maxAddress(family);
  const events: { at: bigint; peer: P; add: boolean }[] = [];
  for (const info of peers) {
    for (const r of info.ranges) {
      if (r.family !== family) continue;
      events.push({ at: r.first, peer: info, add: true });
      if (r.last < max) events.push({ at: r.last + 1n, peer: info, add: false });
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

  const active = new Set<P>();
  let activeList: P[] = [];
  let activeKey = '';
  let dirty = false;
  let e = 0;
  let pi = 0;
  /** Peers of a point on top of the active ranges: the merged set, per (active set, point peers). */
  const unions = new Map<string, { set: P[]; key: string }>();
  let last: { c: ClassBuild<P>; range: AddressRange } | undefined;
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
    let c: ClassBuild<P> | undefined;
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
