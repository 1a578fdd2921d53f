/**
 * Words of `ipset restore` input and the canonical text of elements.
 *
 * ipset restore reads one command a line and splits it at blanks, so names and elements are
 * single words without control characters. Elements are compared with what `ipset save` prints,
 * which is not always what was written (`10.0.0.5/24` is saved as `10.0.0.0/24`, a host prefix
 * as the bare address, IPv6 compressed): `canonicalElement` gives both sides the printed form.
 */
import { bitsOf, formatAddress, networkAddress, parseAddress, parseCidr } from '../../ipam/address';
import { IpsetValidationError } from './errors';
import { IPSET_TYPES, type IpsetFamily, type IpsetType } from './types';

/** IPSET_MAXNAMELEN (32) minus the terminating NUL. */
export const MAX_SET_NAME = 31;

const SET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:+-]*$/;
const WORD = /^[^\s\x00-\x1f\x7f"']+$/;
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'udplite']);

function fail(message: string): never {
  throw new IpsetValidationError(message);
}

export function checkSetName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_SET_NAME || !SET_NAME.test(name)) {
    fail(`invalid set name ${JSON.stringify(name)}: 1-${MAX_SET_NAME} letters, digits or _ . : + -, not starting with . : + -`);
  }
  return name;
}

export function checkType(type: unknown): IpsetType {
  if (typeof type !== 'string' || !(IPSET_TYPES as readonly string[]).includes(type)) fail(`unsupported set type ${JSON.stringify(type)}`);
  return type as IpsetType;
}

export function checkFamily(family: unknown): IpsetFamily {
  if (family !== 'inet' && family !== 'inet6') fail(`invalid set family ${JSON.stringify(family)}: expected inet or inet6`);
  return family;
}

export function checkWord(what: string, word: unknown): string {
  if (typeof word !== 'string' || !WORD.test(word)) fail(`invalid ${what} ${JSON.stringify(word)}: one word without blanks, quotes or control characters`);
  return word;
}

/** The dimensions of a type, in element order: 'hash:ip,port,net' -> ['ip', 'port', 'net']. */
export function dimensions(type: IpsetType): string[] {
  return type.slice(type.indexOf(':') + 1).split(',');
}

const familyBits = (family: IpsetFamily) => bitsOf(family === 'inet' ? 4 : 6);

function canonicalIp(text: string, family: IpsetFamily): string {
  const a = parseAddress(text);
  if (!a || bitsOf(a.family) !== familyBits(family)) fail(`${JSON.stringify(text)} is not an ${family} address`);
  return formatAddress(a);
}

/** A network as ipset prints it: host bits cleared, a host prefix as the bare address. */
function canonicalNet(text: string, family: IpsetFamily): string {
  if (!text.includes('/')) return canonicalIp(text, family);
  const c = parseCidr(text);
  if (!c || bitsOf(c.address.family) !== familyBits(family)) fail(`${JSON.stringify(text)} is not an ${family} network`);
  // The kernel refuses prefix 0 in every hash:*net* type: callers split it into two halves.
  if (c.prefix === 0) fail(`${JSON.stringify(text)}: ipset hash types take prefix lengths 1-${bitsOf(c.address.family)}, not 0`);
  const base = formatAddress(networkAddress(c));
  return c.prefix === bitsOf(c.address.family) ? base : `${base}/${c.prefix}`;
}

/** "tcp:80" (a bare port is TCP to ipset); protocols without ports as "proto:0". */
function canonicalPort(text: string): string {
  const colon = text.indexOf(':');
  const proto = colon < 0 ? 'tcp' : text.slice(0, colon).toLowerCase();
  const port = colon < 0 ? text : text.slice(colon + 1);
  if (PORT_PROTOCOLS.has(proto)) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) fail(`${JSON.stringify(text)}: a port is one number 0-65535 (ranges are written as single ports)`);
    return `${proto}:${Number(port)}`;
  }
  return `${proto}:${port}`;
}

/** The element as `ipset save` prints it, for a set of this type and family. */
export function canonicalElement(type: IpsetType, family: IpsetFamily, element: string): string {
  checkWord('element', element);
  const dims = dimensions(type);
  const parts = element.split(',');
  if (parts.length !== dims.length) fail(`element ${JSON.stringify(element)} does not fit ${type} (${dims.length} parts)`);
  return parts
    .map((p, i) => {
      switch (dims[i]) {
        case 'ip':
          return canonicalIp(p, family);
        case 'net':
          return canonicalNet(p, family);
        case 'port':
          return canonicalPort(p);
        default:
          return p;
      }
    })
    .join(',');
}
