/**
 * Peer classes: the address space cut into pieces that every peer in force treats alike, for
 * NetworkPolicy (policy/compile.ts) and ClusterNetworkPolicy tiers (cluster-policy/compile.ts).
 *
 * A sweep over each family's address space, with boundaries at every edge of a peer's ranges
 * and at every single address a peer matches (its pods', or nodes'), and for egress also at
 * every pod address where a named port of a rule resolves, gives disjoint pieces; a piece's
 * class is the set of peers that match it (plus, for egress, what the relevant named ports
 * resolve to there). Pieces of one class that touch are merged. class-space.ts computes them,
 * and keeps them current as peers and pods change.
 */
import crypto from 'node:crypto';
import { maxAddress, type AddressRange, type Family } from './address';
import { ClassSpace } from './class-space';
import type { PodAddress, PodRecord } from './cluster';
import type { ClusterIndex } from './cluster-index';

/** A peer of the rules in force, as the sweep sees it: what addresses it matches. */
export interface ClassPeer<Self extends ClassPeer<Self>> {
  /** Unique among the peers of one space, never reused: classes list their peers in this order. */
  id: number;
  /** Canonical text: equal peers share one entry, and a class's key is made of these. */
  identity: string;
  /** Whole ranges it matches, disjoint per family (ipBlock minus excepts, networks, every address). */
  ranges: readonly AddressRange[];
  /** Pods it matches: each of their addresses is a piece of its own (changed through ClassSpace.setPods only). */
  pods: readonly PodRecord[];
  /** Other single addresses it matches (node addresses). */
  addresses: readonly PodAddress[];
  /** Egress: the named ports (`name/protocol`) of the rules naming this peer (changed through ClassSpace.setNames only). */
  names: Set<string>;
  /** Kept by ClassSpace (buildClasses): the classes it is part of. */
  classes: ClassBuild<Self>[];
}

export interface ClassBuild<P extends ClassPeer<P>> {
  peers: P[];
  /** Egress: what the relevant named ports resolve to on this class's addresses. */
  resolution: Map<string, number[]>;
  signature: string;
  /** Sorted by family, then address; each touches no other of the class. */
  ranges: AddressRange[];
  families: Set<Family>;
  /** What the ClassSpace knows it by: its peers' ids and its signature. */
  spaceKey: string;
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

/**
 * The classes of `peers`, from scratch (cluster-policy/compile.ts); each peer's `classes` lists
 * those it is part of. policy/compile.ts keeps a ClassSpace instead, and follows changes.
 */
export function buildClasses<P extends ClassPeer<P>>(egress: boolean, peers: readonly P[], index: ClusterIndex): ClassBuild<P>[] {
  const space = new ClassSpace<P>(egress, index);
  for (const p of peers) space.addPeer(p);
  space.settle();
  return space.list();
}
