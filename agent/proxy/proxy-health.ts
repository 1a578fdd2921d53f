/**
 * Whether the service proxy is healthy, as kube-proxy judges itself for the "serviceProxyHealthy"
 * field of its health-check node ports (and answers 503 when it is not, so that load balancers
 * move away from a node whose rules have stopped following the cluster): unhealthy when a sync
 * has been failing for longer than the health timeout (kube-proxy: twice its sync period, 60 s by
 * default), or before the first sync succeeded. A single failed sync, retried, is not news.
 */
import type { ReconcilerStatus } from '../reconcile';

export const PROXY_HEALTH_TIMEOUT_MS = 60_000;

export function proxyHealthy(status: Pick<ReconcilerStatus, 'everSucceeded' | 'lastError' | 'lastSuccessUnixMs'>, nowUnixMs: number, timeoutMs = PROXY_HEALTH_TIMEOUT_MS): boolean {
  if (!status.everSucceeded) return false;
  return status.lastError === '' || nowUnixMs - status.lastSuccessUnixMs <= timeoutMs;
}
