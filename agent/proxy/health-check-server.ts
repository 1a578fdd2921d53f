/**
 * Health-check node ports (externalTrafficPolicy Local on a LoadBalancer Service), answered as
 * kube-proxy's service health server answers them: one HTTP server per Service, on every node
 * address at its healthCheckNodePort, replying to any request with 200 while the Service has
 * endpoints on this node and 503 when it has none, so that a cloud load balancer sends its
 * traffic only to nodes that can serve it without another hop (and keep the client address).
 *
 * `sync` follows ServiceState.healthChecks: a Service whose port changed or that is gone is
 * closed first (its port may be the one another Service now gets), new ones are opened, and
 * the local endpoint counts of the others are updated in place. A port that cannot be bound
 * (another process has it) is reported and tried again on the next sync, as kube-proxy does.
 */
import http from 'node:http';
import { inNetns } from '../../kernel/netns';
import type { HealthCheckPort } from '../dataplane/service-state';

export interface HealthCheckServersOptions {
  /** Listen inside this network namespace; the process's own when absent (the agent runs in the node's). */
  netns?: string;
  /** "serviceProxyHealthy" in the answers (kube-proxy's own health); true when absent. */
  proxyHealthy?: () => boolean;
}

export interface HealthCheckListenFailure {
  service: string;
  port: number;
  error: Error;
}

export interface HealthCheckSyncResult {
  opened: { service: string; port: number }[];
  closed: { service: string; port: number }[];
  /** Ports that could not be bound: not serving, tried again on the next sync. */
  failed: HealthCheckListenFailure[];
}

interface Instance {
  service: string;
  port: number;
  localEndpoints: number;
  server: http.Server;
}

/**
 * kube-proxy's body, byte for byte (tab-indented JSON without a final newline), for clients
 * that compare more than the status.
 */
export function healthCheckBody(service: string, localEndpoints: number, proxyHealthy: boolean): string {
  const slash = service.indexOf('/');
  const namespace = slash < 0 ? '' : service.slice(0, slash);
  const name = service.slice(slash + 1);
  return [
    '{',
    '\t"service": {',
    `\t\t"namespace": ${JSON.stringify(namespace)},`,
    `\t\t"name": ${JSON.stringify(name)}`,
    '\t},',
    `\t"localEndpoints": ${localEndpoints},`,
    `\t"serviceProxyHealthy": ${proxyHealthy}`,
    '}',
  ].join('\n');
}

export class HealthCheckServers {
  /** By Service ("namespace/name"): a Service has at most one health-check port. */
  private readonly running = new Map<string, Instance>();

  constructor(private readonly options: HealthCheckServersOptions = {}) {}

  /** What is being served now, sorted by port. */
  get serving(): { service: string; port: number; localEndpoints: number }[] {
    return [...this.running.values()].map(({ service, port, localEndpoints }) => ({ service, port, localEndpoints })).sort((a, b) => a.port - b.port);
  }

  async sync(checks: readonly HealthCheckPort[]): Promise<HealthCheckSyncResult> {
    const wanted = new Map(checks.map((c) => [c.service, c]));
    const result: HealthCheckSyncResult = { opened: [], closed: [], failed: [] };
    const closing: Instance[] = [];
    for (const [service, instance] of this.running) {
      if (wanted.get(service)?.port !== instance.port) {
        this.running.delete(service);
        closing.push(instance);
        result.closed.push({ service, port: instance.port });
      }
    }
    await Promise.all(closing.map((i) => closeServer(i.server)));
    for (const check of checks) {
      const current = this.running.get(check.service);
      if (current) {
        current.localEndpoints = check.localEndpoints;
        continue;
      }
      const instance: Instance = { service: check.service, port: check.port, localEndpoints: check.localEndpoints, server: this.createServer(check.service) };
      try {
        await listen(instance.server, check.port, this.options.netns);
      } catch (err) {
        result.failed.push({ service: check.service, port: check.port, error: err instanceof Error ? err : new Error(String(err)) });
        continue;
      }
      this.running.set(check.service, instance);
      result.opened.push({ service: check.service, port: check.port });
    }
    return result;
  }

  /** Stops serving every port. */
  async close(): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((i) => closeServer(i.server)));
  }

  private createServer(service: string): http.Server {
    return http.createServer((req, res) => {
      // The instance is looked up per request: its count changes with every sync.
      const count = this.running.get(service)?.localEndpoints ?? 0;
      const healthy = this.options.proxyHealthy?.() ?? true;
      const body = healthCheckBody(service, count, healthy);
      res.writeHead(count > 0 && healthy ? 200 : 503, {
        'Content-Type': 'application/json',
        'X-Content-Type-Options': 'nosniff',
        // Google Cloud's weighted load balancing reads it (kube-proxy sends the local endpoint count).
        'X-Load-Balancing-Endpoint-Weight': String(count),
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
      req.resume();
    });
  }
}

/**
 * Listens on every address of the namespace (IPv6 and IPv4, or IPv4 when IPv6 is off). Without
 * a host, Node.js creates and binds the socket inside listen() itself, so a socket bound while
 * the thread is in `netns` stays there; errors (EADDRINUSE) come as events, after.
 */
function listen(server: http.Server, port: number, netns: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      server.removeListener('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.removeListener('error', onError);
      // Later errors (a failed accept) are transient; unhandled, an 'error' event would end the process.
      server.on('error', () => undefined);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    const start = () => server.listen({ port });
    if (netns === undefined) start();
    else inNetns(netns, start);
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    // Load balancers keep their probe connections open: a closed port must not keep answering.
    server.closeAllConnections();
  });
}
