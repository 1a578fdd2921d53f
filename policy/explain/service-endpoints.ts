/**
 * Where a connection to a Service port goes: its endpoints, each an address and the port the
 * packet has after the proxy's DNAT (policy applies to the endpoint pod, after the DNAT). From
 * the Service's EndpointSlices through the proxy compiler, as the agent would program them
 * (ready endpoints, terminating ones when none is ready, internalTrafficPolicy Local seen from
 * the client's node). Without EndpointSlices (hand-written manifests), from the pods its
 * selector matches, the way the EndpointSlice controller would list them, and said so.
 */
import type { KubeObject } from '../../agent/objects';
import type * as ProxyCompile from '../../agent/proxy/compile';
import { isRecord, readList, readPortNumber, readProtocol } from '../../agent/proxy/fields';
import { canonicalIpText, parseIp } from '../address';
import { namedPortKey } from '../cluster';
import type { ModelPod, PolicyModel } from './model';
import { portSpecText, QueryError, type PortSpec } from './query';

export interface ServiceTarget {
  /** The endpoint's own address; absent for a pod the objects give no address. */
  address?: string;
  /** The address the evaluator is asked with. */
  evalAddress: string;
  /** The port after DNAT (the targetPort as this endpoint resolves it). */
  port: number;
  pod?: ModelPod;
}

export interface ServiceResolution {
  /** "namespace/name". */
  service: string;
  clusterIp?: string;
  port: PortSpec;
  source: 'EndpointSlices' | 'selector';
  targets: ServiceTarget[];
  notes: string[];
}

/** The client's side: its node (internalTrafficPolicy Local) and address family. */
export interface ServiceClient {
  nodeName?: string;
  family?: 4 | 6;
}

function fromSlices(model: PolicyModel, svc: KubeObject, id: string, spec: PortSpec, client: ServiceClient): ServiceResolution {
  const namespace = svc.metadata.namespace ?? 'default';
  const slices = model.endpointSlicesOf(namespace, svc.metadata.name);
  // Required here: the proxy's compiler is only loaded by questions through a Service.
  const { compileServiceState } = require('../../agent/proxy/compile') as typeof ProxyCompile;
  const state = compileServiceState({ services: [svc], endpointSlices: [...slices], nodeName: client.nodeName ?? '' }, { nodePortAddresses: [] });
  if (state.ports.length === 0) {
    const why = state.problems.find((p) => p.object === id)?.reason ?? 'it is not proxied';
    throw new QueryError(`service ${id}: ${why}`);
  }
  const candidates = state.ports.filter((p) => p.port === spec.port && p.protocol === spec.protocol);
  const chosen = candidates.find((p) => p.family === client.family) ?? candidates[0];
  if (!chosen) throw new QueryError(`service ${id} has no port ${portSpecText(spec)} (ports: ${[...new Set(state.ports.map((p) => portSpecText(p)))].join(', ')})`);
  const notes: string[] = [];
  if (chosen.clusterEndpoints.length === 0) {
    notes.push(chosen.anyEndpoints ? `internalTrafficPolicy Local and no ready endpoint on the client's node${client.nodeName ? ` ${client.nodeName}` : ''}: packets are dropped` : 'no ready endpoint: connections are refused');
  }
  const targets = chosen.clusterEndpoints.map((ep) => ({ address: ep.ip, evalAddress: ep.ip, port: ep.port, ...(model.podAt(ep.ip) ? { pod: model.podAt(ep.ip) } : {}) }));
  return { service: id, clusterIp: chosen.clusterIp, port: spec, source: 'EndpointSlices', targets, notes };
}

/** targetPort on one pod: a number, or a container port name of the same protocol. */
function targetPortOn(pod: ModelPod, raw: Record<string, unknown>, spec: PortSpec): number | undefined {
  const target = raw.targetPort ?? spec.port;
  if (typeof target === 'number') return target;
  if (typeof target !== 'string') return undefined;
  if (/^\d+$/.test(target)) return Number(target);
  return pod.record.namedPorts.get(namedPortKey(target, spec.protocol))?.[0];
}

function fromSelector(model: PolicyModel, svc: KubeObject, id: string, spec: PortSpec): ServiceResolution {
  const selector = svc.spec?.selector;
  if (!isRecord(selector) || Object.keys(selector).length === 0) throw new QueryError(`service ${id} has no EndpointSlice in ${model.source} and no selector: no endpoints to trace to`);
  const ports = readList(svc.spec?.ports);
  const raw = (ports.ok ? ports.value : []).filter(isRecord).find((p) => {
    const port = readPortNumber(p.port);
    const protocol = readProtocol(p.protocol);
    return port.ok && protocol.ok && port.value === spec.port && protocol.value === spec.protocol;
  });
  if (!raw) throw new QueryError(`service ${id} has no port ${portSpecText(spec)}`);
  const notes = [`no EndpointSlice for ${id} in ${model.source}: its endpoints are the pods its selector matches`];
  const targets: ServiceTarget[] = [];
  for (const pod of model.policyPods([svc.metadata.namespace ?? 'default'])) {
    if (!Object.entries(selector).every(([k, v]) => pod.labels[k] === v)) continue;
    const port = targetPortOn(pod, raw, spec);
    if (port === undefined) {
      notes.push(`${pod.id} has no container port ${String(raw.targetPort)}/${spec.protocol.toUpperCase()}: not an endpoint of this port`);
      continue;
    }
    targets.push({ ...(pod.addresses[0] ? { address: pod.addresses[0] } : {}), evalAddress: pod.address, port, pod });
  }
  if (targets.length === 0) notes.push('the selector matches no pod: connections are refused');
  const clusterIp = typeof svc.spec?.clusterIP === 'string' ? canonicalIpText(svc.spec.clusterIP) : undefined;
  return { service: id, ...(clusterIp ? { clusterIp } : {}), port: spec, source: 'selector', targets, notes };
}

export function resolveService(model: PolicyModel, svc: KubeObject, spec: PortSpec, client: ServiceClient): ServiceResolution {
  const id = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
  if (svc.spec?.type === 'ExternalName') throw new QueryError(`service ${id} is an ExternalName (a DNS alias): it has no endpoints in the cluster`);
  if (model.endpointSlicesOf(svc.metadata.namespace ?? 'default', svc.metadata.name).length > 0) return fromSlices(model, svc, id, spec, client);
  return fromSelector(model, svc, id, spec);
}

/** The client's family: of its own address, when the objects give it one. */
export function clientOf(pod: ModelPod | undefined, address: string): ServiceClient {
  const a = pod && pod.addresses.length === 0 ? undefined : parseIp(address);
  return { ...(pod?.nodeName ? { nodeName: pod.nodeName } : {}), ...(a ? { family: a.family } : {}) };
}
