/**
 * IP addresses as numbers, so that ranges can be walked and compared with plain BigInt
 * arithmetic. Validation is node:net's (`isIPv6`; IPv4 by a pattern that accepts exactly what
 * its isIPv4 does, and canonical IPv6 by its shape, both tested); this module only converts
 * validated text to and from numbers. ip-cidr would do the same job but costs ~20 ms to load,
 * which is more than host-local's whole ADD, and it gives no "next address" operation anyway.
 *
 * Text output matches Go's net.IP.String() (what host-local writes as file names): dotted quad
 * for IPv4, RFC 5952 for IPv6; the byte-level conversions are kernel/netlink/ip.ts's.
 */
import net from 'node:net';
import { bytesToIp, ipToBytes } from '../kernel/netlink/ip';

export type Family = 4 | 6;

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

/** An address with a prefix length, e.g. a subnet or a requested "10.0.0.5/24". */
export interface Cidr {
  readonly address: Address;
  readonly prefix: number;
}

export function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128;
}

function toBigInt(bytes: Buffer): bigint {
  return bytes.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
}

function toBytes(address: Address): Buffer {
  const out = Buffer.alloc(address.family === 4 ? 4 : 16);
  let v = address.value;
  for (let i = out.length - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** A dotted quad exactly as node:net's isIPv4 accepts one (no leading zeros), octets captured. */
export const IPV4_PATTERN = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A group as RFC 5952 writes it: lower case, no leading zero. */
const IPV6_GROUP = /^(?:0|[1-9a-f][0-9a-f]{0,3})$/;

/** The longest run of "0" groups. */
function longestZeroRun(groups: readonly string[]): number {
  let longest = 0;
  let run = 0;
  for (const g of groups) {
    run = g === '0' ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  return longest;
}

/**
 * Whether `text` is an IPv6 address written as RFC 5952 (and formatIp) writes it: lower-case
 * groups without leading zeros, the longest run of two or more zero groups (the first of equal
 * ones) as "::", no dotted tail. False for anything else, canonical or not: the caller parses.
 */
export function isCanonicalIpv6(text: string): boolean {
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const [left, right] = halves.map((h) => (h === '' ? [] : h.split(':')));
  const groups = right ? [...left, ...right] : left;
  if (!groups.every((g) => IPV6_GROUP.test(g))) return false;
  if (!right) return groups.length === 8 && longestZeroRun(groups) < 2;
  const compressed = 8 - groups.length;
  // The run "::" stands for is whole (no zero group beside it), the longest, and the first of its length.
  return compressed >= 2 && left.at(-1) !== '0' && right[0] !== '0' && longestZeroRun(left) < compressed && longestZeroRun(right) <= compressed;
}

/** Parses an IPv4 or IPv6 address; undefined when it is not one (zone ids are refused). */
export function parseAddress(text: string): Address | undefined {
  const v4 = IPV4_PATTERN.exec(text);
  if (v4) return { family: 4, value: BigInt(((+v4[1] << 24) >>> 0) + (+v4[2] << 16) + (+v4[3] << 8) + +v4[4]) };
  // Without a colon it is no address. node:net is asked only for IPv6 text that is not written
  // canonically (addresses from objects and the kernel nearly always are): its IPv6 pattern costs
  // ~3-5 ms to compile at first use, a twentieth of a CLI question.
  if (!text.includes(':') || text.includes('%')) return undefined;
  if (isCanonicalIpv6(text)) return { family: 6, value: toBigInt(ipToBytes(text, 6)) };
  return net.isIPv6(text) ? { family: 6, value: toBigInt(ipToBytes(text, 6)) } : undefined;
}

/** Parses "address/prefix"; the address part may have host bits set (callers decide). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseAddress(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!address || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bitsOf(address.family)) return undefined;
  return { address, prefix };
}

export function formatAddress(address: Address): string {
  return bytesToIp(toBytes(address));
}

export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.address)}/${cidr.prefix}`;
}

/** A key for maps and sets: equal addresses give equal keys. */
export function addressKey(address: Address): string {
  return `${address.family}:${address.value.toString(16)}`;
}

export function sameAddress(a: Address, b: Address): boolean {
  return a.family === b.family && a.value === b.value;
}

export function offset(address: Address, delta: bigint): Address {
  return { family: address.family, value: address.value + delta };
}

function hostMask(cidr: Cidr): bigint {
  return (1n << BigInt(bitsOf(cidr.address.family) - cidr.prefix)) - 1n;
}

/** The subnet's first address (all host bits zero). */
export function networkAddress(cidr: Cidr): Address {
  return { family: cidr.address.family, value: cidr.address.value & ~hostMask(cidr) };
}

/** The subnet's last address (all host bits one): the IPv4 broadcast address. */
export function lastAddress(cidr: Cidr): Address {
  return { family: cidr.address.family, value: cidr.address.value | hostMask(cidr) };
}

export function subnetContains(cidr: Cidr, address: Address): boolean {
  return address.family === cidr.address.family && (address.value & ~hostMask(cidr)) === networkAddress(cidr).value;
}
