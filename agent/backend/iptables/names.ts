/**
 * Names of weft's iptables chains and ipsets. Chains are PREFIX-* (iptables tables are per
 * family, so the same name serves IPv4 and IPv6); sets share one namespace for both families,
 * so their names end in the family (4 or 6) and start with the prefix in lower case.
 *
 * Objects that exist per local pod address or per peer range are named by a hash of what they
 * stand for, which stays the same while it means the same: the next sync names the same kernel
 * objects, and only what changed is rewritten.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { MAX_SET_NAME } from '../../../kernel/ipset';
import { MAX_CHAIN_NAME } from '../../../kernel/iptables/syntax';

export type Family = 4 | 6;
/** 'e' egress (the local pod is the source), 'i' ingress (the local pod is the destination). */
export type Direction = 'e' | 'i';

export const familyOf = (address: string): Family => (net.isIP(address.split('/')[0]) === 6 ? 6 : 4);

export function shortHash(text: string, length: number): string {
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, length);
}

/**
 * Sets of service proxying (render-services.ts), as (address, protocol:port) of frontends:
 * 'svc' those the nat table serves, 'svrej' those of services without endpoints, 'svdrop' those
 * whose endpoints this node may not use, 'svfw' load-balancer IPs with source ranges; 'cidrs'
 * the cluster's pod ranges.
 */
export type ServiceSet = 'svc' | 'svrej' | 'svdrop' | 'svfw' | 'cidrs';

/** A ClusterNetworkPolicy tier: 'a' Admin, 'b' Baseline. */
export type Tier = 'a' | 'b';

/**
 * Sets of a ClusterNetworkPolicy tier in one direction (render-cluster-policy.ts): 'sub' the
 * subjects it decides something for, 'acc', 'drp', 'pas' (local, protocol:port, peer) whose
 * verdict is accept, drop, pass; 'oth' the subjects whose own chain decides the rest.
 */
export type TierSet = `${Tier}${Direction}-${'sub' | 'acc' | 'drp' | 'pas' | 'oth'}`;

/** Fixed-name sets, one per family: the suffix after `${setPrefix}-`, without the family digit. */
export type FixedSet = 'pods' | ServiceSet | `${Direction}-${'iso' | 'anyp' | 'anya' | 'clsp' | 'clsr'}` | TierSet;

const TIER_WORD: Record<Tier, string> = { a: 'ADMIN', b: 'BASELINE' };
const DIRECTION_WORD: Record<Direction, string> = { e: 'EGRESS', i: 'INGRESS' };

/**
 * The chains of one service port, kube-proxy's KUBE-SVC-, KUBE-EXT-, KUBE-FW-: 'SVC' picks a
 * cluster endpoint, 'SVX' an endpoint for external traffic (when those differ), 'EXT' is where
 * external frontends lead, 'FW' checks load-balancer source ranges.
 */
export type ServicePortChain = 'SVC' | 'SVX' | 'EXT' | 'FW';

/** Characters of a hash in a service or endpoint chain's name (the nftables backend's too). */
const SERVICE_HASH = 12;

export class IptablesNames {
  /** Lower-case prefix of set names. */
  readonly setPrefix: string;
  private readonly owned: RegExp;

  constructor(readonly chainPrefix: string) {
    this.setPrefix = chainPrefix.toLowerCase();
    const escaped = this.setPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // Exactly the shapes below: another agent's prefix that merely starts like ours ("weft-lab")
    // gives names this grammar refuses, so its sets are never taken for ours.
    this.owned = new RegExp(`^${escaped}-((pods|cidrs|svc|svrej|svdrop|svfw|[ei]-(iso|anyp|anya|clsp|clsr)|[ab][ei]-(sub|acc|drp|pas|oth))[46]|[ei][46]-[0-9a-f]{10}|t-[0-9a-f]{10})$`);
  }

  chain(suffix: string): string {
    return `${this.chainPrefix}-${suffix}`;
  }

  fixedSet(kind: FixedSet, family: Family): string {
    return this.checked(`${this.setPrefix}-${kind}${family}`);
  }

  /** A set of one local pod address's peers (`what`: 'all', or a protocol and port range). */
  localSet(d: Direction, local: string, what: string, family: Family): string {
    return this.checked(`${this.setPrefix}-${d}${family}-${shortHash(`${local} ${what}`, 10)}`);
  }

  /** The temporary name a set is rebuilt under before it is swapped in. */
  tempSet(name: string): string {
    return this.checked(`${this.setPrefix}-t-${shortHash(name, 10)}`);
  }

  /** The chain of one local pod address's allowances that sets cannot hold. */
  localChain(d: Direction, local: string): string {
    return this.chain(`${d.toUpperCase()}-${shortHash(local, 8)}`);
  }

  /** A node of the search tree over local addresses, covering first..last. */
  treeChain(d: Direction, first: string, last: string): string {
    return this.chain(`${d.toUpperCase()}T-${shortHash(`${first}-${last}`, 8)}`);
  }

  /** The chain of one ClusterNetworkPolicy tier in one direction: PREFIX-ADMIN-INGRESS. */
  tierChain(tier: Tier, d: Direction): string {
    return this.checkedChain(this.chain(`${TIER_WORD[tier]}-${DIRECTION_WORD[d]}`));
  }

  /** Where a tier's drops in one direction go (logged, then dropped). */
  tierDropChain(tier: Tier, d: Direction): string {
    return this.checkedChain(`${this.tierChain(tier, d)}-DROP`);
  }

  /** The chain of one local pod address's tier decisions that the fixed sets cannot hold. */
  tierLocalChain(tier: Tier, d: Direction, local: string): string {
    return this.checkedChain(this.chain(`${tier.toUpperCase()}${d.toUpperCase()}-${shortHash(local, 8)}`));
  }

  /** A node of a tier's search tree over local addresses, covering first..last. */
  tierTreeChain(tier: Tier, d: Direction, first: string, last: string): string {
    return this.checkedChain(this.chain(`${tier.toUpperCase()}${d.toUpperCase()}T-${shortHash(`${first}-${last}`, 8)}`));
  }

  /** A chain of one service port, named by a hash of its key (ServicePortState.key). */
  servicePortChain(kind: ServicePortChain, key: string): string {
    return this.checkedChain(this.chain(`${kind}-${shortHash(key, SERVICE_HASH)}`));
  }

  /** The chain of one endpoint of a service port (kube-proxy's KUBE-SEP-), also its affinity list's name. */
  endpointChain(key: string, ip: string, port: number): string {
    return this.checkedChain(this.chain(`SEP-${shortHash(`${key} ${ip} ${port}`, SERVICE_HASH)}`));
  }

  isTempSet(name: string): boolean {
    return this.ownsSet(name) && name.startsWith(`${this.setPrefix}-t-`);
  }

  /** Whether a set of this name is one weft writes (and so may delete). */
  ownsSet(name: string): boolean {
    return this.owned.test(name);
  }

  private checkedChain(name: string): string {
    if (name.length > MAX_CHAIN_NAME) throw new Error(`iptables chain name ${name} is longer than ${MAX_CHAIN_NAME} characters: use a shorter table name`);
    return name;
  }

  private checked(name: string): string {
    if (name.length > MAX_SET_NAME) throw new Error(`ipset name ${name} is longer than ${MAX_SET_NAME} characters: use a shorter table name`);
    return name;
  }
}
