/**
 * CNI versions: which ones weft speaks, and conversion of results between the current (1.1.0)
 * form and the forms older configurations ask for. Plugins only ever see and produce the current
 * form; skel converts on the way out (ADD results) and in (prevResult), and delegate.ts converts
 * what an IPAM plugin of another version returns.
 *
 * Differences handled (CNI spec "Result" sections of 0.3.0-1.1.0):
 *  - 0.3.x and 0.4.0 carry `version: "4" | "6"` in each ips entry; 1.x dropped it.
 *  - 0.x routes have only dst and gw, interfaces only name, mac and sandbox; the route
 *    attributes (mtu, advmss, priority, table, scope) and interface mtu/socketPath/pciID came
 *    with 1.x and are removed when converting down.
 */
import { CURRENT_VERSION, CniError, ErrorCode, SUPPORTED_VERSIONS, type DNS, type IPConfig, type Interface, type Result, type Route } from './types';

export type SupportedVersion = (typeof SUPPORTED_VERSIONS)[number];

export function isSupportedVersion(version: unknown): version is SupportedVersion {
  return typeof version === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(version);
}

/** Orders two dotted versions numerically; non-numeric parts compare as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function versionAtLeast(version: string, minimum: string): boolean {
  return compareVersions(version, minimum) >= 0;
}

/** A 0.3.x/0.4.0 ips entry. */
interface LegacyIPConfig extends IPConfig {
  version: '4' | '6';
}

/** The JSON a result becomes for a configuration of `version`. */
export type VersionedResult = Omit<Result, 'ips'> & { ips?: (IPConfig | LegacyIPConfig)[] };

function isLegacy(version: string): boolean {
  return compareVersions(version, '1.0.0') < 0;
}

/** Converts a current-form result to what a config of `version` expects. */
export function resultToVersion(result: Result, version: SupportedVersion): VersionedResult {
  if (!isLegacy(version)) return { ...result, cniVersion: version };
  const out: VersionedResult = { cniVersion: version };
  if (result.interfaces) {
    out.interfaces = result.interfaces.map(({ name, mac, sandbox }) => ({
      name,
      ...(mac !== undefined ? { mac } : {}),
      ...(sandbox !== undefined ? { sandbox } : {}),
    }));
  }
  if (result.ips) {
    out.ips = result.ips.map((ip): LegacyIPConfig => ({ version: ip.address.includes(':') ? '6' : '4', ...ip }));
  }
  if (result.routes) out.routes = result.routes.map(({ dst, gw }) => ({ dst, ...(gw !== undefined ? { gw } : {}) }));
  if (result.dns) out.dns = result.dns;
  return out;
}

function decodeError(what: string): CniError {
  return new CniError(ErrorCode.DecodingFailure, `invalid result: ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw decodeError(`${where}.${key} must be a string`);
  return v;
}

function optionalNumber(obj: Record<string, unknown>, key: string, where: string): number | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw decodeError(`${where}.${key} must be an integer`);
  return v;
}

function arrayOf<T>(value: unknown, where: string, item: (v: Record<string, unknown>, at: string) => T): T[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw decodeError(`${where} must be a list`);
  return value.map((v, i) => {
    const at = `${where}[${i}]`;
    if (!isRecord(v)) throw decodeError(`${at} must be an object`);
    return item(v, at);
  });
}

function withDefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

function parseInterface(v: Record<string, unknown>, at: string): Interface {
  const name = optionalString(v, 'name', at);
  if (name === undefined) throw decodeError(`${at}.name is missing`);
  return withDefined({
    name,
    mac: optionalString(v, 'mac', at),
    mtu: optionalNumber(v, 'mtu', at),
    sandbox: optionalString(v, 'sandbox', at),
    socketPath: optionalString(v, 'socketPath', at),
    pciID: optionalString(v, 'pciID', at),
  });
}

function parseIp(v: Record<string, unknown>, at: string): IPConfig {
  const address = optionalString(v, 'address', at);
  if (address === undefined) throw decodeError(`${at}.address is missing`);
  return withDefined({ address, gateway: optionalString(v, 'gateway', at), interface: optionalNumber(v, 'interface', at) });
}

function parseRoute(v: Record<string, unknown>, at: string): Route {
  const dst = optionalString(v, 'dst', at);
  if (dst === undefined) throw decodeError(`${at}.dst is missing`);
  return withDefined({
    dst,
    gw: optionalString(v, 'gw', at),
    mtu: optionalNumber(v, 'mtu', at),
    advmss: optionalNumber(v, 'advmss', at),
    priority: optionalNumber(v, 'priority', at),
    table: optionalNumber(v, 'table', at),
    scope: optionalNumber(v, 'scope', at),
  });
}

function parseDns(v: unknown): DNS | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) throw decodeError('dns must be an object');
  const strings = (key: string): string[] | undefined => {
    const list = v[key];
    if (list === undefined) return undefined;
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw decodeError(`dns.${key} must be a list of strings`);
    return list as string[];
  };
  return withDefined({ nameservers: strings('nameservers'), domain: optionalString(v, 'domain', 'dns'), search: strings('search'), options: strings('options') });
}

/**
 * Reads a result of any supported version (a prevResult, or an IPAM plugin's output) into the
 * current form. `fallbackVersion` is used when the result itself names none.
 */
export function resultFromJson(json: unknown, fallbackVersion: string): Result {
  if (!isRecord(json)) throw decodeError('not a JSON object');
  const version = json.cniVersion ?? fallbackVersion;
  if (!isSupportedVersion(version)) {
    throw new CniError(ErrorCode.IncompatibleVersion, 'incompatible CNI versions', `result is ${JSON.stringify(version)}, weft supports ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  // parseIp keeps only the 1.x fields, which drops the legacy `version` key.
  return withDefined({
    cniVersion: CURRENT_VERSION,
    interfaces: arrayOf(json.interfaces, 'interfaces', parseInterface),
    ips: arrayOf(json.ips, 'ips', parseIp),
    routes: arrayOf(json.routes, 'routes', parseRoute),
    dns: parseDns(json.dns),
  });
}
