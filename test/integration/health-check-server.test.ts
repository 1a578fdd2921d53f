/**
 * Health-check node ports served by HealthCheckServers, listening inside a network namespace
 * of the test's own (as the agent listens in its node's) and asked over real TCP from a client
 * process in it: kube-proxy's answers (200 with local endpoints, 503 without, headers, body),
 * counts following syncs, ports moving, closing, a busy port retried on the next sync.
 */
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { HealthCheckServers } from '../../agent/proxy/health-check-server';
import { inNetns } from '../../kernel/netns';
import { withNetlink } from '../../kernel/netlink';
import { runIn } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';

interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  error?: string;
}

const CLIENT_SRC = `
const http = require('http');
const [host, port] = process.argv.slice(1);
const req = http.get({ host, port: Number(port), path: '/anything', timeout: 5000, agent: false }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (d) => (body += d));
  res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, headers: res.headers, body })));
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => process.stdout.write(JSON.stringify({ error: e.code || e.message })));
`;

async function get(ns: string, port: number, host = '127.0.0.1'): Promise<Answer> {
  const { stdout } = await runIn(ns, process.execPath, ['-e', CLIENT_SRC, host, String(port)], 20_000);
  return JSON.parse(stdout) as Answer;
}

async function namespace(t: ExecutionContext): Promise<{ ns: string; servers: HealthCheckServers }> {
  const ns = tempNetns(t, 'hc');
  await withNetlink(ns, (nl) => nl.links.setUp('lo'));
  const servers = new HealthCheckServers({ netns: ns });
  t.teardown(() => servers.close());
  return { ns, servers };
}

const BODY = (name: string, n: number) => `{\n\t"service": {\n\t\t"namespace": "x",\n\t\t"name": "${name}"\n\t},\n\t"localEndpoints": ${n},\n\t"serviceProxyHealthy": true\n}`;

test("kube-proxy's answers: 200 with local endpoints, 503 without, on every address of the namespace", async (t) => {
  const { ns, servers } = await namespace(t);
  const sync = await servers.sync([{ service: 'x/web', port: 30100, localEndpoints: 2 }]);
  t.deepEqual(sync, { opened: [{ service: 'x/web', port: 30100 }], closed: [], failed: [] });

  const ok = await get(ns, 30100);
  t.is(ok.status, 200);
  t.is(ok.headers?.['content-type'], 'application/json');
  t.is(ok.headers?.['x-content-type-options'], 'nosniff');
  t.is(ok.headers?.['x-load-balancing-endpoint-weight'], '2');
  t.is(ok.body, BODY('web', 2), 'the same bytes as kube-proxy');
  t.deepEqual(JSON.parse(ok.body ?? ''), { service: { namespace: 'x', name: 'web' }, localEndpoints: 2, serviceProxyHealthy: true });
  t.is((await get(ns, 30100, '::1')).status, 200, 'IPv6 too');

  const again = await servers.sync([{ service: 'x/web', port: 30100, localEndpoints: 0 }]);
  t.deepEqual(again, { opened: [], closed: [], failed: [] }, 'a new count is not a new server');
  const down = await get(ns, 30100);
  t.is(down.status, 503);
  t.is(down.headers?.['x-load-balancing-endpoint-weight'], '0');
  t.is(down.body, BODY('web', 0));
  t.deepEqual(servers.serving, [{ service: 'x/web', port: 30100, localEndpoints: 0 }]);
});

test('ports follow the syncs: a port moving, two services trading ports, a service leaving, close', async (t) => {
  const { ns, servers } = await namespace(t);
  await servers.sync([
    { service: 'x/a', port: 30110, localEndpoints: 1 },
    { service: 'x/b', port: 30111, localEndpoints: 3 },
  ]);
  t.is((await get(ns, 30110)).status, 200);

  const moved = await servers.sync([
    { service: 'x/a', port: 30112, localEndpoints: 1 },
    { service: 'x/b', port: 30111, localEndpoints: 3 },
  ]);
  t.deepEqual(moved, { opened: [{ service: 'x/a', port: 30112 }], closed: [{ service: 'x/a', port: 30110 }], failed: [] });
  t.is((await get(ns, 30110)).error, 'ECONNREFUSED', 'the old port is closed');
  t.is((await get(ns, 30112)).body, BODY('a', 1));

  const traded = await servers.sync([
    { service: 'x/a', port: 30111, localEndpoints: 1 },
    { service: 'x/b', port: 30112, localEndpoints: 3 },
  ]);
  t.deepEqual(traded.failed, [], 'each port is closed before it is opened again');
  t.is((await get(ns, 30111)).body, BODY('a', 1));
  t.is((await get(ns, 30112)).body, BODY('b', 3));

  const left = await servers.sync([{ service: 'x/b', port: 30112, localEndpoints: 3 }]);
  t.deepEqual(left.closed, [{ service: 'x/a', port: 30111 }]);
  t.is((await get(ns, 30111)).error, 'ECONNREFUSED');

  await servers.close();
  t.is((await get(ns, 30112)).error, 'ECONNREFUSED');
  t.deepEqual(servers.serving, []);
});

test('a port another process holds: reported, the others served, taken on a later sync once free', async (t) => {
  const { ns, servers } = await namespace(t);
  const squatter = net.createServer();
  await new Promise<void>((resolve, reject) => {
    squatter.once('error', reject);
    inNetns(ns, () => squatter.listen({ port: 30120 }, resolve));
  });
  const first = await servers.sync([
    { service: 'x/busy', port: 30120, localEndpoints: 1 },
    { service: 'x/free', port: 30121, localEndpoints: 1 },
  ]);
  t.is(first.failed.length, 1);
  t.is(first.failed[0].service, 'x/busy');
  t.regex(first.failed[0].error.message, /EADDRINUSE/);
  t.deepEqual(first.opened, [{ service: 'x/free', port: 30121 }]);
  t.is((await get(ns, 30121)).status, 200);

  const still = await servers.sync([
    { service: 'x/busy', port: 30120, localEndpoints: 1 },
    { service: 'x/free', port: 30121, localEndpoints: 1 },
  ]);
  t.is(still.failed.length, 1, 'tried again, still busy');

  await new Promise<void>((resolve) => squatter.close(() => resolve()));
  const later = await servers.sync([
    { service: 'x/busy', port: 30120, localEndpoints: 1 },
    { service: 'x/free', port: 30121, localEndpoints: 1 },
  ]);
  t.deepEqual(later, { opened: [{ service: 'x/busy', port: 30120 }], closed: [], failed: [] });
  t.is((await get(ns, 30120)).body, BODY('busy', 1));
});
