/**
 * Which traffic the node masquerades: from its own pod subnets (its Node's spec.podCIDRs) to
 * anything outside the cluster's ranges. The cluster ranges are the configured cluster and
 * service CIDRs; without a configured cluster CIDR, every node's pod subnet stands in for it.
 * Pure.
 */
import net from 'node:net';
import type { Masquerade } from '../dataplane/node-state';
import type { ClusterNode } from '../../overlay/nodes';

export interface MasqueradeConfig {
  clusterCidrs: readonly string[];
  serviceCidrs: readonly string[];
}

const byFamilyThenText = (a: string, b: string) => net.isIP(a.split('/')[0]) - net.isIP(b.split('/')[0]) || (a < b ? -1 : a > b ? 1 : 0);

/** The pod ranges of the cluster: the configured ones, or else every node's pod subnet. */
export function clusterPodCidrs(nodes: readonly ClusterNode[], configured: readonly string[]): string[] {
  if (configured.length > 0) return [...configured];
  return nodes.flatMap((n) => [n.podCidrs[4], n.podCidrs[6]].filter((c): c is string => c !== undefined));
}

export function compileMasquerade(nodes: readonly ClusterNode[], nodeName: string, config: MasqueradeConfig): Masquerade | undefined {
  const mine = nodes.find((n) => n.name === nodeName);
  if (!mine) return undefined;
  const sources = [mine.podCidrs[4], mine.podCidrs[6]].filter((c): c is string => c !== undefined);
  if (sources.length === 0) return undefined;
  const cluster = clusterPodCidrs(nodes, config.clusterCidrs);
  return { sources, exceptDestinations: [...new Set([...cluster, ...config.serviceCidrs])].sort(byFamilyThenText) };
}
