/**
 * The one entry the reconcile loop calls: every compiler run on the cache, giving the node's
 * whole desired state. Later compilers (NetworkPolicy, Services, overlay routes) add their part
 * here.
 */
import type { LocalEndpoint } from '../api/endpoints';
import type { ObjectCache } from '../cache';
import type { NodeState } from '../dataplane/node-state';
import { compileLocalPods } from './local-pods';
import { compileMasquerade, type MasqueradeConfig } from './masquerade';

export interface CompileConfig {
  /** Masquerade pod traffic leaving the cluster; none when absent. */
  masquerade?: MasqueradeConfig;
}

export function compileNodeState(cache: ObjectCache, endpoints: readonly LocalEndpoint[], nodeName: string, config: CompileConfig = {}): NodeState {
  const masquerade = config.masquerade ? compileMasquerade(cache, nodeName, config.masquerade) : undefined;
  return { nodeName, localPods: compileLocalPods(cache, endpoints, nodeName), ...(masquerade ? { masquerade } : {}) };
}
