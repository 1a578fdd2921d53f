/**
 * What a backend does with a compiled NodePolicy, for one packet: the peer address to its class
 * (the class whose CIDRs contain it), then the local address, protocol and port in what
 * `anyPeer` and that class allow. Used to check the compiler against the reference evaluator,
 * and by `weftctl policy trace` to show what the kernel was told.
 */
import type { DirectionPolicy, PeerClass } from '../agent/dataplane/policy-state';
import { parseCidrBlock, parseIp, type CidrBlock } from './address';
import { portsAllow } from './ports';

export interface LookupResult {
  allowed: boolean;
  isolated: boolean;
  /** The class of the peer address, if any. */
  classKey?: string;
  policies: string[];
}

/** A DirectionPolicy with its CIDRs parsed once, for repeated lookups. */
export class DirectionLookup {
  private readonly isolated: Set<string>;
  private readonly blocks: { block: CidrBlock; cls: PeerClass }[];

  constructor(private readonly policy: DirectionPolicy) {
    this.isolated = new Set(policy.isolated);
    this.blocks = policy.classes.flatMap((cls) => cls.cidrs.map((cidr) => {
      const block = parseCidrBlock(cidr);
      if (!block) throw new TypeError(`class ${cls.key} has an invalid CIDR ${cidr}`);
      return { block, cls };
    }));
  }

  classOf(peerIp: string): PeerClass | undefined {
    const a = parseIp(peerIp);
    if (!a) throw new TypeError(`not an address: ${peerIp}`);
    return this.blocks.find(({ block }) => block.family === a.family && block.first <= a.value && a.value <= block.last)?.cls;
  }

  /** Whether a packet between a local pod address and a peer is allowed in this direction. */
  lookup(localIp: string, peerIp: string, protocol: string, port: number | undefined): LookupResult {
    if (!this.isolated.has(localIp)) return { allowed: true, isolated: false, policies: [] };
    const cls = this.classOf(peerIp);
    const candidates = [...this.policy.anyPeer, ...(cls?.allow ?? [])].filter((a) => a.localIp === localIp && portsAllow(a.ports, protocol, port));
    return { allowed: candidates.length > 0, isolated: true, ...(cls ? { classKey: cls.key } : {}), policies: [...new Set(candidates.flatMap((a) => a.policies))].sort() };
  }
}
