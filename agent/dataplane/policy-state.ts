/**
 * NetworkPolicy as a node enforces it, in terms no backend has to interpret: for each direction,
 * which local pod addresses are isolated, and what may reach them (ingress) or what they may
 * reach (egress). Peers are grouped into classes: addresses that every rule in force on this
 * node treats alike (the same pod-selector peers and ipBlocks match them, and for egress, their
 * named ports resolve alike). A packet then costs two lookups whatever the number of policies,
 * pods or namespaces: its peer address to its class, then (local address, protocol, port) in
 * what the class allows. policy/ produces this; the nftables and iptables backends render it.
 */

export type PolicyProtocol = 'tcp' | 'udp' | 'sctp';

/** Destination ports of one protocol, inclusive (a single port has first === last). */
export interface PortRange {
  protocol: PolicyProtocol;
  first: number;
  last: number;
}

/**
 * What one local pod address may exchange with a peer class (or with any peer): every protocol
 * and port (`'all'`: a rule without ports), or these port ranges (the destination's ports:
 * the local pod's for ingress, the peer's for egress). Ranges are sorted and do not overlap.
 */
export interface Allowance {
  /** A local pod address (bare, canonical; IPv4 or IPv6). */
  localIp: string;
  ports: 'all' | PortRange[];
  /** The policies ("namespace/name") whose rules allow this, sorted: for counters and explain. */
  policies: string[];
}

/** Peer addresses every rule in force treats alike, and what they are allowed. */
export interface PeerClass {
  /**
   * Canonical and stable while the class means the same: the same key in the next sync names
   * the same kernel objects, so unrelated changes leave them alone.
   */
  key: string;
  /** Disjoint CIDRs (either family) of this class; no CIDR belongs to two classes. */
  cidrs: string[];
  allow: Allowance[];
}

export interface DirectionPolicy {
  /** Local pod addresses selected by a policy of this direction, sorted; the others are open. */
  isolated: string[];
  /**
   * The policies ("namespace/name", sorted) that isolate each address: what its drops are
   * counted against. An isolated address without an entry is isolated for want of its Pod object.
   */
  isolatedBy?: Record<string, string[]>;
  /** Allowed whatever the peer address (rules with no peers: `from`/`to` absent or empty). */
  anyPeer: Allowance[];
  /** Sorted by key. Addresses in no class match no peer. */
  classes: PeerClass[];
}

/** A policy that could not be used, with why (reported, and skipped; the rest is enforced). */
export interface PolicyProblem {
  policy: string;
  reason: string;
}

export interface NodePolicy {
  ingress: DirectionPolicy;
  egress: DirectionPolicy;
  problems: PolicyProblem[];
}

export const EMPTY_DIRECTION: DirectionPolicy = { isolated: [], anyPeer: [], classes: [] };

/** Packets and bytes. */
export interface PacketCount {
  packets: number;
  bytes: number;
}

/**
 * What one policy did on this node in one direction, since its kernel objects were written:
 * new connections it allowed (counted at their first packets; conntrack passes the rest), and
 * packets dropped at the pods it isolates (counted for every policy isolating the pod).
 */
export interface PolicyCounter {
  /** "namespace/name" */
  policy: string;
  direction: 'ingress' | 'egress';
  allowed: PacketCount;
  dropped: PacketCount;
}
