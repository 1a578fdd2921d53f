/**
 * The one entry the reconcile loop calls: every compiler run on the cache, giving the node's
 * whole desired state. Later compilers (NetworkPolicy, Services, overlay routes) add their part
 * here.
 */
import type { LocalEndpoint } from '../api/endpoints';
import type { ObjectCache } from '../cache';
import type { NodeState } from '../dataplane/node-state';
import { compileLocalPods } from './local-pods';

export function compileNodeState(cache: ObjectCache, endpoints: readonly LocalEndpoint[], nodeName: string): NodeState {
  return { nodeName, localPods: compileLocalPods(cache, endpoints, nodeName) };
}
