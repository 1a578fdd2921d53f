/**
 * Address arithmetic for peer classes: addresses as BigInt per family (ipam/address parses and
 * prints them), ranges of addresses, and the conversion of a range into the fewest CIDRs that
 * cover exactly it. Pure.
 */
import { bitsOf, formatAddress, IPV4_PATTERN, isCanonicalIpv6, parseAddress, parseCidr, type Family } from '../ipam/address';

export { isCanonicalIpv6, type Family } from '../ipam/address';

/** An inclusive range of addresses of one family. */
export interface AddressRange {
  family: Family;
  first: bigint;
  last: bigint;
}

/** The last address of a family (all ones). */
export function maxAddress(family: Family): bigint {
  return (1n << BigInt(bitsOf(family))) - 1n;
}

/** A bare address as family + number; undefined when the text is not one (ipam/address parses). */
export function parseIp(text: string): { family: Family; value: bigint } | undefined {
  return parseAddress(text);
}

/** The canonical text of an address (dotted quad, RFC 5952), as the kernel lists it. */
export function formatIp(family: Family, value: bigint): string {
  if (family === 4) return formatIpv4(Number(value));
  return formatAddress({ family, value });
}

export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** The canonical text of an address, or undefined when it is not one. */
export function canonicalIpText(text: string): string | undefined {
  // Addresses from objects are nearly always canonical already: told without a parse.
  if (IPV4_PATTERN.test(text) || isCanonicalIpv6(text)) return text;
  const a = parseIp(text);
  return a ? formatIp(a.family, a.value) : undefined;
}

/** A CIDR as the range it covers; host bits of the address are ignored (as Kubernetes does). */
export interface CidrBlock {
  family: Family;
  prefix: number;
  first: bigint;
  last: bigint;
}

export function parseCidrBlock(text: string): CidrBlock | undefined {
  const cidr = parseCidr(text);
  if (!cidr) return undefined;
  const family = cidr.address.family;
  const host = (1n << BigInt(bitsOf(family) - cidr.prefix)) - 1n;
  const first = cidr.address.value & ~host;
  return { family, prefix: cidr.prefix, first, last: first | host };
}

export function formatCidrBlock(block: CidrBlock): string {
  return `${formatIp(block.family, block.first)}/${block.prefix}`;
}

/** floor(log2(value)) for a positive value. */
function log2(value: bigint): number {
  return value.toString(2).length - 1;
}

/**
 * The fewest CIDRs covering exactly [first, last]: at each step the largest aligned block that
 * starts at the current address and does not run past the end. IPv4 in plain numbers (this
 * runs for every piece of every class on every compile), IPv6 in BigInt.
 */
export function rangeToCidrs(range: AddressRange): string[] {
  const out: string[] = [];
  if (range.family === 4) {
    let first = Number(range.first);
    const last = Number(range.last);
    while (first <= last) {
      // Alignment of `first` (32 for 0), and the largest power of two that fits in what is left.
      const align = first === 0 ? 32 : 31 - Math.clz32(first & -first);
      const left = last - first + 1;
      const fits = left >= 2 ** 32 ? 32 : 31 - Math.clz32(left);
      const size = Math.min(align, fits);
      out.push(`${formatIpv4(first)}/${32 - size}`);
      first += 2 ** size;
    }
    return out;
  }
  let first = range.first;
  while (first <= range.last) {
    const align = first === 0n ? 128 : log2(first & -first);
    const size = Math.min(align, log2(range.last - first + 1n));
    out.push(`${formatIp(6, first)}/${128 - size}`);
    first += 1n << BigInt(size);
  }
  return out;
}

/** `outer` minus the union of `holes` (each inside `outer`): sorted, disjoint ranges. */
export function subtractRanges(outer: { first: bigint; last: bigint }, holes: readonly { first: bigint; last: bigint }[]): { first: bigint; last: bigint }[] {
  const sorted = [...holes].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: { first: bigint; last: bigint }[] = [];
  let next = outer.first;
  for (const hole of sorted) {
    if (hole.last < next) continue;
    if (hole.first > next) out.push({ first: next, last: hole.first - 1n });
    next = hole.last + 1n;
    if (next > outer.last) break;
  }
  if (next <= outer.last) out.push({ first: next, last: outer.last });
  return out;
}

export const compareBigInt = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/** IPv4 before IPv6, then by address: the order of `isolated`, allowances and CIDR lists. */
export function compareIpText(a: string, b: string): number {
  const x = parseIp(a);
  const y = parseIp(b);
  if (!x || !y) return a < b ? -1 : a > b ? 1 : 0;
  return x.family - y.family || compareBigInt(x.value, y.value);
}
