/**
 * Health, readiness and metrics over HTTP, for the kubelet's probes and Prometheus:
 * /healthz is 200 while the agent runs (its event loop answers), /readyz is 200 once every
 * source has delivered its initial state and a sync has put it in the kernel (before that the
 * node's rules may be stale or missing), /metrics is the Prometheus text format.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthServerOptions {
  host: string;
  port: number;
  ready: () => { ready: boolean; reason: string };
  metrics: () => Promise<{ contentType: string; body: string }>;
}

export interface HealthServer {
  /** host:port actually bound (port 0 picks a free one). */
  readonly address: string;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (path === '/healthz') return send(200, 'ok\n');
    if (path === '/readyz') {
      const r = options.ready();
      return send(r.ready ? 200 : 503, `${r.reason}\n`);
    }
    if (path === '/metrics') {
      options.metrics().then(
        (m) => send(200, m.body, m.contentType),
        (err: Error) => send(500, `${err.message}\n`),
      );
      return;
    }
    send(404, 'not found: /healthz, /readyz, /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
