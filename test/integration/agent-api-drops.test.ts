/**
 * The PolicyDrops stream over a real unix socket with the real client library: the recent drops,
 * then each new one to a follower; the request's errors as gRPC codes; and closing the API ends
 * open followers instead of waiting for them (an agent stopping with `weftctl policy drops
 * --follow` attached must not hang).
 */
import path from 'node:path';
import test from 'ava';
import { createAgentClient } from '../../agent/api/client';
import { LocalEndpoints } from '../../agent/api/endpoints';
import { dropMessage } from '../../agent/api/inspect-answers';
import type { PolicyDropMessage } from '../../agent/api/messages';
import { startAgentApi } from '../../agent/api/server';
import { PolicyDropLog } from '../../agent/drops/drop-log';
import { DROP_LOG_PREFIX } from '../../agent/drops/log-rules';
import { InspectError } from '../../agent/inspect/errors';
import { eventually } from '../helpers/agent-process';
import { tempDir } from '../helpers/tmp';

function udp(sport: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x45;
  b.writeUInt16BE(28, 2);
  b[9] = 17;
  Buffer.from([10, 0, 0, 1]).copy(b, 12);
  Buffer.from([10, 0, 0, 2]).copy(b, 16);
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(53, 22);
  return b;
}

const STATUS = { nodeName: 'n1', sources: [], objectCounts: {}, sync: { lastSyncUnixMs: 0, lastSyncDurationMs: 0, lastError: '' }, localEndpoints: 0, backend: 'nftables', rulesLocation: 'inet weft', rules: 0, ready: true };

test('recent drops, then new ones to a follower; closing the API ends the follower', async (t) => {
  const socketPath = path.join(tempDir(t, 'drops-api'), 'agent.sock');
  const log = new PolicyDropLog({ name: () => ({ policies: ['x/deny'] }) });
  log.record({ prefix: DROP_LOG_PREFIX.ingress, payload: udp(1000), receivedAt: 1 });
  const api = await startAgentApi({
    socketPath,
    endpoints: new LocalEndpoints(),
    status: () => STATUS,
    policyDrops: ({ pod }) => {
      if (pod === 'x/nope') throw new InspectError('NOT_FOUND', 'no pod x/nope');
      return { recent: log.recent().map(dropMessage), follow: (listener) => log.follow((d) => listener(dropMessage(d))) };
    },
  });
  let closed = false;
  t.teardown(() => (closed ? undefined : api.close()));
  const client = createAgentClient(socketPath);
  t.teardown(() => client.close());

  const listed: PolicyDropMessage[] = [];
  await client.policyDrops({ follow: false }, (d) => listed.push(d)).done;
  t.deepEqual(listed.map((d) => `${d.direction} ${d.protocol} ${d.source}:${d.sourcePort} -> ${d.destination}:${d.destinationPort} ${d.policies}`), ['ingress UDP 10.0.0.1:1000 -> 10.0.0.2:53 x/deny']);
  t.like(await t.throwsAsync(client.policyDrops({ follow: false, pod: 'x/nope' }, () => undefined).done), { code: 5, details: 'no pod x/nope' });

  const followed: number[] = [];
  let accepted = false;
  const stream = client.policyDrops({ follow: true }, (d) => followed.push(d.sourcePort), () => (accepted = true));
  await eventually('the recent drop and the acceptance', () => (accepted && followed.length === 1 ? true : undefined));
  log.record({ prefix: DROP_LOG_PREFIX.egress, payload: udp(2000), receivedAt: 2 });
  await eventually('the new drop', () => (followed.length === 2 ? true : undefined));
  t.deepEqual(followed, [1000, 2000]);
  t.is(log.followerCount, 1);
  await api.close();
  closed = true;
  await stream.done;
  t.is(log.followerCount, 0, 'the server let go of the follower');
});

test('a follower that cancels is let go', async (t) => {
  const socketPath = path.join(tempDir(t, 'drops-api'), 'agent.sock');
  const log = new PolicyDropLog({ name: () => ({ policies: [] }) });
  const api = await startAgentApi({ socketPath, endpoints: new LocalEndpoints(), status: () => STATUS, policyDrops: () => ({ recent: [], follow: (l) => log.follow((d) => l(dropMessage(d))) }) });
  t.teardown(() => api.close());
  const client = createAgentClient(socketPath);
  t.teardown(() => client.close());
  const stream = client.policyDrops({ follow: true }, () => undefined);
  await eventually('the follower', () => (log.followerCount === 1 ? true : undefined));
  stream.cancel();
  await stream.done;
  await eventually('the follower to go', () => (log.followerCount === 0 ? true : undefined));
  t.pass();
});
