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

/**
 * What a ClusterNetworkPolicy tier does with a packet: `accept` and `drop` are final for the
 * direction; `pass` hands it on (after the Admin tier to NetworkPolicy, after the Baseline tier
 * to the default, allowed). A Pass rule and "no rule of the tier matches" are both `pass`.
 */
export type TierVerdict = 'accept' | 'drop' | 'pass';

/** Destination ports of one protocol whose verdict is this one. */
export interface TierPortRange extends PortRange {
  verdict: TierVerdict;
  /** The rule that decides it ("Admin deny-z ingress rule 2"); absent for `pass` by no rule. */
  rule?: string;
}

/**
 * What a tier decides for one local pod address and the peers of one class (a tier's first
 * matching rule, over every policy of the tier in order, resolved at compile time: a packet
 * meets the outcome, not the rules).
 */
export interface TierDecision {
  /** A local pod address (bare, canonical; IPv4 or IPv6). */
  localIp: string;
  /** The verdict for every protocol and port `ports` does not list (ICMP included). */
  other: TierVerdict;
  /** The rule deciding `other`; absent when it is `pass` by no rule. */
  otherRule?: string;
  /** TCP, UDP and SCTP port ranges whose verdict differs from `other`: sorted, disjoint. */
  ports: TierPortRange[];
}

/** Peer addresses every rule of the tier treats alike (as PeerClass for NetworkPolicy). */
export interface TierClass {
  /** Canonical and stable while the class means the same (names kernel objects). */
  key: string;
  /** Disjoint CIDRs (either family). */
  cidrs: string[];
  /** One per local address with a verdict other than `pass` everywhere; sorted by address. */
  decide: TierDecision[];
}

/** One tier of ClusterNetworkPolicy in one direction, as this node enforces it. */
export interface TierDirection {
  /**
   * Local pod addresses a policy of the tier selects and has rules of this direction for,
   * sorted. Packets of other addresses pass the tier untouched. Baseline: only addresses
   * NetworkPolicy does not isolate in this direction (its verdict is final for the others, so
   * their packets never reach the tier).
   */
  subjects: string[];
  /** Sorted by key. A peer address in no class matches no rule: the tier passes it. */
  classes: TierClass[];
}

export interface TierPolicy {
  ingress: TierDirection;
  egress: TierDirection;
}

export interface NodePolicy {
  ingress: DirectionPolicy;
  egress: DirectionPolicy;
  /**
   * ClusterNetworkPolicy tiers: Admin is consulted before NetworkPolicy, Baseline after it
   * (only for addresses NetworkPolicy does not isolate in that direction). Absent: no policy
   * of the tier selects a local pod.
   */
  admin?: TierPolicy;
  baseline?: TierPolicy;
  problems: PolicyProblem[];
  /** ClusterNetworkPolicies that could not be used (by name), when there are any. */
  clusterProblems?: PolicyProblem[];
}

export const EMPTY_DIRECTION: DirectionPolicy = { isolated: [], anyPeer: [], classes: [] };
export const EMPTY_TIER_DIRECTION: TierDirection = { subjects: [], classes: [] };

/** Packets and bytes. */
export interface PacketCount {
  packets: number;
  bytes: number;
}

/**
 * What one policy did on this node in one direction, since its kernel objects were written:
 * new connections it allowed (counted at their first packets; conntrack passes the rest), and
 * packets dropped at the pods it isolates (counted for every policy isolating the pod). A
 * ClusterNetworkPolicy's are the connections its Accept rules allowed and the packets its Deny
 * rules dropped, where they decided (its Pass rules count nowhere).
 */
export interface PolicyCounter {
  /** "namespace/name" for a NetworkPolicy, "ClusterNetworkPolicy/name" (clusterPolicyCounterName) for a ClusterNetworkPolicy. */
  policy: string;
  direction: 'ingress' | 'egress';
  allowed: PacketCount;
  dropped: PacketCount;
}

/**
 * A ClusterNetworkPolicy's name among the counters' "namespace/name"s: never a NetworkPolicy's,
 * since a namespace name is lower case.
 */
export const clusterPolicyCounterName = (name: string): string => `ClusterNetworkPolicy/${name}`;
