/** The agent's gRPC API over a real unix socket, with the real client library. */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { createAgentClient } from '../../agent/api/client';
import { LocalEndpoints } from '../../agent/api/endpoints';
import type { AgentStatus } from '../../agent/api/messages';
import { startAgentApi } from '../../agent/api/server';
import { tempDir } from '../helpers/tmp';

function setup(t: { teardown(fn: () => void | Promise<void>): void }) {
  return path.join(tempDir(t, 'api'), 'run', 'agent.sock');
}

const STATUS: AgentStatus = {
  nodeName: 'node-1',
  sources: [{ description: 'manifests /x', synced: true, skipped: 2 }],
  objectCounts: { Pod: 3, Service: 1 },
  sync: { lastSyncUnixMs: 1764000000000, lastSyncDurationMs: 12.5, lastError: '' },
  localEndpoints: 0,
  backend: 'nftables',
  rulesLocation: 'inet weft',
  rules: 4,
  ready: true,
};

test('status and endpoint registration over the socket; socket mode 0600', async (t) => {
  const socketPath = setup(t);
  const endpoints = new LocalEndpoints();
  const api = await startAgentApi({ socketPath, endpoints, status: () => ({ ...STATUS, localEndpoints: endpoints.size }) });
  t.teardown(() => api.close());
  t.is((fs.statSync(socketPath).mode & 0o777).toString(8), '600');
  const client = createAgentClient(socketPath);
  t.teardown(() => client.close());

  t.deepEqual(await client.status(), STATUS);
  await client.registerEndpoint({ podNamespace: 'shop', podName: 'web-0', containerId: 'c1', interface: 'eth0', addresses: ['10.244.1.2/24', 'fd00::2/64'] });
  t.deepEqual(endpoints.list(), [{ podNamespace: 'shop', podName: 'web-0', containerId: 'c1', interface: 'eth0', addresses: ['10.244.1.2/24', 'fd00::2/64'] }]);
  t.is((await client.status()).localEndpoints, 1);
  await client.unregisterEndpoint('c1', 'eth0');
  await client.unregisterEndpoint('c1', 'eth0'); // idempotent, like CNI DEL
  t.is(endpoints.size, 0);
});

test('an incomplete endpoint is refused with INVALID_ARGUMENT', async (t) => {
  const socketPath = setup(t);
  const api = await startAgentApi({ socketPath, endpoints: new LocalEndpoints(), status: () => STATUS });
  t.teardown(() => api.close());
  const client = createAgentClient(socketPath);
  t.teardown(() => client.close());
  const err = await t.throwsAsync(client.registerEndpoint({ podNamespace: 'shop', podName: '', containerId: 'c1', interface: 'eth0', addresses: [] }));
  t.like(err, { code: 3 });
});

test('a second agent API on the same socket refuses to start; a stale socket file is taken over', async (t) => {
  const socketPath = setup(t);
  const first = await startAgentApi({ socketPath, endpoints: new LocalEndpoints(), status: () => STATUS });
  await t.throwsAsync(startAgentApi({ socketPath, endpoints: new LocalEndpoints(), status: () => STATUS }), { message: /already listens/ });
  await first.close();
  fs.writeFileSync(socketPath, '');
  const second = await startAgentApi({ socketPath, endpoints: new LocalEndpoints(), status: () => STATUS });
  t.teardown(() => second.close());
  const client = createAgentClient(socketPath);
  t.teardown(() => client.close());
  t.is((await client.status()).nodeName, 'node-1');
});
