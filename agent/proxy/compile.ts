/**
 * Services, their EndpointSlices and this node's Node object compiled into the ServiceState the
 * backends render: kube-proxy's view of every service port (pkg/proxy), made once here so that
 * the nftables and iptables backends only translate it. Pure: no I/O, no clock; unusable
 * objects and fields are reported in `problems` and skipped, the rest is still compiled.
 */
import type { HealthCheckPort, ServicePortState, ServiceProblem, ServiceState } from '../dataplane/service-state';
import type { KubeObject } from '../objects';
import { SERVICE_NAME_LABEL } from '../cache';
import { compareText, sortIps, type IpFamily } from './addresses';
import { resolveFrontendConflicts, resolveHealthCheckConflicts } from './conflicts';
import { parseEndpointSlice } from './endpoint-slice';
import { categorize, PortEndpoints } from './endpoints';
import { compileNodePortAddresses, type ProxyConfig } from './node-ports';
import { parseService, type ParsedService, type ParsedServicePort } from './service';

export type { ProxyConfig } from './node-ports';

export interface ServiceInput {
  services: readonly KubeObject[];
  endpointSlices: readonly KubeObject[];
  /** This node's Node object: where node ports are served. */
  node?: KubeObject;
  nodeName: string;
}

/** The same input with the slices already indexed by Service (the object cache keeps such an index). */
export interface IndexedServiceInput {
  services: readonly KubeObject[];
  /** The EndpointSlices labelled kubernetes.io/service-name=`name` in `namespace`. */
  slicesOf(namespace: string, name: string): readonly KubeObject[];
  node?: KubeObject;
  nodeName: string;
}

export function compileServiceState(input: ServiceInput, config: ProxyConfig): ServiceState {
  // One pass over the slices, so that each Service finds its own without scanning them all.
  const byService = new Map<string, KubeObject[]>();
  for (const slice of input.endpointSlices) {
    const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    if (slice.kind !== 'EndpointSlice' || !service) continue; // not a Service's slice: nothing for a proxy
    const key = `${slice.metadata.namespace ?? 'default'}/${service}`;
    const list = byService.get(key);
    if (list) list.push(slice);
    else byService.set(key, [slice]);
  }
  return compileIndexedServiceState(
    { services: input.services, slicesOf: (namespace, name) => byService.get(`${namespace}/${name}`) ?? [], node: input.node, nodeName: input.nodeName },
    config,
  );
}

export function compileIndexedServiceState(input: IndexedServiceInput, config: ProxyConfig): ServiceState {
  const problems: ServiceProblem[] = [];
  const nodePortAddresses = compileNodePortAddresses(input.node, config, problems);

  const ports: ServicePortState[] = [];
  const healthChecks: HealthCheckPort[] = [];
  const seen = new Set<string>();
  for (const { object, id } of sortedServices(input.services)) {
    if (seen.has(id)) {
      problems.push({ object: id, reason: 'the Service is listed twice: the first is used' });
      continue;
    }
    seen.add(id);
    const compiled = compileServiceObject(object, input.slicesOf(object.metadata.namespace ?? 'default', object.metadata.name), input.nodeName);
    if (compiled.problems.length > 0) problems.push(...compiled.problems);
    // Each service's ports come sorted by key: the whole list is in (service, key) order.
    for (const p of compiled.ports) ports.push(p);
    if (compiled.healthCheck) healthChecks.push(compiled.healthCheck);
  }

  const kept = resolveFrontendConflicts(ports, problems);
  healthChecks.sort((a, b) => a.port - b.port || compareText(a.service, b.service));
  const checks = resolveHealthCheckConflicts(healthChecks, kept, problems);

  if (!input.node && kept.some((p) => p.nodePort !== undefined)) {
    problems.push({ object: input.nodeName, reason: `no Node object named ${JSON.stringify(input.nodeName)}: node ports are served on no address` });
  }
  return { ports: kept, nodePortAddresses, healthChecks: checks, problems: sortProblems(problems) };
}

/** Services in id order, sorted once per list: the object cache gives the same list while no Service changed. */
const sortedLists = new WeakMap<readonly KubeObject[], { object: KubeObject; id: string }[]>();

function sortedServices(list: readonly KubeObject[]): { object: KubeObject; id: string }[] {
  let sorted = sortedLists.get(list);
  if (!sorted) {
    sorted = list
      .filter((s) => s.kind === 'Service')
      .map((object) => ({ object, id: `${object.metadata.namespace ?? 'default'}/${object.metadata.name}` }))
      .sort((a, b) => compareText(a.id, b.id));
    sortedLists.set(list, sorted);
  }
  return sorted;
}

/** Grouped by object, each object's problems in the order they were found (field order). */
function sortProblems(problems: ServiceProblem[]): ServiceProblem[] {
  return problems.map((p, i) => ({ p, i })).sort((a, b) => compareText(a.p.object, b.p.object) || a.i - b.i).map((x) => x.p);
}

interface CompiledService {
  ports: ServicePortState[];
  healthCheck?: HealthCheckPort;
  problems: ServiceProblem[];
}

/**
 * A Service's result depends only on its object, its slices' objects and the node's name; the
 * cache replaces objects rather than mutating them, so an unchanged Service with unchanged
 * slices reuses its previous result (a recompile after one change costs one service's work).
 * The states are therefore shared between results: nobody may mutate them.
 */
const serviceMemo = new WeakMap<KubeObject, { slices: readonly KubeObject[]; nodeName: string; compiled: CompiledService }>();

function compileServiceObject(object: KubeObject, slices: readonly KubeObject[], nodeName: string): CompiledService {
  const memo = serviceMemo.get(object);
  if (memo && memo.nodeName === nodeName && (memo.slices === slices || (memo.slices.length === slices.length && memo.slices.every((s, i) => s === slices[i])))) return memo.compiled;
  const parsed = parseService(object);
  const problems = [...parsed.problems];
  const compiled: CompiledService = parsed.service ? { ...compileService(parsed.service, slices, nodeName, problems), problems } : { ports: [], problems };
  // The array itself: the object cache hands out the same one while the slices are unchanged.
  serviceMemo.set(object, { slices, nodeName, compiled });
  return compiled;
}

function compileService(svc: ParsedService, slices: readonly KubeObject[], nodeName: string, problems: ServiceProblem[]): { ports: ServicePortState[]; healthCheck?: HealthCheckPort } {
  // One entry per family and port; slice ports find theirs by family, name and protocol.
  const targets = new Map<string, { family: IpFamily; clusterIp: string; port: ParsedServicePort; endpoints: PortEndpoints }>();
  for (const { family, ip } of svc.clusterIps) {
    for (const port of svc.ports) targets.set(`${family}\0${port.name}\0${port.protocol}`, { family, clusterIp: ip, port, endpoints: new PortEndpoints() });
  }

  // Slices in name order, so that their problems come out in the same order every time.
  const ordered = slices.length > 1 ? [...slices].sort((a, b) => compareText(a.metadata.name, b.metadata.name)) : slices;
  for (const slice of ordered) {
    const parsed = parseEndpointSlice(slice);
    if (parsed.problems.length > 0) problems.push(...parsed.problems);
    if (parsed.family === undefined) continue;
    for (const sp of parsed.ports) {
      const target = targets.get(`${parsed.family}\0${sp.name}\0${sp.protocol}`);
      if (!target) continue; // a port the Service does not have (any more), or a family it lacks
      for (const ep of parsed.endpoints) target.endpoints.add(ep, sp.port, nodeName);
    }
  }

  const byFamily = (family: IpFamily) => ({
    externalIps: sortIps(ofFamily(svc.externalIps, family)),
    loadBalancerIps: sortIps(ofFamily(svc.loadBalancerIps, family)),
    ranges: sortCidrs(ofFamily(svc.loadBalancerSourceRanges, family)),
  });
  const v4 = byFamily(4);
  const v6 = byFamily(6);
  const ports: ServicePortState[] = [];
  // kube-proxy's health check counts local ready endpoints by address, across ports.
  const localReady = new Set<string>();
  for (const { family, clusterIp, port, endpoints } of targets.values()) {
    const sorted = endpoints.sorted();
    for (const ep of sorted) if (ep.local && ep.ready) localReady.add(ep.ip);
    const { clusterEndpoints, externalEndpoints, anyEndpoints } = categorize(sorted, svc);
    const lists = family === 4 ? v4 : v6;
    const state: ServicePortState = {
      key: `${svc.id}:${port.name}:${port.protocol}:v${family}`,
      service: svc.id,
      portName: port.name,
      protocol: port.protocol,
      family,
      clusterIp,
      port: port.port,
      // Lists of their own: the state may be compared or serialised, never aliased.
      externalIps: [...lists.externalIps],
      loadBalancerIps: [...lists.loadBalancerIps],
      loadBalancerSourceRanges: [...lists.ranges],
      clusterEndpoints,
      externalEndpoints,
      anyEndpoints,
      externalPolicyLocal: svc.externalPolicyLocal,
      internalPolicyLocal: svc.internalPolicyLocal,
    };
    if (port.nodePort !== undefined) state.nodePort = port.nodePort;
    if (svc.affinityTimeoutSeconds !== undefined) state.affinityTimeoutSeconds = svc.affinityTimeoutSeconds;
    ports.push(state);
  }
  const healthCheck = svc.healthCheckNodePort !== undefined ? { service: svc.id, port: svc.healthCheckNodePort, localEndpoints: localReady.size } : undefined;
  ports.sort((a, b) => compareText(a.key, b.key));
  return { ports, ...(healthCheck ? { healthCheck } : {}) };
}

/** Canonical addresses or CIDRs of one family (IPv6 text, and only IPv6 text, has colons). */
function ofFamily(list: readonly string[], family: IpFamily): string[] {
  return list.length === 0 ? [] : list.filter((x) => x.includes(':') === (family === 6));
}

function sortCidrs(cidrs: readonly string[]): string[] {
  return cidrs.length === 0 ? [] : [...new Set(cidrs)].sort(compareText);
}
