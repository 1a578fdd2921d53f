/**
 * The `ipam` section of a network configuration, parsed and validated the way host-local does
 * (same keys, same defaults, same messages where sensible), and the addresses a runtime asks
 * for. Every error is CNI code 7, except an unparsable CNI_ARGS `IP=` (code 4).
 */
import { CniError, ErrorCode, type NetConf, type Route } from '../cni/types';
import { type Address, addressKey, parseAddress, parseCidr } from './address';
import { configError } from './errors';
import { type RangeSpec, canonicalRange } from './range';
import { type RangeSet, rangeSetsOverlap, validateRangeSet } from './rangeset';

/** host-local's default, so that both plugins find the same store without configuration. */
export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';

export interface IpamConfig {
  /** The network's name: the store is the directory <dataDir>/<network>. */
  readonly network: string;
  readonly dataDir: string;
  /** One address is allocated from each set; its index names `last_reserved_ip.<index>`. */
  readonly rangeSets: readonly RangeSet[];
  readonly routes: readonly Route[];
  /** A resolv.conf whose nameserver/search/domain/options become the result's dns. */
  readonly resolvConf?: string;
}

/** The CNI spec's rule for network names; it also keeps the name a single path component. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(section: Record<string, unknown>, key: string): string | undefined {
  const value = section[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw configError(`ipam.${key} must be a string`);
  return value;
}

/** A list of range sets as written in `ranges` or runtimeConfig `ipRanges`. */
function rangeSetSpecs(value: unknown, where: string): RangeSpec[][] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((set) => Array.isArray(set) && set.every(isObject))) {
    throw configError(`${where} must be a list of range sets, each a list of {subnet, rangeStart, rangeEnd, gateway}`);
  }
  return value as RangeSpec[][];
}

function parseRangeSets(specs: RangeSpec[][]): RangeSet[] {
  if (specs.length === 0) throw configError('no IP ranges specified');
  const sets = specs.map((spec, i) => {
    try {
      const set = spec.map(canonicalRange);
      validateRangeSet(set);
      return set;
    } catch (err) {
      throw configError(`invalid range set ${i}: ${(err as Error).message}`);
    }
  });
  for (let i = 0; i < sets.length; i++) {
    for (let j = i + 1; j < sets.length; j++) {
      if (rangeSetsOverlap(sets[i], sets[j])) throw configError(`range set ${i} overlaps with ${j}`);
    }
  }
  return sets;
}

const NUMERIC_ROUTE_KEYS = ['mtu', 'advmss', 'priority', 'table', 'scope'] as const;

function parseRoutes(value: unknown): Route[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw configError('ipam.routes must be a list of {dst, gw}');
  return value.map((entry: unknown, i) => {
    if (!isObject(entry) || typeof entry.dst !== 'string' || !parseCidr(entry.dst)) {
      throw configError(`invalid route ${i}: dst must be a CIDR such as 0.0.0.0/0`);
    }
    const route: Route = { dst: entry.dst };
    if (entry.gw !== undefined && entry.gw !== null && entry.gw !== '') {
      if (typeof entry.gw !== 'string' || !parseAddress(entry.gw)) throw configError(`invalid route ${i}: gw ${JSON.stringify(entry.gw)} is not an IP address`);
      route.gw = entry.gw;
    }
    for (const key of NUMERIC_ROUTE_KEYS) {
      if (typeof entry[key] === 'number') route[key] = entry[key] as number;
    }
    return route;
  });
}

/**
 * Reads the ipam section of a network configuration (the whole configuration of the calling
 * plugin, as IPAM plugins receive it). Range sets, in order: runtimeConfig.ipRanges (the
 * "ipRanges" capability), the legacy single range (ipam.subnet/rangeStart/rangeEnd/gateway),
 * then ipam.ranges -- host-local's order, which fixes the `last_reserved_ip.<index>` names.
 */
export function parseIpamConfig(netConf: NetConf): IpamConfig {
  if (typeof netConf.name !== 'string' || netConf.name === '') throw configError('missing network name');
  if (!NETWORK_NAME.test(netConf.name)) {
    throw configError(`invalid network name ${JSON.stringify(netConf.name)}`, 'a name starts with a letter or digit, then letters, digits, "_", "." or "-"');
  }
  const ipam: unknown = netConf.ipam;
  if (!isObject(ipam)) throw configError("IPAM config missing 'ipam' key");

  const legacy: RangeSpec[][] =
    ipam.subnet !== undefined && ipam.subnet !== null && ipam.subnet !== ''
      ? [[{ subnet: ipam.subnet, rangeStart: ipam.rangeStart, rangeEnd: ipam.rangeEnd, gateway: ipam.gateway }]]
      : [];
  const runtimeRanges = rangeSetSpecs(netConf.runtimeConfig?.ipRanges, 'runtimeConfig.ipRanges');
  const specs = [...runtimeRanges, ...legacy, ...rangeSetSpecs(ipam.ranges, 'ipam.ranges')];

  return {
    network: netConf.name,
    dataDir: optionalString(ipam, 'dataDir') ?? DEFAULT_DATA_DIR,
    rangeSets: parseRangeSets(specs),
    routes: parseRoutes(ipam.routes),
    resolvConf: optionalString(ipam, 'resolvConf'),
  };
}

/** "10.0.0.5" or "10.0.0.5/24" (the prefix is ignored, as host-local does). */
function parseRequested(text: string): Address | undefined {
  const slash = text.indexOf('/');
  return slash < 0 ? parseAddress(text) : parseCidr(text)?.address;
}

function stringList(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw configError(`${where} must be a list of IP addresses`);
  return value as string[];
}

/**
 * The addresses the runtime asks for, from (in this order) CNI_ARGS `IP=` (several separated by
 * commas -- host-local accepts only one), the config's args.cni.ips and runtimeConfig.ips (the
 * "ips" capability). Duplicates are dropped.
 */
export function requestedAddresses(netConf: NetConf, cniArgs: ReadonlyMap<string, string>): Address[] {
  const found = new Map<string, Address>();
  const add = (address: Address) => found.set(addressKey(address), address);

  const fromEnv = cniArgs.get('IP');
  if (fromEnv !== undefined && fromEnv !== '') {
    for (const text of fromEnv.split(',')) {
      const address = parseRequested(text.trim());
      if (!address) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_ARGS: invalid IP address ${JSON.stringify(text)}`);
      add(address);
    }
  }
  const args = netConf.args;
  const cniSection = isObject(args) ? args.cni : undefined;
  const fromConfig = [
    ...stringList(isObject(cniSection) ? cniSection.ips : undefined, 'args.cni.ips'),
    ...stringList(netConf.runtimeConfig?.ips, 'runtimeConfig.ips'),
  ];
  for (const text of fromConfig) {
    const address = parseRequested(text);
    if (!address) throw configError(`cannot understand ip: ${JSON.stringify(text)}`);
    add(address);
  }
  return [...found.values()];
}
