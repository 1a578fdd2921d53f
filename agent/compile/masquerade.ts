/**
 * Which traffic the node masquerades: from its own pod subnets (its Node's spec.podCIDRs) to
 * anything outside the cluster's ranges. The cluster ranges are the configured cluster and
 * service CIDRs; without a configured cluster CIDR, every node's pod subnet stands in for it.
 * Pure.
 */
import net from 'node:net';
import type { ObjectCache } from '../cache';
import type { Masquerade } from '../dataplane/node-state';
import { clusterNodeOf } from '../../overlay/nodes';

export interface MasqueradeConfig {
  clusterCidrs: readonly string[];
  serviceCidrs: readonly string[];
}

const byFamilyThenText = (a: string, b: string) => net.isIP(a.split('/')[0]) - net.isIP(b.split('/')[0]) || (a < b ? -1 : a > b ? 1 : 0);

export function compileMasquerade(cache: ObjectCache, nodeName: string, config: MasqueradeConfig): Masquerade | undefined {
  const self = cache.get('Node', nodeName);
  if (!self) return undefined;
  const mine = clusterNodeOf(self);
  const sources = [mine.podCidrs[4], mine.podCidrs[6]].filter((c): c is string => c !== undefined);
  if (sources.length === 0) return undefined;
  const cluster =
    config.clusterCidrs.length > 0
      ? config.clusterCidrs
      : cache.list('Node').flatMap((n) => {
          const c = clusterNodeOf(n).podCidrs;
          return [c[4], c[6]].filter((x): x is string => x !== undefined);
        });
  return { sources, exceptDestinations: [...new Set([...cluster, ...config.serviceCidrs])].sort(byFamilyThenText) };
}
