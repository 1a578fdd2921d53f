/**
 * One range: a subnet, the part of it addresses are handed out from, and its gateway. Defaults
 * and checks follow host-local's Range.Canonicalize (same messages), with two additions: a
 * start after the end is refused, and network/broadcast addresses are never handed out even
 * when an explicit rangeStart/rangeEnd includes them.
 */
import {
  type Address,
  type Cidr,
  bitsOf,
  formatAddress,
  formatCidr,
  lastAddress,
  networkAddress,
  offset,
  parseAddress,
  parseCidr,
  sameAddress,
  subnetContains,
} from './address';

export interface Range {
  /** The subnet, host bits zero. */
  readonly subnet: Cidr;
  /** First address handed out, inclusive. */
  readonly start: Address;
  /** Last address handed out, inclusive. */
  readonly end: Address;
  readonly gateway: Address;
}

/** A range as written in the configuration (all values unchecked). */
export interface RangeSpec {
  subnet?: unknown;
  rangeStart?: unknown;
  rangeEnd?: unknown;
  gateway?: unknown;
}

function optionalAddress(value: unknown, key: string): Address | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const address = typeof value === 'string' ? parseAddress(value) : undefined;
  if (!address) throw new Error(`invalid ${key} ${JSON.stringify(value)}: not an IP address`);
  return address;
}

/** Validates a configured range and fills in host-local's defaults. Throws Error on bad input. */
export function canonicalRange(spec: RangeSpec): Range {
  if (spec.subnet === undefined || spec.subnet === null || spec.subnet === '') throw new Error('missing subnet');
  const parsed = typeof spec.subnet === 'string' ? parseCidr(spec.subnet) : undefined;
  if (!parsed) throw new Error(`invalid CIDR address: ${String(spec.subnet)}`);
  const family = parsed.address.family;
  // A /31 or /32 (/127, /128) leaves nothing once network and gateway are taken.
  if (parsed.prefix > bitsOf(family) - 2) throw new Error(`Network ${formatCidr(parsed)} too small to allocate from`);
  const subnet: Cidr = { address: networkAddress(parsed), prefix: parsed.prefix };
  if (subnet.address.value !== parsed.address.value) {
    throw new Error(
      `Network has host bits set. For a subnet mask of length ${parsed.prefix} the network address is ${formatAddress(subnet.address)}`,
    );
  }

  const gateway = optionalAddress(spec.gateway, 'gateway') ?? offset(subnet.address, 1n);
  if (gateway.family !== family) throw new Error(`gateway ${formatAddress(gateway)} is not in the address family of ${formatCidr(subnet)}`);

  const start = optionalAddress(spec.rangeStart, 'rangeStart') ?? offset(subnet.address, 1n);
  if (!subnetContains(subnet, start)) throw new Error(`RangeStart ${formatAddress(start)} not in network ${formatCidr(subnet)}`);

  const last = lastAddress(subnet);
  const end = optionalAddress(spec.rangeEnd, 'rangeEnd') ?? (family === 4 ? offset(last, -1n) : last);
  if (!subnetContains(subnet, end)) throw new Error(`RangeEnd ${formatAddress(end)} not in network ${formatCidr(subnet)}`);
  if (start.value > end.value) throw new Error(`RangeStart ${formatAddress(start)} is after RangeEnd ${formatAddress(end)}`);

  return { subnet, start, end, gateway };
}

/** Whether the address lies between the range's start and end (inclusive). */
export function rangeContains(range: Range, address: Address): boolean {
  return address.family === range.start.family && address.value >= range.start.value && address.value <= range.end.value;
}

/**
 * Why an address inside the range must never be handed out, or undefined when it may be: the
 * gateway, the subnet's network address (for IPv6 the subnet-router anycast address) and the
 * IPv4 broadcast address.
 */
export function reservedReason(range: Range, address: Address): string | undefined {
  if (sameAddress(address, range.gateway)) return "subnet's gateway";
  if (sameAddress(address, range.subnet.address)) return "subnet's network address";
  if (address.family === 4 && sameAddress(address, lastAddress(range.subnet))) return "subnet's broadcast address";
  return undefined;
}

export function rangesOverlap(a: Range, b: Range): boolean {
  return a.start.family === b.start.family && a.start.value <= b.end.value && b.start.value <= a.end.value;
}

/** "start-end", as host-local prints a range in its messages. */
export function rangeToString(range: Range): string {
  return `${formatAddress(range.start)}-${formatAddress(range.end)}`;
}
