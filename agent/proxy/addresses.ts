/**
 * Addresses as the proxy compiler needs them: validated, canonical (the kernel's form, see
 * canonicalIp), with their family and a key that sorts them by address rather than by text
 * ("10.0.0.9" before "10.0.0.10"). Pure.
 */
import { canonicalIp } from '../compile/local-pods';
import net from 'node:net';

export type IpFamily = 4 | 6;

export interface ParsedIp {
  /** Canonical text. */
  ip: string;
  family: IpFamily;
  /** Compares like the address: fixed-width hex of its value, IPv4 before IPv6. */
  sortKey: string;
}

/**
 * IPv4 by scanning characters (no split, no regular expression): endpoints are mostly IPv4
 * and every one of them goes through here. Dotted quad only, no leading zeros (as Go's parser
 * and node:net require).
 */
function parseIpv4(text: string): ParsedIp | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return undefined;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return undefined; // a leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255) return undefined;
      digits++;
    } else return undefined;
  }
  if (digits === 0 || dots !== 3) return undefined;
  value = value * 256 + octet;
  return { ip: text, family: 4, sortKey: `4${value.toString(16).padStart(8, '0')}` };
}

/** IPv6 through canonicalIp, then the canonical text expanded to its 32 hex digits. */
function parseIpv6(text: string): ParsedIp | undefined {
  if (text.includes('%') || !net.isIPv6(text)) return undefined;
  // canonicalIp writes an embedded IPv4 part as hex groups too: only hex groups and "::" remain.
  const ip = canonicalIp(text);
  const gap = ip.indexOf('::');
  let groups: string[];
  if (gap < 0) groups = ip.split(':');
  else {
    const head = gap === 0 ? [] : ip.slice(0, gap).split(':');
    const tail = gap + 2 === ip.length ? [] : ip.slice(gap + 2).split(':');
    groups = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  }
  let key = '6';
  for (const g of groups) key += g.padStart(4, '0');
  return { ip, family: 6, sortKey: key };
}

/** A bare IPv4 or IPv6 address (no prefix, no zone); undefined when the text is not one. */
export function parseServiceIp(text: unknown): ParsedIp | undefined {
  if (typeof text !== 'string') return undefined;
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

export const familyName = (family: IpFamily): 'IPv4' | 'IPv6' => (family === 4 ? 'IPv4' : 'IPv6');

/** Plain text order, for keys and names (not addresses). */
export const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sorts canonical addresses by address, IPv4 first, dropping duplicates. */
export function sortIps(ips: readonly string[]): string[] {
  if (ips.length === 0) return [];
  return [...new Set(ips)]
    .map((ip) => ({ ip, key: parseServiceIp(ip)?.sortKey ?? ip }))
    .sort((a, b) => compareText(a.key, b.key))
    .map((x) => x.ip);
}
