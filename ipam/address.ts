/**
 * IP addresses as numbers, so that ranges can be walked and compared with plain BigInt
 * arithmetic. Validation is node:net's (`isIPv6`; IPv4 by a pattern that accepts exactly what
 * its isIPv4 does, tested); this module only converts validated text to and from numbers. ip-cidr would do the same job but costs ~20 ms to load, which is more than
 * host-local's whole ADD, and it gives no "next address" operation anyway.
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

/** Parses an IPv4 or IPv6 address; undefined when it is not one (zone ids are refused). */
export function parseAddress(text: string): Address | undefined {
  const v4 = IPV4_PATTERN.exec(text);
  if (v4) return { family: 4, value: BigInt(((+v4[1] << 24) >>> 0) + (+v4[2] << 16) + (+v4[3] << 8) + +v4[4]) };
  // Without a colon it is no address. node:net is asked only then: its IPv6 pattern costs ~5 ms
  // to compile at first use, which a CLI asking "is NS/POD an address?" need not pay.
  if (!text.includes(':') || text.includes('%')) return undefined;
  return net.isIPv6(text) ? { family: 6, value: toBigInt(ipToBytes(text)) } : undefined;
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
