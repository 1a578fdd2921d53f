/**
 * The client's service definition (client-definition.ts: the .proto parsed by protobufjs) and the
 * server's (proto.ts: @grpc/proto-loader) agree on every method: the same paths and streaming,
 * the same bytes for a message, and the same objects decoded from them (names camelCased,
 * 64-bit integers as numbers, defaults filled in, oneofs and maps as the loader gives them).
 */
import test from 'ava';
import type * as grpc from '@grpc/grpc-js';
import { agentClientConstructor } from '../../agent/api/client-definition';
import type { AgentStatus, PolicyDropMessage } from '../../agent/api/messages';
import { agentService } from '../../agent/api/proto';

const client = agentClientConstructor().service;
const server = agentService().service;

/** Every field: the loader's defaults for an empty message, then a value in each (64-bit counts past 2^32). */
const STATUS: AgentStatus = {
  ...(server.Status.responseDeserialize(Buffer.alloc(0)) as AgentStatus),
  nodeName: 'n1',
  sources: [{ description: 'kube', synced: false, skipped: 7 }],
  objectCounts: { Namespace: 2, Pod: 5_000_000_000 },
  sync: { lastSyncUnixMs: 1764000000123, lastSyncDurationMs: 0.25, lastError: 'nft: boom' },
  rules: 4_000_000_000_123,
  ready: true,
};

const DROP: PolicyDropMessage = {
  firstSeenUnixMs: 1764000000000,
  lastSeenUnixMs: 1764000000999,
  packets: 3,
  direction: 'ingress',
  family: 6,
  protocol: 'TCP',
  tcpFlags: 'SYN',
  source: '10.244.0.1',
  sourcePort: 40000,
  sourcePod: 'x/a',
  destination: 'fd00::2',
  destinationPort: 80,
  destinationPod: '',
  pod: 'x/a',
  policies: ['y/deny-all'],
};

/** A message each way of each method, as weftctl, CNI plugins and the agent send them. */
const MESSAGES: Record<string, { request: object; response: object }> = {
  Status: { request: {}, response: STATUS },
  RegisterEndpoint: { request: { endpoint: { podNamespace: 'shop', podName: 'web-0', containerId: 'c1', interface: 'eth0', addresses: ['10.244.1.2/24', 'fd00::2/64'] } }, response: {} },
  UnregisterEndpoint: { request: { containerId: 'c1', interface: 'eth0' }, response: {} },
  PolicyCounters: { request: {}, response: { counters: [{ policy: 'y/a', direction: 'ingress', allowedPackets: 5, allowedBytes: 9_007_199_254_740_991, droppedPackets: 0, droppedBytes: 0 }] } },
  PolicyQuery: { request: { whatIf: { policiesJson: ['{}'], delete: true, namespaces: ['x'], ports: [] } }, response: { resultJson: '{"verdict":"allowed"}', warnings: ['w'] } },
  Services: { request: { namespace: '' }, response: {} },
  Rules: { request: { pod: 'x/a', service: '' }, response: {} },
  PolicyDrops: { request: { follow: true, pod: '' }, response: DROP },
};

test('every method of the .proto, with the same path and streaming on both sides', (t) => {
  t.deepEqual(Object.keys(client).sort(), Object.keys(server).sort());
  t.deepEqual(Object.keys(MESSAGES).sort(), Object.keys(server).sort(), 'a message for each method below');
  for (const [name, s] of Object.entries(server)) {
    const c = client[name];
    t.deepEqual([c.path, c.requestStream, c.responseStream], [s.path, s.requestStream, s.responseStream], name);
  }
});

type Method = grpc.MethodDefinition<object, object>;

test('the same bytes for a message, and the same objects decoded from them', (t) => {
  const sides = (m: Method, which: 'request' | 'response') =>
    which === 'request' ? { encode: m.requestSerialize, decode: m.requestDeserialize } : { encode: m.responseSerialize, decode: m.responseDeserialize };
  for (const [name, messages] of Object.entries(MESSAGES)) {
    for (const which of ['request', 'response'] as const) {
      const c = sides(client[name] as Method, which);
      const s = sides(server[name] as Method, which);
      const value = messages[which];
      const bytes = s.encode(value);
      t.deepEqual(c.encode(value), bytes, `${name} ${which}: bytes`);
      t.deepEqual(c.decode(bytes), s.decode(bytes), `${name} ${which}: decoded`);
      // Decoded by either side, and an empty message with every default in place.
      t.deepEqual(c.decode(Buffer.alloc(0)), s.decode(Buffer.alloc(0)), `${name} ${which}: defaults`);
    }
  }
  t.deepEqual(sides(client.Status as Method, 'response').decode(sides(server.Status as Method, 'response').encode(STATUS)), STATUS);
});

test('an array is refused as a message, as the loader refuses it', (t) => {
  t.throws(() => (client.Status as Method).requestSerialize([] as unknown as object), { message: /expected object with StatusRequest structure, got array instead/ });
});
