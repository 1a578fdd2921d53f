/**
 * The connections policy denied on this node, as their packets arrive from the drop log
 * (NFLOG, see log-rules.ts): a small ring of the most recent, each flow once (a retransmitted
 * SYN or a burst of datagrams of one flow counts on its record), named in Kubernetes terms
 * when recorded (which pods the addresses are, which policies isolate the pod that dropped
 * it, and for a ClusterNetworkPolicy tier's drop which policy and rule denied it), and handed
 * to followers (weftctl policy drops --follow) as each new flow is recorded.
 */
import type { NflogPacket } from '../../kernel/nflog';
import { parsePacketHeaders, type PacketHeaders } from '../../kernel/nflog';
import { dropOriginOf, type DropDirection, type DropTier } from './log-rules';

export interface PolicyDrop {
  /** When the flow's first and last denied packets were logged (Unix ms). */
  firstSeen: number;
  lastSeen: number;
  /** Its packets logged (the log is rate-limited: under a flood, fewer than were dropped). */
  packets: number;
  direction: DropDirection;
  family: 4 | 6;
  /** "TCP", "UDP", "SCTP", "ICMP", "IPV6-ICMP" or the protocol number. */
  protocol: string;
  source: string;
  sourcePort?: number;
  /** "namespace/name" of the pod with the address, when one has it. */
  sourcePod?: string;
  destination: string;
  destinationPort?: number;
  destinationPod?: string;
  /** The pod of this node whose isolation dropped it: the destination (ingress) or source (egress). */
  pod?: string;
  /** The NetworkPolicies isolating that pod in that direction. */
  policies: string[];
  /** The ClusterNetworkPolicy tier whose rule denied it; absent: NetworkPolicy did. */
  tier?: DropTier;
  /** The ClusterNetworkPolicy (its name) and the rule of it that denied it, when the tier's model says. */
  clusterPolicy?: string;
  /** The rule in words: "Admin priority 10 deny-z ingress rule 2 (from-z): Deny". */
  rule?: string;
  /** TCP flags of the first packet ("SYN" for a new connection). */
  tcpFlags?: string;
}

/**
 * Kubernetes names for a denied packet's ends and what denied it (agent/api/inspect-answers.ts
 * gives them from the policy model); `tier` when a ClusterNetworkPolicy tier's rule dropped it.
 */
export type DropNamer = (headers: PacketHeaders, direction: DropDirection, tier?: DropTier) => Pick<PolicyDrop, 'sourcePod' | 'destinationPod' | 'pod' | 'policies' | 'clusterPolicy' | 'rule'>;

export interface DropLogOptions {
  /** Flows kept; the oldest go first. 512 by default. */
  capacity?: number;
  /** A packet of a flow last seen within this many ms counts on its record; 30 s by default. */
  repeatWindowMs?: number;
  name: DropNamer;
}

const flowKey = (d: DropDirection, tier: DropTier | undefined, h: PacketHeaders) => `${d} ${tier ?? ''} ${h.protocol} ${h.source} ${h.sourcePort ?? ''} ${h.destination} ${h.destinationPort ?? ''}`;

export class PolicyDropLog {
  private readonly ring: { key: string; drop: PolicyDrop }[] = [];
  private readonly byFlow = new Map<string, PolicyDrop>();
  private readonly followers = new Set<(drop: PolicyDrop) => void>();
  private readonly capacity: number;
  private readonly repeatWindowMs: number;
  /** Logged packets that were not a policy drop or could not be read. */
  ignored = 0;

  constructor(private readonly options: DropLogOptions) {
    this.capacity = options.capacity ?? 512;
    this.repeatWindowMs = options.repeatWindowMs ?? 30_000;
  }

  /** One logged packet: a new flow is recorded and handed to followers, a repeat counted. */
  record(packet: NflogPacket): void {
    const origin = dropOriginOf(packet.prefix);
    const headers = origin && parsePacketHeaders(packet.payload);
    if (!origin || !headers) {
      this.ignored++;
      return;
    }
    const { direction, tier } = origin;
    const key = flowKey(direction, tier, headers);
    const seen = this.byFlow.get(key);
    if (seen && packet.receivedAt - seen.lastSeen <= this.repeatWindowMs) {
      seen.packets++;
      seen.lastSeen = packet.receivedAt;
      return;
    }
    const drop: PolicyDrop = {
      firstSeen: packet.receivedAt,
      lastSeen: packet.receivedAt,
      packets: 1,
      direction,
      family: headers.family,
      protocol: headers.protocol.toUpperCase(),
      source: headers.source,
      ...(headers.sourcePort !== undefined ? { sourcePort: headers.sourcePort } : {}),
      destination: headers.destination,
      ...(headers.destinationPort !== undefined ? { destinationPort: headers.destinationPort } : {}),
      ...(headers.tcpFlags !== undefined ? { tcpFlags: headers.tcpFlags } : {}),
      ...(tier ? { tier } : {}),
      ...this.options.name(headers, direction, tier),
    };
    this.byFlow.set(key, drop);
    this.ring.push({ key, drop });
    if (this.ring.length > this.capacity) {
      const gone = this.ring.shift()!;
      if (this.byFlow.get(gone.key) === gone.drop) this.byFlow.delete(gone.key);
    }
    for (const follower of this.followers) follower(drop);
  }

  /** The flows kept, oldest first. */
  recent(): PolicyDrop[] {
    return this.ring.map((r) => r.drop);
  }

  /** Calls `follower` with each new flow until the returned function is called. */
  follow(follower: (drop: PolicyDrop) => void): () => void {
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }

  get followerCount(): number {
    return this.followers.size;
  }
}
