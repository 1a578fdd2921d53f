/**
 * One EndpointSlice as kube-proxy reads it (pkg/proxy/endpointslicecache.go): its address
 * family, its ports (name, protocol and the number the slice controller resolved the Service's
 * targetPort to for these endpoints) and its endpoints (the first address, the node, the
 * conditions). FQDN slices are not for proxies and are ignored. A bad port or endpoint is
 * reported and left out; the rest of the slice is used. Pure.
 */
import type { ServiceProblem, ServiceProtocol } from '../dataplane/service-state';
import type { KubeObject } from '../objects';
import { familyName, parseServiceIp, type IpFamily } from './addresses';
import { absent, isRecord, readList, readOptionalBoolean, readPortName, readPortNumber, readProtocol } from './fields';

export interface SlicePort {
  name: string;
  protocol: ServiceProtocol;
  port: number;
}

export interface SliceEndpoint {
  /** Canonical address. */
  ip: string;
  sortKey: string;
  nodeName: string | undefined;
  /** Conditions with the API's defaults applied (as kube-proxy reads them): ready nil = true, serving nil = true, terminating nil = false. */
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

export interface ParsedSlice {
  /** Undefined: not an IP slice (FQDN), or unusable (then `problems` says why). */
  family?: IpFamily;
  ports: SlicePort[];
  endpoints: SliceEndpoint[];
  problems: ServiceProblem[];
}

const FAMILIES = new Map<unknown, IpFamily>([
  ['IPv4', 4],
  ['IPv6', 6],
]);

export function parseEndpointSlice(slice: KubeObject): ParsedSlice {
  const object = `${slice.metadata.namespace ?? 'default'}/${slice.metadata.name}`;
  const problems: ServiceProblem[] = [];
  const problem = (reason: string) => problems.push({ object, reason: `EndpointSlice ${reason}` });
  const out: ParsedSlice = { ports: [], endpoints: [], problems };

  const addressType = slice.addressType;
  if (addressType === 'FQDN') return out;
  const family = FAMILIES.get(addressType);
  if (!family) {
    problem(`addressType: Unsupported value ${JSON.stringify(addressType)}: supported values: "IPv4", "IPv6", "FQDN"; the slice is not used`);
    return out;
  }

  const ports = readList(slice.ports);
  if (!ports.ok) problem(`ports: ${ports.reason}`);
  (ports.ok ? ports.value : []).forEach((raw, i) => {
    const where = `ports[${i}]`;
    if (!isRecord(raw)) return void problem(`${where}: Invalid value: must be an object`);
    const name = readPortName(raw.name);
    const protocol = readProtocol(raw.protocol);
    if (!name.ok) return void problem(`${where}.name: ${name.reason}`);
    if (!protocol.ok) return void problem(`${where}.protocol: ${protocol.reason}`);
    // The API reads an absent port as "all ports"; kube-proxy cannot proxy that and ignores it.
    if (absent(raw.port) || raw.port === 0) return void problem(`${where}.port: not set ("all ports" is not supported, as in kube-proxy); the port is not used`);
    const port = readPortNumber(raw.port);
    if (!port.ok) return void problem(`${where}.port: ${port.reason}`);
    out.ports.push({ name: name.value, protocol: protocol.value, port: port.value });
  });

  const endpoints = readList(slice.endpoints);
  if (!endpoints.ok) problem(`endpoints: ${endpoints.reason}`);
  const list = endpoints.ok ? endpoints.value : [];
  // A plain loop, paths built only for problems: this runs for every endpoint in the cluster.
  for (let i = 0; i < list.length; i++) {
    const endpoint = readEndpoint(list[i], family);
    if (typeof endpoint === 'string') problem(`endpoints[${i}]${endpoint}`);
    else out.endpoints.push(endpoint);
  }
  out.family = family;
  return out;
}

/** An endpoint, or the path and reason it is unusable for. */
function readEndpoint(raw: unknown, family: IpFamily): SliceEndpoint | string {
  if (!isRecord(raw)) return ': Invalid value: must be an object';
  // kube-proxy uses the first address: the others are, by API contract, the same endpoint.
  const addresses = raw.addresses;
  const first = Array.isArray(addresses) ? addresses[0] : undefined;
  const ip = parseServiceIp(first);
  if (!ip || ip.family !== family) return `.addresses[0]: Invalid value ${JSON.stringify(first)}: must be an ${familyName(family)} address (addressType ${familyName(family)})`;
  if (!absent(raw.nodeName) && typeof raw.nodeName !== 'string') return `.nodeName: Invalid value ${JSON.stringify(raw.nodeName)}: must be a string`;
  const conditions = absent(raw.conditions) ? {} : raw.conditions;
  if (!isRecord(conditions)) return '.conditions: Invalid value: must be an object';
  const ready = readOptionalBoolean(conditions.ready);
  if (!ready.ok) return `.conditions.ready: ${ready.reason}`;
  const serving = readOptionalBoolean(conditions.serving);
  if (!serving.ok) return `.conditions.serving: ${serving.reason}`;
  const terminating = readOptionalBoolean(conditions.terminating);
  if (!terminating.ok) return `.conditions.terminating: ${terminating.reason}`;
  const isReady = ready.value ?? true;
  // One shape for every endpoint (nodeName present even when undefined): the hot loops stay monomorphic.
  return { ip: ip.ip, sortKey: ip.sortKey, nodeName: raw.nodeName ?? undefined, ready: isReady, serving: serving.value ?? true, terminating: terminating.value ?? false };
}
