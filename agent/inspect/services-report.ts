/**
 * `weftctl services`: the service ports the agent last applied (ServiceState), each frontend and
 * endpoint with whether the kernel has what serves it now (the backend inspector's answer),
 * endpoints named by the pods and conditions their EndpointSlices give, and the Services that
 * cannot be fully proxied. Pure: the kernel was read before.
 */
import type { ObjectCache } from '../cache';
import type { ServiceEndpoint, ServicePortState, ServiceState } from '../dataplane/service-state';
import type { ServiceEndpointMessage, ServicePortMessage, ServicesResponseMessage } from '../api/messages';
import { parseEndpointSlice } from '../proxy/endpoint-slice';
import { parseServiceIp } from '../proxy/addresses';
import { frontendsOf, type PortPresence } from './service-parts';

interface EndpointFacts {
  pod?: string;
  condition: string;
}

/** What the Service's EndpointSlices say of each address: its pod and its condition. */
function endpointFacts(cache: ObjectCache, service: string): Map<string, EndpointFacts> {
  const [namespace, name] = service.split('/');
  const facts = new Map<string, EndpointFacts>();
  for (const slice of cache.endpointSlicesOf(namespace, name)) {
    const pods = new Map<string, string>();
    for (const raw of Array.isArray(slice.endpoints) ? (slice.endpoints as unknown[]) : []) {
      const e = raw as { addresses?: unknown; targetRef?: { kind?: unknown; name?: unknown; namespace?: unknown } };
      const ref = e.targetRef;
      if (ref?.kind !== 'Pod' || typeof ref.name !== 'string' || !Array.isArray(e.addresses)) continue;
      const ip = parseServiceIp(e.addresses[0]);
      if (ip) pods.set(ip.ip, `${typeof ref.namespace === 'string' ? ref.namespace : namespace}/${ref.name}`);
    }
    for (const e of parseEndpointSlice(slice).endpoints) {
      const condition = e.ready ? 'ready' : e.serving && e.terminating ? 'terminating' : 'not ready';
      const pod = pods.get(e.ip);
      facts.set(e.ip, { condition, ...(pod ? { pod } : {}) });
    }
  }
  return facts;
}

function notesOf(p: ServicePortState): string[] {
  const notes: string[] = [];
  if (p.externalPolicyLocal) notes.push('externalTrafficPolicy: Local');
  if (p.internalPolicyLocal) notes.push('internalTrafficPolicy: Local');
  if (p.affinityTimeoutSeconds !== undefined) notes.push(`sessionAffinity: ClientIP (${p.affinityTimeoutSeconds} s)`);
  if (p.loadBalancerSourceRanges.length > 0) notes.push(`loadBalancerSourceRanges: ${p.loadBalancerSourceRanges.join(', ')}`);
  if (!p.anyEndpoints) notes.push('no endpoints: connections refused');
  else if (p.clusterEndpoints.length === 0) notes.push('no endpoint this node may use for the cluster IP: dropped');
  return notes;
}

export interface ServicesReportInput {
  nodeName: string;
  backend: string;
  state: ServiceState;
  cache: ObjectCache;
  /** What the kernel has of each port (by key); ports without an entry count as absent. */
  presence: ReadonlyMap<string, PortPresence>;
  /** Only this namespace; all when empty. */
  namespace?: string;
}

export function inNamespace(service: string, namespace: string | undefined): boolean {
  return !namespace || service.startsWith(`${namespace}/`);
}

export function servicesReport(input: ServicesReportInput): ServicesResponseMessage {
  const { state, cache, namespace } = input;
  const facts = new Map<string, Map<string, EndpointFacts>>();
  const factsOf = (service: string) => {
    let f = facts.get(service);
    if (!f) facts.set(service, (f = endpointFacts(cache, service)));
    return f;
  };
  const ports: ServicePortMessage[] = state.ports
    .filter((p) => inNamespace(p.service, namespace))
    .map((p) => {
      const frontends = frontendsOf(p, state.nodePortAddresses);
      const presence = input.presence.get(p.key);
      const endpoint = (e: ServiceEndpoint, inKernel: boolean): ServiceEndpointMessage => {
        const f = factsOf(p.service).get(e.ip);
        return { address: e.ip, port: e.port, local: e.local, pod: f?.pod ?? '', condition: f?.condition ?? '', inKernel };
      };
      const external = frontends.some((fe) => fe.kind !== 'cluster IP');
      const message: ServicePortMessage = {
        service: p.service,
        portName: p.portName,
        protocol: p.protocol.toUpperCase(),
        family: p.family,
        frontends: frontends.map((fe, i) => ({ kind: fe.kind, address: fe.address, port: fe.port, inKernel: presence?.frontends[i] ?? false })),
        clusterEndpoints: p.clusterEndpoints.map((e, i) => endpoint(e, presence?.cluster[i] ?? false)),
        externalEndpoints: external ? p.externalEndpoints.map((e, i) => endpoint(e, presence?.external[i] ?? false)) : [],
        anyEndpoints: p.anyEndpoints,
        notes: notesOf(p),
        inKernel: false,
      };
      message.inKernel = [...message.frontends, ...message.clusterEndpoints, ...message.externalEndpoints].every((x) => x.inKernel);
      return message;
    });
  const problems = state.problems.filter((p) => inNamespace(p.object, namespace)).map((p) => ({ object: p.object, reason: p.reason }));
  return { nodeName: input.nodeName, backend: input.backend, nodePortAddresses: [...state.nodePortAddresses], ports, problems };
}
