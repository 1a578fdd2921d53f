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

export type Family = 4 | 6;
/** 'e' egress (the local pod is the source), 'i' ingress (the local pod is the destination). */
export type Direction = 'e' | 'i';

export const familyOf = (address: string): Family => (net.isIP(address.split('/')[0]) === 6 ? 6 : 4);

export function shortHash(text: string, length: number): string {
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** Fixed-name sets, one per family: the suffix after `${setPrefix}-`, without the family digit. */
export type FixedSet = 'pods' | `${Direction}-${'iso' | 'anyp' | 'anya' | 'clsp'}`;

export class IptablesNames {
  /** Lower-case prefix of set names. */
  readonly setPrefix: string;
  private readonly owned: RegExp;

  constructor(readonly chainPrefix: string) {
    this.setPrefix = chainPrefix.toLowerCase();
    const escaped = this.setPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // Exactly the shapes below: another agent's prefix that merely starts like ours ("weft-lab")
    // gives names this grammar refuses, so its sets are never taken for ours.
    this.owned = new RegExp(`^${escaped}-(pods[46]|[ei]-(iso|anyp|anya|clsp)[46]|[ei][46]-[0-9a-f]{10}|t-[0-9a-f]{10})$`);
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

  isTempSet(name: string): boolean {
    return this.ownsSet(name) && name.startsWith(`${this.setPrefix}-t-`);
  }

  /** Whether a set of this name is one weft writes (and so may delete). */
  ownsSet(name: string): boolean {
    return this.owned.test(name);
  }

  private checked(name: string): string {
    if (name.length > MAX_SET_NAME) throw new Error(`ipset name ${name} is longer than ${MAX_SET_NAME} characters: use a shorter table name`);
    return name;
  }
}
