/**
 * The cluster's nodes as the overlay needs them, read from Node objects: name, pod subnets
 * (spec.podCIDRs, or the older spec.podCIDR) and underlay addresses (status.addresses of type
 * InternalIP, one per family). Pure; a Node that lacks what the overlay needs is still listed,
 * with what it has, so the caller can say why it gets no route.
 */
import net from 'node:net';
import { canonicalIp } from '../agent/compile/local-pods';
import type { KubeObject } from '../agent/objects';
import { formatCidr, networkAddress, parseCidr } from '../ipam/address';

export type IpFamily = 4 | 6;

export interface ClusterNode {
  name: string;
  /** Canonical CIDRs (network address, no host bits), at most one per family. */
  podCidrs: { 4?: string; 6?: string };
  /** Underlay (InternalIP) addresses, one per family. */
  addresses: { 4?: string; 6?: string };
}

/** "10.244.1.7/24" -> "10.244.1.0/24"; undefined when it is not a CIDR. */
export function canonicalCidr(text: string): string | undefined {
  const cidr = parseCidr(text);
  if (!cidr) return undefined;
  const network = { address: networkAddress(cidr), prefix: cidr.prefix };
  return formatCidr(network);
}

export function clusterNodeOf(node: KubeObject): ClusterNode {
  const spec = node.spec ?? {};
  const cidrs: unknown[] = Array.isArray(spec.podCIDRs) ? spec.podCIDRs : typeof spec.podCIDR === 'string' ? [spec.podCIDR] : [];
  const podCidrs: ClusterNode['podCidrs'] = {};
  for (const c of cidrs) {
    const canonical = typeof c === 'string' ? canonicalCidr(c) : undefined;
    if (!canonical) continue;
    const family = net.isIP(canonical.split('/')[0]) as IpFamily;
    podCidrs[family] ??= canonical;
  }
  const addresses: ClusterNode['addresses'] = {};
  const list = Array.isArray(node.status?.addresses) ? (node.status.addresses as unknown[]) : [];
  for (const entry of list) {
    const { type, address } = (entry ?? {}) as { type?: unknown; address?: unknown };
    if (type !== 'InternalIP' || typeof address !== 'string' || !net.isIP(address)) continue;
    const family = net.isIP(address) as IpFamily;
    addresses[family] ??= canonicalIp(address);
  }
  return { name: node.metadata.name, podCidrs, addresses };
}
