/**
 * A pod subnet for a node whose Node object has none (no kube-controller-manager allocating
 * them), derived from its address so that no coordination is needed and two nodes can never
 * get the same one: every node sits in one underlay subnet shared by the cluster (given to
 * every agent, --underlay-cidr), where addresses differ in their host part; the host part picks
 * the node's subnet out of the cluster CIDR. That needs as many node subnets as the underlay has
 * hosts, which is checked: a /24 underlay and a /16 cluster CIDR cut into /24s fit exactly.
 * A node outside the underlay subnet gets nothing (its Node must carry spec.podCIDRs).
 */
import { bitsOf, formatCidr, networkAddress, parseAddress, parseCidr, subnetContains, type Cidr } from '../ipam/address';
import type { ClusterNode } from './nodes';

export interface DeriveConfig {
  /** The underlay subnet every node shares, per family. */
  underlay: Cidr[];
  /** The cluster's pod ranges, per family. */
  cluster: Cidr[];
  /** Node subnet prefix length per family (24 and 64 by default). */
  nodeMask: { 4: number; 6: number };
}

export type Derived = { cidr: string } | { error: string };

export function derivePodCidr(nodeIp: string, config: DeriveConfig): Derived {
  const address = parseAddress(nodeIp);
  if (!address) return { error: `${nodeIp} is not an address` };
  const underlay = config.underlay.find((u) => u.address.family === address.family && subnetContains(u, address));
  if (!underlay) return { error: `${nodeIp} is outside the shared underlay subnet: give its Node spec.podCIDRs` };
  const cluster = config.cluster.find((c) => c.address.family === address.family);
  if (!cluster) return { error: `no IPv${address.family} cluster CIDR to take a subnet from` };
  const bits = bitsOf(address.family);
  const mask = config.nodeMask[address.family];
  const hostBits = bits - underlay.prefix;
  const subnetBits = mask - cluster.prefix;
  if (mask < cluster.prefix || mask > bits) return { error: `node subnets of /${mask} do not fit the cluster CIDR ${formatCidr(cluster)}` };
  if (hostBits > subnetBits) {
    return { error: `the underlay ${formatCidr(underlay)} has 2^${hostBits} addresses but ${formatCidr(cluster)} only 2^${subnetBits} subnets of /${mask}` };
  }
  const host = address.value & ((1n << BigInt(hostBits)) - 1n);
  const value = networkAddress(cluster).value + (host << BigInt(bits - mask));
  return { cidr: formatCidr({ address: { family: address.family, value }, prefix: mask }) };
}

export function parseDeriveConfig(underlay: readonly string[], cluster: readonly string[], nodeMask: { 4: number; 6: number }): DeriveConfig {
  const parse = (c: string) => {
    const cidr = parseCidr(c);
    if (!cidr) throw new Error(`invalid CIDR ${JSON.stringify(c)}`);
    return cidr;
  };
  return { underlay: underlay.map(parse), cluster: cluster.map(parse), nodeMask };
}

/**
 * The nodes with a derived subnet wherever their Node has none for a family they have an
 * address in; `problems` says which nodes got none and why.
 */
export function withDerivedPodCidrs(nodes: readonly ClusterNode[], config: DeriveConfig): { nodes: ClusterNode[]; problems: { node: string; reason: string }[] } {
  const problems: { node: string; reason: string }[] = [];
  const out = nodes.map((n) => {
    const podCidrs = { ...n.podCidrs };
    for (const family of [4, 6] as const) {
      const ip = n.addresses[family];
      if (podCidrs[family] || !ip || !config.cluster.some((c) => c.address.family === family)) continue;
      const derived = derivePodCidr(ip, config);
      if ('cidr' in derived) podCidrs[family] = derived.cidr;
      else problems.push({ node: n.name, reason: derived.error });
    }
    return { ...n, podCidrs };
  });
  return { nodes: out, problems };
}
