/**
 * Which conntrack entries a service change leaves stale, as kube-proxy finds them.
 *
 * NAT is decided on a flow's first packet and kept in its conntrack entry. A UDP "flow" has no
 * end the kernel can see: a client that keeps sending from one port (DNS resolvers, syslog,
 * statsd) renews its entry forever, so once its endpoint is gone it keeps being DNATed to a
 * dead address, whatever the rules now say. Two cases, per frontend (a cluster IP, external IP
 * or load-balancer IP with the port, or a node port on any node address):
 *
 * - an endpoint that could receive the frontend's traffic no longer can: delete the entries to
 *   the frontend that go to that endpoint (reply source = endpoint address and port);
 * - a frontend that had no endpoint now has some: delete every entry to it. While it had none,
 *   packets were rejected or dropped, or (before the service existed) routed as they were, and
 *   such an entry, kept alive by the client, would keep new packets from being DNATed.
 *
 * SCTP associations also outlive their endpoint in conntrack; they get the same treatment.
 * TCP does not need it: the client sees its connection fail and opens a new one.
 *
 * Pure: the kernel part is kernel/conntrack.ts.
 */
import type { ConntrackFilter } from '../../kernel/conntrack';
import type { ServiceEndpoint, ServicePortState, ServiceState } from '../dataplane/service-state';

export type ConntrackDeletion = ConntrackFilter & { protocol: 'udp' | 'sctp'; origPortDst: number };

interface Frontend {
  /** The deletion of every entry to the frontend; endpoint deletions add the reply source. */
  base: ConntrackDeletion;
  /** "ip port" of every endpoint that can receive its traffic. */
  endpoints: Map<string, ServiceEndpoint>;
}

const endpointKey = (e: ServiceEndpoint) => `${e.ip} ${e.port}`;

function deletionKey(d: ConntrackDeletion): string {
  return [d.family, d.protocol, d.origDst ?? '*', d.origPortDst, d.replySrc ?? '*', d.replyPortSrc ?? '*'].join(' ');
}

/** Every UDP/SCTP frontend of `ports`, with the endpoints its traffic may be DNATed to. */
function frontends(ports: readonly ServicePortState[]): Map<string, Frontend> {
  const out = new Map<string, Frontend>();
  const add = (p: ServicePortState, origDst: string | undefined, port: number, endpoints: readonly ServiceEndpoint[]) => {
    if (p.protocol !== 'udp' && p.protocol !== 'sctp') return;
    const base: ConntrackDeletion = { family: p.family, protocol: p.protocol, ...(origDst !== undefined ? { origDst } : {}), origPortDst: port };
    const key = deletionKey(base);
    // Two ports claiming one frontend are reported as a conflict elsewhere; merging is the safe side here.
    const f = out.get(key) ?? { base, endpoints: new Map<string, ServiceEndpoint>() };
    for (const e of endpoints) f.endpoints.set(endpointKey(e), e);
    out.set(key, f);
  };
  for (const p of ports) {
    add(p, p.clusterIp, p.port, p.clusterEndpoints);
    // Traffic from outside goes to the external endpoints, and with externalTrafficPolicy Local
    // this node's pods still reach the cluster endpoints through the same frontend: both are in use.
    const external = p.externalEndpoints === p.clusterEndpoints ? p.clusterEndpoints : [...p.clusterEndpoints, ...p.externalEndpoints];
    for (const ip of [...p.externalIps, ...p.loadBalancerIps]) add(p, ip, p.port, external);
    if (p.nodePort !== undefined) add(p, undefined, p.nodePort, external);
  }
  return out;
}

/**
 * The deletions that make conntrack agree with `next` after `previous` was in the kernel,
 * sorted and without duplicates. Without a previous state (the agent's first sync) there is
 * nothing to compare with and nothing is deleted: the entries of a restarted agent's node are
 * as valid as its adopted rules.
 */
export function staleConntrackDeletions(previous: ServiceState | undefined, next: ServiceState): ConntrackDeletion[] {
  if (!previous || previous === next || previous.ports === next.ports) return [];
  // Port states are shared between compiles while unchanged (proxy/compile.ts), and a frontend
  // belongs to one port (proxy/conflicts.ts): only the ports that are not the same objects on
  // both sides can have stale entries.
  const changedPorts = new Set(previous.ports);
  for (const p of next.ports) if (!changedPorts.delete(p)) changedPorts.add(p);
  const changed = (ports: readonly ServicePortState[]) => ports.filter((p) => changedPorts.has(p));
  const before = frontends(changed(previous.ports));
  const after = frontends(changed(next.ports));
  const out = new Map<string, ConntrackDeletion>();
  const push = (d: ConntrackDeletion) => out.set(deletionKey(d), d);
  for (const [key, old] of before) {
    const now = after.get(key);
    for (const [ek, e] of old.endpoints) {
      if (!now?.endpoints.has(ek)) push({ ...old.base, replySrc: e.ip, replyPortSrc: e.port });
    }
  }
  for (const [key, now] of after) {
    if (now.endpoints.size > 0 && (before.get(key)?.endpoints.size ?? 0) === 0) push(now.base);
  }
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
}
