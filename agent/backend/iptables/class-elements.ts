/**
 * The (local pod address, protocol:port, peer) elements of NetworkPolicy's class allowances
 * (render-policy.ts), in whichever of two hash:ip,port,net orientations takes fewer elements,
 * per class and port:
 *
 *   by local   (local address, proto:port, peer CIDR)      |locals| x |class CIDRs|
 *   by peer    (peer address, proto:port, local network)   |peer addresses| x |local networks|
 *
 * The second is exact because the rules that look these sets up are only reached by some local
 * addresses, the domain (a direction's isolated addresses, a tier's subjects), and a local
 * network may hold any address outside it: the locals a class is allowed on a port are covered
 * by the few networks that leave out exactly the domain's other addresses. A class allowed on a
 * port for every isolated pod of the node then costs one element per peer address, not one per
 * (local pod, peer CIDR): at 1,000 policies over 5,000 pods, 340,000 elements become 20,000,
 * which is what ipset restore's time and every sync's diff grow with. (ClusterNetworkPolicy's
 * tier verdicts do not use it yet: their subject set changes before the verdicts in a sync,
 * where this needs the domain to shrink first and grow last.) hash:ip,port,net takes a
 * single address first, so a class's CIDRs are expanded to addresses for it, and classes of
 * wide CIDRs (ipBlocks) keep the first orientation.
 *
 * The networks depend on the domain, which a sync changes together with the sets (isolation
 * and allowances in the order diff-sets.ts gives): an address covered by a network while it is
 * outside the domain in one state is outside the domain's rules in that state, so in between,
 * each packet is still decided as the old or the new state decides it.
 */
import { canonicalElement } from '../../../kernel/ipset';
import { bitsOf, formatAddress, parseAddress } from '../../../ipam/address';
import type { Family } from './names';
import { ipsetFamily, peerNets } from './policy-common';

/** A class CIDR is expanded to its addresses (by-peer orientation) only up to this many. */
export const EXPANDED_NET_MAX = 16;
/** Nor a class beyond this many addresses in all (a class of every pod of a large cluster stays by local). */
export const EXPANDED_CLASS_MAX = 65536;

/** A class's peer CIDRs (hash:net elements) and, when none is wider than EXPANDED_NET_MAX, their addresses. */
export interface ClassPeers {
  nets: readonly string[];
  addresses?: readonly string[];
}

/**
 * Per CIDR list object and family: the compiler hands out the very same list while a class's
 * CIDRs do not change (policy/intern.ts), so a sync that renders a class again (its isolated
 * addresses changed) does not parse its CIDRs again.
 */
const peersMemo = new WeakMap<readonly string[], Partial<Record<Family, ClassPeers>>>();

/** A class's CIDRs (any family) as the peers of family `f`. */
export function classPeers(cidrs: readonly string[], f: Family): ClassPeers {
  let memo = peersMemo.get(cidrs);
  if (!memo) {
    memo = {};
    peersMemo.set(cidrs, memo);
  }
  return (memo[f] ??= expand(peerNets(cidrs, f), f));
}

function expand(nets: readonly string[], f: Family): ClassPeers {
  const bits = bitsOf(f);
  const addresses: string[] = [];
  for (const n of nets) {
    const slash = n.indexOf('/');
    if (slash < 0) {
      addresses.push(n);
      continue;
    }
    const size = 2 ** (bits - Number(n.slice(slash + 1)));
    if (size > EXPANDED_NET_MAX) return { nets };
    const first = parseAddress(n.slice(0, slash))!.value;
    for (let i = 0n; i < BigInt(size); i++) addresses.push(formatAddress({ family: f, value: first + i }));
    if (addresses.length > EXPANDED_CLASS_MAX) return { nets };
  }
  return { nets, addresses };
}

/**
 * The last elements made per class peers object and port, with what they were made from: when
 * the isolated addresses change (a local pod relabelled), most classes still cross the same
 * locals or networks with the same peers, and their elements are not made again.
 */
const elementsMemo = new WeakMap<ClassPeers, Map<string, { key: string; elements: string[] }>>();

function kept(peers: ClassPeers, port: string, key: string, make: () => string[]): string[] {
  let byPort = elementsMemo.get(peers);
  if (!byPort) {
    byPort = new Map();
    elementsMemo.set(peers, byPort);
  }
  const last = byPort.get(port);
  if (last?.key === key) return last.elements;
  const elements = make();
  byPort.set(port, { key, elements });
  return elements;
}

/** Elements of the two orientations, for `--match-set NAME local,dst,peer` and `--match-set NAME peer,dst,local`. */
export interface Crossed {
  byLocal: string[];
  byPeer: string[];
}

export class CrossedElements {
  private readonly domain: { text: string; value: bigint }[];
  private readonly position = new Map<string, number>();
  private readonly covers = new Map<string, string[]>();
  private readonly bits: number;

  /** `domain`: every local address (canonical) that can reach the sets' rules. */
  constructor(
    private readonly f: Family,
    domain: Iterable<string>,
  ) {
    this.bits = bitsOf(f);
    this.domain = [...domain].map((text) => ({ text, value: parseAddress(text)!.value })).sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    this.domain.forEach((d, i) => this.position.set(d.text, i));
  }

  /** Adds to `out` the elements of `peers` x `port` ('tcp:80') x `locals` (canonical, in the domain; others are ignored). */
  add(peers: ClassPeers, port: string, locals: Iterable<string>, out: Crossed): void {
    const inDomain = [...new Set(locals)].filter((l) => this.position.has(l));
    if (inDomain.length === 0 || peers.nets.length === 0) return;
    const byLocal = inDomain.length * peers.nets.length;
    // At least one network per peer address: only then is the cover worth computing.
    const cover = peers.addresses && peers.addresses.length < byLocal ? this.cover(inDomain) : undefined;
    if (cover && peers.addresses!.length * cover.length < byLocal) {
      const addresses = peers.addresses!;
      for (const e of kept(peers, port, `peer ${cover.join(' ')}`, () => addresses.flatMap((a) => cover.map((n) => `${a},${port},${n}`)))) out.byPeer.push(e);
    } else {
      for (const e of kept(peers, port, `local ${inDomain.join(' ')}`, () => inDomain.flatMap((l) => peers.nets.map((n) => `${l},${port},${n}`)))) out.byLocal.push(e);
    }
  }

  /**
   * The fewest networks holding every one of `locals` and no other domain address: each run of
   * them (consecutive in the sorted domain) lies between two other domain addresses (or the
   * ends of the address space), and is covered from its first uncovered address by the largest
   * aligned block that stays between those two. Blocks nest or are disjoint, so taking the
   * largest each time is optimal. Prefix 0 is split in halves (ipset refuses /0).
   */
  private cover(locals: readonly string[]): string[] {
    const at = locals.map((l) => this.position.get(l)!).sort((a, b) => a - b);
    const key = at.join(',');
    const cached = this.covers.get(key);
    if (cached) return cached;
    const out: string[] = [];
    const top = 1n << BigInt(this.bits);
    for (let i = 0; i < at.length; ) {
      let j = i;
      while (j + 1 < at.length && at[j + 1] === at[j] + 1) j++;
      // Run at[i..j]: blocks must stay strictly between its domain neighbours.
      const lo = at[i] > 0 ? this.domain[at[i] - 1].value : -1n;
      const hi = at[j] < this.domain.length - 1 ? this.domain[at[j] + 1].value : top;
      let k = i;
      while (k <= j) {
        const x = this.domain[at[k]].value;
        let prefix = 1;
        let start = x;
        let end = x;
        for (; prefix <= this.bits; prefix++) {
          const size = 1n << BigInt(this.bits - prefix);
          start = x - (x % size);
          end = start + size - 1n;
          if (start > lo && end < hi) break;
        }
        out.push(canonicalElement('hash:net', ipsetFamily(this.f), `${formatAddress({ family: this.f, value: start })}/${prefix}`));
        while (k <= j && this.domain[at[k]].value <= end) k++;
      }
      i = j + 1;
    }
    this.covers.set(key, out);
    return out;
  }
}
