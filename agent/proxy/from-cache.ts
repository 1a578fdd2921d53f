/**
 * Services for this node from the agent's object cache: the cache's slice index stands in for
 * compileServiceState's own, so a recompile reads each Service's slices directly. Pure.
 */
import type { ObjectCache } from '../cache';
import type { ServiceState } from '../dataplane/service-state';
import { compileIndexedServiceState } from './compile';
import type { ProxyConfig } from './node-ports';

export function compileServiceStateFromCache(cache: ObjectCache, nodeName: string, config: ProxyConfig): ServiceState {
  return compileIndexedServiceState(
    {
      services: cache.list('Service'),
      slicesOf: (namespace, name) => cache.endpointSlicesOf(namespace, name),
      node: cache.get('Node', nodeName),
      nodeName,
    },
    config,
  );
}
