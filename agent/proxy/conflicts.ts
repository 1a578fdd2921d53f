/**
 * Frontends are unique: one (address, protocol, port) leads to one service port, one node port
 * per family and protocol to one service port, one health-check port to one Service. The API
 * server's allocators guarantee this in a cluster; objects from a manifests directory may not,
 * and a backend handed two claims on one map key would fail its whole transaction. Here the
 * first claimant in (service, port key) order keeps the frontend and the later one loses it, reported. Pure.
 */
import type { HealthCheckPort, ServicePortState, ServiceProblem } from '../dataplane/service-state';

function describe(p: ServicePortState): string {
  return `${p.service} port ${p.portName === '' ? '(unnamed)' : JSON.stringify(p.portName)} ${p.protocol.toUpperCase()}`;
}

/** `ports` sorted by service, then key; returns the ports that keep their cluster IP, each with the frontends it keeps. */
export function resolveFrontendConflicts(ports: readonly ServicePortState[], problems: ServiceProblem[]): ServicePortState[] {
  const ipOwners = new Map<string, ServicePortState>();
  const nodePortOwners = new Map<string, ServicePortState>();
  const out: ServicePortState[] = [];
  const conflict = (p: ServicePortState, what: string, owner: ServicePortState) =>
    problems.push({ object: p.service, reason: `${describe(p)}: ${what} is already served for ${describe(owner)}` });
  // An address frontend is free, taken by another port (a conflict), or already this port's
  // through an earlier list (listed twice: kept once, no conflict).
  const claim = (p: ServicePortState, ip: string, what: string): boolean => {
    const key = `${ip}|${p.protocol}|${p.port}`;
    const owner = ipOwners.get(key);
    if (owner) {
      if (owner !== p) conflict(p, `${what} ${ip} port ${p.port}`, owner);
      return false;
    }
    ipOwners.set(key, p);
    return true;
  };
  for (const p of ports) {
    if (!claim(p, p.clusterIp, 'cluster IP')) continue; // a service port is its cluster IP: nothing left
    // States may be shared with earlier compiles: a port that loses a frontend is a copy.
    // Load-balancer IPs first: an address that is also an external IP stays a load-balancer IP,
    // where the source ranges apply to it.
    let q = p;
    const loadBalancerIps = p.loadBalancerIps.filter((ip) => claim(p, ip, 'load-balancer IP'));
    if (loadBalancerIps.length !== p.loadBalancerIps.length) q = { ...q, loadBalancerIps };
    const externalIps = p.externalIps.filter((ip) => claim(p, ip, 'external IP'));
    if (externalIps.length !== p.externalIps.length) q = { ...q, externalIps };
    if (q.nodePort !== undefined) {
      const key = `${q.family}|${q.protocol}|${q.nodePort}`;
      const owner = nodePortOwners.get(key);
      if (owner) {
        conflict(q, `IPv${q.family} node port ${q.nodePort}`, owner);
        const { nodePort: _lost, ...rest } = q;
        q = rest;
      } else nodePortOwners.set(key, q);
    }
    out.push(q);
  }
  return out;
}

/**
 * `checks` sorted by port, then service. The health-check server listens on TCP on the node's
 * addresses: a TCP node port with the same number would capture its traffic first.
 */
export function resolveHealthCheckConflicts(checks: readonly HealthCheckPort[], ports: readonly ServicePortState[], problems: ServiceProblem[]): HealthCheckPort[] {
  const tcpNodePorts = new Map<number, ServicePortState>();
  for (const p of ports) if (p.protocol === 'tcp' && p.nodePort !== undefined && !tcpNodePorts.has(p.nodePort)) tcpNodePorts.set(p.nodePort, p);
  const out: HealthCheckPort[] = [];
  for (const hc of checks) {
    const previous = out[out.length - 1];
    if (previous?.port === hc.port) {
      problems.push({ object: hc.service, reason: `health-check node port ${hc.port} is already served for ${previous.service}` });
      continue;
    }
    const nodePort = tcpNodePorts.get(hc.port);
    if (nodePort) {
      problems.push({ object: hc.service, reason: `health-check node port ${hc.port} is a node port of ${describe(nodePort)}` });
      continue;
    }
    out.push(hc);
  }
  return out;
}
