/** Services, EndpointSlices and Nodes as the API server returns them, for the proxy compiler's tests. */
import type { KubeObject } from '../../agent/objects';
import { compileServiceState, type ProxyConfig } from '../../agent/proxy/compile';
import type { ServicePortState, ServiceState } from '../../agent/dataplane/service-state';

export function service(name: string, spec: Record<string, unknown>, status?: Record<string, unknown>, namespace = 'default'): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec, ...(status ? { status } : {}) };
}

export interface EndpointSpec {
  ip: string;
  node?: string;
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean | null;
}

/** An endpoint as the slice controller writes it; conditions left out when not given. */
export function endpoint(e: EndpointSpec): Record<string, unknown> {
  const conditions: Record<string, unknown> = {};
  if (e.ready !== undefined) conditions.ready = e.ready;
  if (e.serving !== undefined) conditions.serving = e.serving;
  if (e.terminating !== undefined) conditions.terminating = e.terminating;
  return { addresses: [e.ip], ...(e.node ? { nodeName: e.node } : {}), conditions };
}

const isEndpointSpec = (e: unknown): e is EndpointSpec => typeof e === 'object' && e !== null && typeof (e as { ip?: unknown }).ip === 'string';

export function slice(
  name: string,
  serviceName: string | undefined,
  /** Endpoints given as EndpointSpec (an `ip`) are written out; anything else is used as is. */
  fields: { addressType?: string; ports?: unknown[]; endpoints?: unknown[] },
  namespace = 'default',
): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, ...(serviceName ? { labels: { 'kubernetes.io/service-name': serviceName } } : {}) },
    addressType: fields.addressType ?? 'IPv4',
    ports: fields.ports ?? [{ name: '', port: 8080, protocol: 'TCP' }],
    endpoints: (fields.endpoints ?? []).map((e) => (isEndpointSpec(e) ? endpoint(e) : e)),
  };
}

export function node(name: string, addresses: [type: string, address: string][]): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { addresses: addresses.map(([type, address]) => ({ type, address })) } };
}

export const NODE = 'node-a';
export const PRIMARY: ProxyConfig = { nodePortAddresses: 'primary' };

export function compile(services: KubeObject[], slices: KubeObject[] = [], options: { node?: KubeObject; config?: ProxyConfig; nodeName?: string } = {}): ServiceState {
  return compileServiceState({ services, endpointSlices: slices, node: options.node, nodeName: options.nodeName ?? NODE }, options.config ?? PRIMARY);
}

/** The one port state with this key; fails loudly when absent. */
export function portOf(state: ServiceState, key: string): ServicePortState {
  const p = state.ports.find((x) => x.key === key);
  if (!p) throw new Error(`no port ${key}; have ${state.ports.map((x) => x.key).join(', ')}`);
  return p;
}

/** "ip:port" of a list of endpoints, with "*" for local ones: compact to compare. */
export const eps = (list: readonly { ip: string; port: number; local: boolean }[]): string[] => list.map((e) => `${e.ip.includes(':') ? `[${e.ip}]` : e.ip}:${e.port}${e.local ? '*' : ''}`);
