/**
 * `policy trace`: may this source open a connection to this destination on this port, and
 * why. A pod or address to a pod or address is one path; a Service is one path per endpoint
 * (the packet as DNAT leaves it: endpoint address, target port).
 */
import type { PolicyProtocol } from '../../agent/dataplane/policy-state';
import { parseIp } from '../address';
import { explainDirection, type DirectionExplanation, type End } from './direction';
import type { ModelPod, PolicyModel } from './model';
import { NotFoundError, parseEndRef, QueryError, type EndRef, type PortSpec } from './query';
import { clientOf, resolveService, type ServiceResolution } from './service-endpoints';

export interface TraceRequest {
  /** NS/POD or an IP address. */
  from: string;
  /** NS/POD, an IP address (a Service's cluster IP included), svc/NS/NAME. */
  to: string;
  port: PortSpec;
  /** With a Service: only this endpoint (NS/POD or address). */
  endpoint?: string;
}

/** An end as reported: the pod, its own address (absent when the objects give none). */
export interface EndReport {
  pod?: string;
  address?: string;
}

export interface PathTrace {
  from: EndReport;
  to: EndReport;
  /** The destination port the packet has (after a Service's DNAT). */
  port: number;
  protocol: PolicyProtocol;
  allowed: boolean;
  egress: DirectionExplanation;
  ingress: DirectionExplanation;
}

export interface TraceResult {
  from: EndReport;
  to: EndReport & { service?: string };
  port: number;
  protocol: PolicyProtocol;
  verdict: 'allowed' | 'denied' | 'allowed to some endpoints' | 'no endpoints';
  service?: Omit<ServiceResolution, 'targets' | 'notes'>;
  paths: PathTrace[];
  notes: string[];
}

function report(end: End): EndReport {
  const own = end.pod ? end.pod.addresses.includes(end.address) : true;
  return { ...(end.pod ? { pod: end.pod.id } : {}), ...(own ? { address: end.address } : {}) };
}

/** A pod's address of `family` when it has one, else the one questions use. */
function podEnd(pod: ModelPod, family?: 4 | 6): End {
  const same = family === undefined ? undefined : pod.addresses.find((a) => parseIp(a)?.family === family);
  return { pod, address: same ?? pod.address };
}

function endOf(model: PolicyModel, ref: EndRef, family?: 4 | 6): End {
  if (ref.kind === 'address') {
    const pod = model.podAt(ref.ip);
    return pod ? { pod, address: ref.ip } : { address: ref.ip };
  }
  if (ref.kind === 'service') throw new QueryError('a Service is only a destination');
  return podEnd(model.requirePod(ref.namespace, ref.name), family);
}

/** `viaService`: the path is a Service's (a pod back to itself that way is subject to ClusterNetworkPolicy). */
export function tracePath(model: PolicyModel, src: End, dst: End, protocol: PolicyProtocol, port: number, viaService = false): PathTrace {
  const verdict = model.evaluator.explain({ src: src.address, dst: dst.address, protocol, port, ...(viaService ? { viaService } : {}) });
  return {
    from: report(src),
    to: report(dst),
    port,
    protocol,
    allowed: verdict.allowed,
    egress: explainDirection(model, verdict.egress, src, dst, protocol, port),
    ingress: explainDirection(model, verdict.ingress, dst, src, protocol, port),
  };
}

function verdictOf(paths: readonly PathTrace[]): TraceResult['verdict'] {
  if (paths.length === 0) return 'no endpoints';
  const allowed = paths.filter((p) => p.allowed).length;
  return allowed === paths.length ? 'allowed' : allowed === 0 ? 'denied' : 'allowed to some endpoints';
}

function traceService(model: PolicyModel, src: End, svcRef: { namespace: string; name: string }, request: TraceRequest): TraceResult {
  const svc = model.service(svcRef.namespace, svcRef.name);
  if (!svc) throw new NotFoundError(`no service ${svcRef.namespace}/${svcRef.name} in ${model.source}`);
  const resolution = resolveService(model, svc, request.port, clientOf(src.pod, src.address));
  let targets = resolution.targets;
  if (request.endpoint !== undefined) {
    const want = parseEndRef(request.endpoint, '--endpoint', false);
    targets = targets.filter((t) => (want.kind === 'address' ? t.address === want.ip : want.kind === 'pod' && t.pod?.id === `${want.namespace}/${want.name}`));
    if (targets.length === 0) {
      const known = resolution.targets.map((t) => t.pod?.id ?? t.address).join(', ') || 'none';
      throw new NotFoundError(`${request.endpoint} is not an endpoint of service ${resolution.service} port ${request.port.port}/${request.port.protocol.toUpperCase()} (endpoints: ${known})`);
    }
  }
  const paths = targets.map((t) => tracePath(model, src, { ...(t.pod ? { pod: t.pod } : {}), address: t.evalAddress }, request.port.protocol, t.port, true));
  const service = { service: resolution.service, ...(resolution.clusterIp ? { clusterIp: resolution.clusterIp } : {}), port: resolution.port, source: resolution.source };
  return {
    from: report(src),
    to: { service: resolution.service, ...(resolution.clusterIp ? { address: resolution.clusterIp } : {}) },
    port: request.port.port,
    protocol: request.port.protocol,
    verdict: verdictOf(paths),
    service,
    paths,
    notes: resolution.notes,
  };
}

export function trace(model: PolicyModel, request: TraceRequest): TraceResult {
  const fromRef = parseEndRef(request.from, '--from', false);
  const toRef = parseEndRef(request.to, '--to', true);
  const src = endOf(model, fromRef);
  // The destination address of the source's family (a placeholder has none worth matching).
  const family = src.pod && src.pod.addresses.length === 0 ? undefined : parseIp(src.address)?.family;
  if (toRef.kind === 'service') return traceService(model, src, toRef, request);
  if (toRef.kind === 'address' && !model.podAt(toRef.ip)) {
    const svc = model.serviceAt(toRef.ip);
    if (svc) return traceService(model, src, { namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name }, request);
  }
  if (toRef.kind === 'pod' && !toRef.explicit && !model.pod(`${toRef.namespace}/${toRef.name}`) && model.service(toRef.namespace, toRef.name)) {
    return traceService(model, src, toRef, request);
  }
  if (request.endpoint !== undefined) throw new QueryError('--endpoint goes with a Service destination');
  const dst = endOf(model, toRef, family);
  const notes: string[] = [];
  if (toRef.kind === 'pod' && model.service(toRef.namespace, toRef.name)) notes.push(`${toRef.namespace}/${toRef.name} is also a Service: svc/${toRef.namespace}/${toRef.name} traces through it`);
  const path = tracePath(model, src, dst, request.port.protocol, request.port.port);
  return { from: path.from, to: path.to, port: path.port, protocol: path.protocol, verdict: verdictOf([path]), paths: [path], notes };
}
