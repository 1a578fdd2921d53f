/**
 * Text forms of what netlink carries as bytes: IPv4/IPv6 addresses (network order), prefixes and
 * MAC addresses. Validation is node:net's isIP; output follows `ip` (dotted quad, RFC 5952 IPv6,
 * lowercase colon-separated MAC) so that values read back compare equal to what was written.
 */
import net from 'node:net';

export type IpFamily = 4 | 6;

export class AddressFormatError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'AddressFormatError';
  }
}

export function familyOf(ip: string): IpFamily {
  // node:net accepts IPv6 zone ids ("fe80::1%eth0"); netlink has no place for them.
  const kind = ip.includes('%') ? 0 : net.isIP(ip);
  if (kind === 0) throw new AddressFormatError(`not an IP address: ${JSON.stringify(ip)}`);
  return kind as IpFamily;
}

function ipv4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

function ipv6Bytes(text: string): number[] {
  let hexText = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // "::ffff:1.2.3.4": the dotted tail is the last two groups.
    const [a, b, c, d] = ipv4Bytes(text.slice(lastColon + 1));
    hexText = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const [head, tail] = hexText.split('::');
  const left = groupsOf(head);
  const right = tail === undefined ? [] : groupsOf(tail);
  const groups = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** 4 or 16 bytes in network order. `family`: given by a caller that has validated `ip` already. */
export function ipToBytes(ip: string, family: IpFamily = familyOf(ip)): Buffer {
  return Buffer.from(family === 4 ? ipv4Bytes(ip) : ipv6Bytes(ip));
}

function formatIPv6(bytes: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  // The first longest run of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (part: number[]) => part.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

export function bytesToIp(bytes: Buffer): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length === 16) return formatIPv6(bytes);
  throw new AddressFormatError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
}

export interface Prefix {
  family: IpFamily;
  /** The address as written (host bits are kept: "10.0.0.5/24" is an interface address). */
  ip: string;
  length: number;
}

/** Parses "ADDRESS/LEN"; "default" is not accepted here (the caller knows the family). */
export function parsePrefix(cidr: string): Prefix {
  const slash = cidr.indexOf('/');
  if (slash < 0) throw new AddressFormatError(`not a CIDR (ADDRESS/LENGTH): ${JSON.stringify(cidr)}`);
  const ip = cidr.slice(0, slash);
  const family = familyOf(ip);
  const lengthText = cidr.slice(slash + 1);
  const length = Number(lengthText);
  if (!/^\d{1,3}$/.test(lengthText) || length > (family === 4 ? 32 : 128)) {
    throw new AddressFormatError(`bad prefix length in ${JSON.stringify(cidr)}`);
  }
  return { family, ip: bytesToIp(ipToBytes(ip)), length };
}

/** The IPv4 broadcast address of a prefix (all host bits set). */
export function ipv4Broadcast(ip: string, length: number): string {
  const value = ipToBytes(ip).readUInt32BE(0);
  const hostMask = length === 0 ? 0xffffffff : (2 ** (32 - length) - 1) >>> 0;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((value | hostMask) >>> 0, 0);
  return bytesToIp(out);
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export function macToBytes(mac: string): Buffer {
  if (!MAC.test(mac)) throw new AddressFormatError(`not a MAC address (aa:bb:cc:dd:ee:ff): ${JSON.stringify(mac)}`);
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

/** Lowercase colon-separated; works for any hardware address length. */
export function bytesToMac(bytes: Buffer): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}
