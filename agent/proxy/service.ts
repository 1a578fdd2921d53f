/**
 * One Service object as the proxy needs it, validated field by field the way kube-proxy reads it
 * (pkg/proxy/serviceport.go, servicechangetracker.go): which services are proxied at all, their
 * cluster IPs per family, ports, node ports, external and load-balancer IPs, source ranges,
 * traffic policies, affinity and health-check node port. A bad field is reported with its path
 * and left out; only a Service with nothing usable (no type, no cluster IP) is skipped whole.
 * Pure (compile.ts memoises whole results per Service object).
 */
import type { ServiceProblem, ServiceProtocol } from '../dataplane/service-state';
import type { KubeObject } from '../objects';
import { familyName, parseServiceIp, type IpFamily } from './addresses';
import { absent, isRecord, readList, readPortName, readPortNumber, readProtocol } from './fields';
import { canonicalCidr } from '../../overlay/nodes';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

export interface ParsedServicePort {
  name: string;
  protocol: ServiceProtocol;
  port: number;
  nodePort?: number;
}

export interface ParsedService {
  namespace: string;
  name: string;
  /** "namespace/name" */
  id: string;
  type: ServiceType;
  /** At most one per family, in the Service's order (primary family first). */
  clusterIps: { family: IpFamily; ip: string }[];
  ports: ParsedServicePort[];
  /** Canonical, of both families (compile splits them). */
  externalIps: string[];
  loadBalancerIps: string[];
  /** Canonical CIDRs, of both families. */
  loadBalancerSourceRanges: string[];
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
  affinityTimeoutSeconds?: number;
  healthCheckNodePort?: number;
}

export interface ServiceParse {
  /** Undefined: not proxied (headless, ExternalName, or unusable: then `problems` says why). */
  service?: ParsedService;
  problems: ServiceProblem[];
}

/** kube-proxy's default when sessionAffinityConfig.clientIP.timeoutSeconds is not set (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
/** The API server's upper bound for the affinity timeout (one day). */
const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;

const TYPES: readonly string[] = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];

export function parseService(svc: KubeObject): ServiceParse {
  const namespace = svc.metadata.namespace ?? 'default';
  const id = `${namespace}/${svc.metadata.name}`;
  const problems: ServiceProblem[] = [];
  const problem = (reason: string) => problems.push({ object: id, reason });
  const spec = svc.spec ?? {};

  const rawType = absent(spec.type) ? 'ClusterIP' : spec.type;
  if (typeof rawType !== 'string' || !TYPES.includes(rawType)) {
    problem(`spec.type: Unsupported value ${JSON.stringify(rawType)}: the Service is not proxied`);
    return { problems };
  }
  // ExternalName services are DNS aliases; kube-proxy has nothing to do for them.
  if (rawType === 'ExternalName') return { problems };
  const type = rawType as ServiceType;

  const clusterIps = readClusterIps(spec, problem);
  if (clusterIps === 'headless') return { problems };
  if (clusterIps.length === 0) {
    problems.push({ object: id, reason: 'no usable cluster IP: the Service is not proxied' });
    return { problems };
  }

  const rawExternalIps = readList(spec.externalIPs);
  if (!rawExternalIps.ok) problem(`spec.externalIPs: ${rawExternalIps.reason}`);
  const externalIpList = rawExternalIps.ok ? rawExternalIps.value : [];
  const externalIps: string[] = [];
  externalIpList.forEach((text, i) => {
    const ip = parseServiceIp(text);
    if (ip) externalIps.push(ip.ip);
    else problem(`spec.externalIPs[${i}]: Invalid value ${JSON.stringify(text)}: must be a valid IP address`);
  });

  // kube-proxy's ExternalPolicyLocal: the policy only means something for traffic that
  // arrives from outside, i.e. when the Service has node ports, load balancers or external IPs.
  const eTP = readPolicy(spec.externalTrafficPolicy, 'spec.externalTrafficPolicy', problem);
  const externalPolicyLocal = eTP === 'Local' && (type !== 'ClusterIP' || externalIpList.length > 0);
  const internalPolicyLocal = readPolicy(spec.internalTrafficPolicy, 'spec.internalTrafficPolicy', problem) === 'Local';

  const service: ParsedService = {
    namespace,
    name: svc.metadata.name,
    id,
    type,
    clusterIps,
    ports: readPorts(spec, type, problem),
    externalIps,
    loadBalancerIps: type === 'LoadBalancer' ? readLoadBalancerIps(svc.status, problem) : [],
    loadBalancerSourceRanges: [],
    externalPolicyLocal,
    internalPolicyLocal,
  };

  if (type === 'LoadBalancer') {
    const ranges = readSourceRanges(spec.loadBalancerSourceRanges, problem);
    if (ranges) service.loadBalancerSourceRanges = ranges;
    // A restriction that cannot be read cannot be enforced: rather than open the load-balancer
    // IPs to every source, they are not served (cluster IP, node ports, external IPs still are).
    else service.loadBalancerIps = [];
  }

  const affinity = readAffinity(spec, problem);
  if (affinity !== undefined) service.affinityTimeoutSeconds = affinity;

  // kube-proxy's NeedsHealthCheck: LoadBalancer services with externalTrafficPolicy Local.
  if (type === 'LoadBalancer' && externalPolicyLocal) {
    if (absent(spec.healthCheckNodePort) || spec.healthCheckNodePort === 0) problem('spec.healthCheckNodePort: not set (externalTrafficPolicy Local on a LoadBalancer): no health check is served');
    else {
      const hc = readPortNumber(spec.healthCheckNodePort);
      if (hc.ok) service.healthCheckNodePort = hc.value;
      else problem(`spec.healthCheckNodePort: ${hc.reason}`);
    }
  }
  return { service, problems };
}

/**
 * spec.clusterIPs (dual-stack; primary first), or spec.clusterIP alone from clients that
 * predate it. "None" (headless) is not proxied. spec.ipFamilies is checked against the
 * addresses; the address itself decides the family.
 */
function readClusterIps(spec: Record<string, unknown>, problem: (reason: string) => void): { family: IpFamily; ip: string }[] | 'headless' {
  const single = spec.clusterIP;
  let list: unknown[];
  let path: string;
  if (Array.isArray(spec.clusterIPs) && spec.clusterIPs.length > 0) {
    list = spec.clusterIPs;
    path = 'spec.clusterIPs';
    if (!absent(single) && single !== '' && single !== list[0]) problem(`spec.clusterIP: Invalid value ${JSON.stringify(single)}: must be the first of spec.clusterIPs (${JSON.stringify(list[0])}); spec.clusterIPs is used`);
  } else if (!absent(spec.clusterIPs) && !Array.isArray(spec.clusterIPs)) {
    problem('spec.clusterIPs: Invalid value: must be a list');
    return [];
  } else {
    list = absent(single) || single === '' ? [] : [single];
    path = 'spec.clusterIP';
  }
  if (list[0] === 'None') return 'headless';
  if (list.length === 0) {
    problem('spec.clusterIP: not set (no address allocated)');
    return [];
  }
  const families = Array.isArray(spec.ipFamilies) ? spec.ipFamilies : [];
  const out: { family: IpFamily; ip: string }[] = [];
  list.forEach((text, i) => {
    const where = path === 'spec.clusterIPs' ? `${path}[${i}]` : path;
    const ip = parseServiceIp(text);
    if (!ip) return void problem(`${where}: Invalid value ${JSON.stringify(text)}: must be a valid IP address`);
    if (out.some((x) => x.family === ip.family)) return void problem(`${where}: Invalid value ${JSON.stringify(text)}: a second ${familyName(ip.family)} address (one per family)`);
    if (families[i] !== undefined && families[i] !== familyName(ip.family)) problem(`spec.ipFamilies[${i}]: Invalid value ${JSON.stringify(families[i])}: does not match ${where} ${ip.ip}; the address's family is used`);
    out.push({ family: ip.family, ip: ip.ip });
  });
  return out;
}

function readPolicy(v: unknown, path: string, problem: (reason: string) => void): 'Cluster' | 'Local' {
  if (absent(v) || v === 'Cluster') return 'Cluster';
  if (v === 'Local') return 'Local';
  problem(`${path}: Unsupported value ${JSON.stringify(v)}: supported values: "Cluster", "Local"; Cluster is used`);
  return 'Cluster';
}

function readPorts(spec: Record<string, unknown>, type: ServiceType, problem: (reason: string) => void): ParsedServicePort[] {
  const list = readList(spec.ports);
  if (!list.ok) {
    problem(`spec.ports: ${list.reason}`);
    return [];
  }
  if (list.value.length === 0) problem('spec.ports: Required value: the Service has no ports to proxy');
  const hasNodePorts = type === 'NodePort' || type === 'LoadBalancer';
  // A LoadBalancer may go without node ports when the load balancer reaches pods directly.
  const expectNodePorts = type === 'NodePort' || (type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
  const out: ParsedServicePort[] = [];
  const seen = new Set<string>();
  list.value.forEach((raw, i) => {
    const where = `spec.ports[${i}]`;
    if (!isRecord(raw)) return void problem(`${where}: Invalid value: must be an object`);
    const name = readPortName(raw.name);
    const protocol = readProtocol(raw.protocol);
    const port = readPortNumber(raw.port);
    if (!name.ok) return void problem(`${where}.name: ${name.reason}`);
    if (!protocol.ok) return void problem(`${where}.protocol: ${protocol.reason}`);
    if (!port.ok) return void problem(`${where}.port: ${port.reason}`);
    // Endpoints are matched to a service port by name and protocol: two ports alike cannot be told apart.
    const id = `${name.value}\0${protocol.value}`;
    if (seen.has(id)) return void problem(`${where}: Duplicate value: another port is named ${JSON.stringify(name.value)} with protocol ${protocol.value.toUpperCase()}`);
    seen.add(id);
    const p: ParsedServicePort = { name: name.value, protocol: protocol.value, port: port.value };
    if (hasNodePorts) {
      if (absent(raw.nodePort) || raw.nodePort === 0) {
        if (expectNodePorts) problem(`${where}.nodePort: not set (type ${type}): the port is not served on node ports`);
      } else {
        const nodePort = readPortNumber(raw.nodePort);
        if (nodePort.ok) p.nodePort = nodePort.value;
        else problem(`${where}.nodePort: ${nodePort.reason}`);
      }
    }
    out.push(p);
  });
  return out;
}

/** status.loadBalancer.ingress[].ip, except proxy-mode ingress (the load balancer forwards to the nodes itself). */
function readLoadBalancerIps(status: Record<string, unknown> | undefined, problem: (reason: string) => void): string[] {
  const out: string[] = [];
  const lb = status?.loadBalancer;
  if (absent(lb)) return out;
  const ingress = isRecord(lb) ? readList(lb.ingress) : undefined;
  if (!ingress?.ok) {
    problem('status.loadBalancer.ingress: Invalid value: must be a list of objects');
    return out;
  }
  ingress.value.forEach((entry, i) => {
    const where = `status.loadBalancer.ingress[${i}]`;
    if (!isRecord(entry)) return void problem(`${where}: Invalid value: must be an object`);
    if (absent(entry.ip) || entry.ip === '') return; // a hostname-only ingress: nothing to capture
    if (entry.ipMode === 'Proxy') return;
    const ip = parseServiceIp(entry.ip);
    if (ip) out.push(ip.ip);
    else problem(`${where}.ip: Invalid value ${JSON.stringify(entry.ip)}: must be a valid IP address`);
  });
  return out;
}

/**
 * spec.loadBalancerSourceRanges as canonical CIDRs (surrounding white space is
 * ignored, as kube-proxy does, because API validation let it through). Undefined when an entry
 * is not a CIDR: the caller then serves no load-balancer IP rather than an unrestricted one.
 */
function readSourceRanges(v: unknown, problem: (reason: string) => void): string[] | undefined {
  const list = readList(v);
  if (!list.ok) {
    problem(`spec.loadBalancerSourceRanges: ${list.reason}; the load-balancer IPs are not served`);
    return undefined;
  }
  const out: string[] = [];
  let usable = true;
  list.value.forEach((text, i) => {
    const cidr = typeof text === 'string' ? canonicalCidr(text.trim()) : undefined;
    if (!cidr) {
      usable = false;
      return void problem(`spec.loadBalancerSourceRanges[${i}]: Invalid value ${JSON.stringify(text)}: must be a CIDR; the load-balancer IPs are not served`);
    }
    out.push(cidr);
  });
  return usable ? out : undefined;
}

function readAffinity(spec: Record<string, unknown>, problem: (reason: string) => void): number | undefined {
  const affinity = spec.sessionAffinity;
  if (absent(affinity) || affinity === 'None') return undefined;
  if (affinity !== 'ClientIP') {
    problem(`spec.sessionAffinity: Unsupported value ${JSON.stringify(affinity)}: supported values: "ClientIP", "None"; None is used`);
    return undefined;
  }
  const config = spec.sessionAffinityConfig;
  const clientIp = isRecord(config) ? config.clientIP : undefined;
  const timeout = isRecord(clientIp) ? clientIp.timeoutSeconds : undefined;
  if (absent(timeout)) return DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  if (typeof timeout === 'number' && Number.isInteger(timeout) && timeout >= 1 && timeout <= MAX_AFFINITY_TIMEOUT_SECONDS) return timeout;
  problem(`spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value ${JSON.stringify(timeout)}: must be between 1 and ${MAX_AFFINITY_TIMEOUT_SECONDS}; ${DEFAULT_AFFINITY_TIMEOUT_SECONDS} is used`);
  return DEFAULT_AFFINITY_TIMEOUT_SECONDS;
}
