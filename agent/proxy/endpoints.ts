/**
 * Endpoints of one service port, and kube-proxy's choice of which of them serve which traffic
 * (pkg/proxy/topology.go CategorizeEndpoints, without topology hints: zones and hints are
 * ignored). Pure.
 */
import type { ServiceEndpoint } from '../dataplane/service-state';
import { compareText } from './addresses';
import type { SliceEndpoint } from './endpoint-slice';

/** An endpoint of a service port: an address with the port the slice resolved for it. */
export interface PortEndpoint {
  ip: string;
  port: number;
  sortKey: string;
  local: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

/**
 * The endpoints of one service port gathered from all of its Service's slices. An endpoint is
 * an address and port: the same pair listed by several slices (an endpoint moving between
 * slices) counts once; the same address with another port (pods resolving a named targetPort
 * differently) is another endpoint, as in kube-proxy. Where the copies disagree, the most
 * usable reading wins (local, ready or serving if any copy says so, terminating only if all
 * do), so the result does not depend on the order slices arrive in.
 */
export class PortEndpoints {
  /** By address: nearly every address has one port, so no per-endpoint key is built. */
  private readonly byIp = new Map<string, PortEndpoint | PortEndpoint[]>();
  private count = 0;

  add(ep: SliceEndpoint, port: number, nodeName: string): void {
    const local = ep.nodeName !== undefined && ep.nodeName === nodeName;
    const seen = this.byIp.get(ep.ip);
    const same = seen === undefined ? undefined : Array.isArray(seen) ? seen.find((x) => x.port === port) : seen.port === port ? seen : undefined;
    if (same) {
      same.local ||= local;
      same.ready ||= ep.ready;
      same.serving ||= ep.serving;
      same.terminating &&= ep.terminating;
      return;
    }
    const added: PortEndpoint = { ip: ep.ip, port, sortKey: ep.sortKey, local, ready: ep.ready, serving: ep.serving, terminating: ep.terminating };
    this.count++;
    if (seen === undefined) this.byIp.set(ep.ip, added);
    else if (Array.isArray(seen)) seen.push(added);
    else this.byIp.set(ep.ip, [seen, added]);
  }

  /** By address, then port. */
  sorted(): PortEndpoint[] {
    const out: PortEndpoint[] = [];
    if (this.count === 0) return out;
    for (const v of this.byIp.values()) {
      if (Array.isArray(v)) out.push(...v);
      else out.push(v);
    }
    return out.sort((a, b) => compareText(a.sortKey, b.sortKey) || a.port - b.port);
  }
}

export interface Categorized {
  clusterEndpoints: ServiceEndpoint[];
  externalEndpoints: ServiceEndpoint[];
  /** Some node has a usable endpoint (decides reject or drop when a list is empty). */
  anyEndpoints: boolean;
}

/**
 * The usable endpoints of a list: the ready ones; when none is ready, the serving terminating
 * ones, so that connections drain to pods that are shutting down rather than fail.
 */
function usable(endpoints: readonly PortEndpoint[]): PortEndpoint[] {
  const ready = endpoints.filter((ep) => ep.ready);
  return ready.length > 0 ? ready : endpoints.filter((ep) => ep.serving && ep.terminating);
}

const toServiceEndpoint = (ep: PortEndpoint): ServiceEndpoint => ({ ip: ep.ip, port: ep.port, local: ep.local });

/**
 * Cluster policy uses every usable endpoint; Local policy this node's usable ones, the
 * fallback to terminating endpoints deciding on local endpoints alone (a ready endpoint on
 * another node does not stop a local terminating one from being used).
 */
export function categorize(sorted: readonly PortEndpoint[], policy: { internalPolicyLocal: boolean; externalPolicyLocal: boolean }): Categorized {
  const cluster = usable(sorted).map(toServiceEndpoint);
  const needLocal = policy.internalPolicyLocal || policy.externalPolicyLocal;
  const local = needLocal ? usable(sorted.filter((ep) => ep.local)).map(toServiceEndpoint) : [];
  return {
    anyEndpoints: cluster.length > 0,
    clusterEndpoints: policy.internalPolicyLocal ? local : cluster,
    // A list of its own: the state may be compared or serialised, never aliased.
    externalEndpoints: [...(policy.externalPolicyLocal ? local : cluster)],
  };
}
