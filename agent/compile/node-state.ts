/**
 * The one entry the reconcile loop calls: every compiler run on the cache, giving the node's
 * whole desired state. Later compilers (NetworkPolicy, Services, overlay routes) add their part
 * here.
 */
import type { LocalEndpoint } from '../api/endpoints';
import type { ObjectCache } from '../cache';
import type { NodeState } from '../dataplane/node-state';
import { compileLocalPods } from './local-pods';
import { withDerivedPodCidrs, type DeriveConfig } from '../../overlay/derive';
import { clusterNodeOf, type ClusterNode } from '../../overlay/nodes';
import { clusterPodCidrs, compileMasquerade, type MasqueradeConfig } from './masquerade';
import { compileNodePolicyFromCache } from './policy';
import { compileServiceStateFromCache } from '../proxy/from-cache';
import type { ProxyConfig } from '../proxy/node-ports';
import type { NodeServices } from '../dataplane/node-state';

export interface CompileConfig {
  /** The bridge this node's pods are attached to, guarded by the backend; none when absent. */
  podBridge?: string;
  /** Enforce NetworkPolicy for this node's pods. */
  networkPolicy?: boolean;
  /** Masquerade pod traffic leaving the cluster; none when absent. */
  masquerade?: MasqueradeConfig;
  /** Derive pod subnets for Nodes without spec.podCIDRs; none when absent. */
  derive?: DeriveConfig;
  /** Proxy Services; none when absent. clusterCidrs: configured pod ranges (else every node's subnet). */
  proxy?: ProxyConfig & { clusterCidrs: readonly string[] };
}

/** The cluster's nodes, with derived pod subnets where configured; and why some got none. */
export function clusterNodes(cache: ObjectCache, derive: DeriveConfig | undefined): { nodes: ClusterNode[]; problems: { node: string; reason: string }[] } {
  const nodes = cache.list('Node').map(clusterNodeOf);
  return derive ? withDerivedPodCidrs(nodes, derive) : { nodes, problems: [] };
}

export function compileNodeState(cache: ObjectCache, endpoints: readonly LocalEndpoint[], nodeName: string, config: CompileConfig = {}): NodeState {
  const nodes = config.masquerade || config.proxy ? clusterNodes(cache, config.derive).nodes : [];
  const masquerade = config.masquerade ? compileMasquerade(nodes, nodeName, config.masquerade) : undefined;
  const services: NodeServices | undefined = config.proxy
    ? { state: compileServiceStateFromCache(cache, nodeName, { nodePortAddresses: config.proxy.nodePortAddresses }), clusterCidrs: clusterPodCidrs(nodes, config.proxy.clusterCidrs) }
    : undefined;
  const localPods = compileLocalPods(cache, endpoints, nodeName);
  const policy = config.networkPolicy ? compileNodePolicyFromCache(cache, localPods, nodeName) : undefined;
  return {
    nodeName,
    localPods,
    ...(masquerade ? { masquerade } : {}),
    ...(config.podBridge ? { podBridge: config.podBridge } : {}),
    ...(policy ? { policy } : {}),
    ...(services ? { services } : {}),
  };
}
