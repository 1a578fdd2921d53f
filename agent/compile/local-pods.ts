/**
 * Which pods run on this node and with which addresses: pods the source reports with
 * spec.nodeName = this node, merged with endpoints the CNI plugins registered on ADD (a pod is
 * known from the moment it is attached, before the API server reports its IPs). Pure.
 */
import net from 'node:net';
import type { LocalEndpoint } from '../api/endpoints';
import type { ObjectCache } from '../cache';
import type { LocalPod } from '../dataplane/node-state';
import type { KubeObject } from '../objects';

/** Pods that no longer run hold no address (the kubelet reports them until they are deleted). */
const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);

function podIps(pod: KubeObject): string[] {
  const status = pod.status ?? {};
  const ips = new Set<string>();
  if (Array.isArray(status.podIPs)) {
    for (const entry of status.podIPs as unknown[]) {
      const ip = (entry as { ip?: unknown } | null)?.ip;
      if (typeof ip === 'string' && net.isIP(ip)) ips.add(canonicalIp(ip));
    }
  }
  if (typeof status.podIP === 'string' && net.isIP(status.podIP)) ips.add(canonicalIp(status.podIP));
  return [...ips];
}

function isPodNetworkPod(pod: KubeObject): boolean {
  if (pod.spec?.hostNetwork === true) return false; // its address is the node's
  const phase = pod.status?.phase;
  return !(typeof phase === 'string' && FINISHED_PHASES.has(phase));
}

/**
 * The kernel lists IPv6 addresses in their canonical (compressed, lower-case) form; addresses
 * are compared with what it lists, so they are canonicalised on the way in.
 */
export function canonicalIp(ip: string): string {
  return net.isIPv6(ip) ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/** Sorts IPv4 before IPv6, then textually: a stable order for rendering and comparing. */
function sortIps(ips: Iterable<string>): string[] {
  return [...new Set(ips)].sort((a, b) => net.isIP(a) - net.isIP(b) || (a < b ? -1 : a > b ? 1 : 0));
}

export function compileLocalPods(cache: ObjectCache, endpoints: readonly LocalEndpoint[], nodeName: string): LocalPod[] {
  const byKey = new Map<string, { namespace: string; name: string; ips: Set<string> }>();
  const entry = (namespace: string, name: string) => {
    const key = `${namespace}/${name}`;
    let e = byKey.get(key);
    if (!e) byKey.set(key, (e = { namespace, name, ips: new Set() }));
    return e;
  };
  for (const pod of cache.podsOnNode(nodeName)) {
    if (!isPodNetworkPod(pod)) continue;
    const e = entry(pod.metadata.namespace ?? 'default', pod.metadata.name);
    for (const ip of podIps(pod)) e.ips.add(ip);
  }
  for (const endpoint of endpoints) {
    const e = entry(endpoint.podNamespace, endpoint.podName);
    for (const address of endpoint.addresses) {
      const ip = address.split('/')[0];
      if (net.isIP(ip)) e.ips.add(canonicalIp(ip));
    }
  }
  return [...byKey.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, e]) => ({ namespace: e.namespace, name: e.name, ips: sortIps(e.ips) }))
    .filter((p) => p.ips.length > 0);
}
