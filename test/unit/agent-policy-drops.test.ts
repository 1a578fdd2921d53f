/** agent/drops: the log of denied flows kept from NFLOG packets (kernel/nflog's shape, built here). */
import test from 'ava';
import { PolicyDropLog, type DropNamer, type PolicyDrop } from '../../agent/drops/drop-log';
import { CLUSTER_DROP_LOG_PREFIX, DROP_LOG_PREFIX, dropDirectionOf, dropOriginOf } from '../../agent/drops/log-rules';
import type { NflogPacket } from '../../kernel/nflog';

/** An IPv4 packet's first bytes: TCP SYN or UDP from src:sport to dst:dport. */
function packet(protocol: 'tcp' | 'udp', src: string, sport: number, dst: string, dport: number): Buffer {
  const b = Buffer.alloc(40);
  b[0] = 0x45;
  b.writeUInt16BE(40, 2);
  b[9] = protocol === 'tcp' ? 6 : 17;
  src.split('.').forEach((x, i) => (b[12 + i] = Number(x)));
  dst.split('.').forEach((x, i) => (b[16 + i] = Number(x)));
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(dport, 22);
  if (protocol === 'tcp') b[33] = 0x02;
  return b;
}

const logged = (prefix: string, payload: Buffer, receivedAt: number): NflogPacket => ({ prefix, payload, receivedAt });
const namer: DropNamer = (h, direction) => ({ ...(h.source === '10.0.0.1' ? { sourcePod: 'x/a' } : {}), pod: direction === 'ingress' ? 'x/b' : 'x/a', policies: ['x/deny'] });
const flowOf = (d: PolicyDrop) => `${d.direction} ${d.protocol} ${d.source}:${d.sourcePort} ${d.destination}:${d.destinationPort} x${d.packets}`;

test('each flow is recorded once, named, and its repeats counted within the window', (t) => {
  const log = new PolicyDropLog({ name: namer, repeatWindowMs: 1000 });
  const syn = packet('tcp', '10.0.0.1', 40000, '10.0.0.2', 80);
  log.record(logged(DROP_LOG_PREFIX.ingress, syn, 1000));
  log.record(logged(DROP_LOG_PREFIX.ingress, syn, 1900));
  log.record(logged(DROP_LOG_PREFIX.egress, packet('udp', '10.0.0.1', 5000, '10.0.0.3', 53), 2000));
  // Past the window: the same five-tuple is a new flow.
  log.record(logged(DROP_LOG_PREFIX.ingress, syn, 3000));
  t.deepEqual(log.recent().map(flowOf), ['ingress TCP 10.0.0.1:40000 10.0.0.2:80 x2', 'egress UDP 10.0.0.1:5000 10.0.0.3:53 x1', 'ingress TCP 10.0.0.1:40000 10.0.0.2:80 x1']);
  t.like(log.recent()[0], { firstSeen: 1000, lastSeen: 1900, family: 4, sourcePod: 'x/a', pod: 'x/b', policies: ['x/deny'], tcpFlags: 'SYN' });
  t.is(log.recent()[1].pod, 'x/a');
});

test('followers get each new flow once; other prefixes and unreadable packets are ignored', (t) => {
  const log = new PolicyDropLog({ name: namer });
  const seen: string[] = [];
  const stop = log.follow((d) => seen.push(flowOf(d)));
  const syn = packet('tcp', '10.0.0.5', 1, '10.0.0.2', 80);
  log.record(logged(DROP_LOG_PREFIX.ingress, syn, 1));
  log.record(logged(DROP_LOG_PREFIX.ingress, syn, 2));
  log.record(logged('someone else', syn, 3));
  log.record(logged(DROP_LOG_PREFIX.egress, Buffer.from([0x45]), 4));
  t.deepEqual(seen, ['ingress TCP 10.0.0.5:1 10.0.0.2:80 x1']);
  t.is(log.ignored, 2);
  stop();
  log.record(logged(DROP_LOG_PREFIX.egress, syn, 5));
  t.is(seen.length, 1);
  t.is(log.followerCount, 0);
});

test('the ring keeps the newest flows; an evicted flow seen again is new', (t) => {
  const log = new PolicyDropLog({ name: namer, capacity: 3 });
  for (let port = 1; port <= 5; port++) log.record(logged(DROP_LOG_PREFIX.ingress, packet('udp', '10.0.0.1', port, '10.0.0.2', 53), port));
  t.deepEqual(log.recent().map((d) => d.sourcePort), [3, 4, 5]);
  log.record(logged(DROP_LOG_PREFIX.ingress, packet('udp', '10.0.0.1', 1, '10.0.0.2', 53), 6));
  t.deepEqual(log.recent().map((d) => `${d.sourcePort} x${d.packets}`), ['4 x1', '5 x1', '1 x1']);
});

test('log prefixes name the direction, and the ClusterNetworkPolicy tier for a tier drop', (t) => {
  t.is(dropDirectionOf(DROP_LOG_PREFIX.ingress), 'ingress');
  t.is(dropDirectionOf(DROP_LOG_PREFIX.egress), 'egress');
  t.is(dropDirectionOf('weft-drop'), undefined);
  t.deepEqual(dropOriginOf(DROP_LOG_PREFIX.egress), { direction: 'egress' });
  t.deepEqual(dropOriginOf(CLUSTER_DROP_LOG_PREFIX.admin.ingress), { direction: 'ingress', tier: 'admin' });
  t.deepEqual(dropOriginOf(CLUSTER_DROP_LOG_PREFIX.baseline.egress), { direction: 'egress', tier: 'baseline' });
  t.is(dropOriginOf('weft-drop admin'), undefined);
  t.is(dropOriginOf('weft-drop admin ingress '), undefined);
});

test('a tier drop is recorded with its tier, named by the namer told the tier, and kept apart from NetworkPolicy drops of the flow', (t) => {
  const told: string[] = [];
  const tierNamer: DropNamer = (h, direction, tier) => {
    told.push(`${direction} ${tier ?? 'np'}`);
    return tier ? { policies: [], clusterPolicy: 'deny-z', rule: 'Admin priority 10 deny-z ingress rule 2 (from-z): Deny' } : { policies: ['x/deny'] };
  };
  const log = new PolicyDropLog({ name: tierNamer });
  const syn = packet('tcp', '10.0.0.1', 40000, '10.0.0.2', 80);
  log.record(logged(CLUSTER_DROP_LOG_PREFIX.admin.ingress, syn, 1));
  log.record(logged(CLUSTER_DROP_LOG_PREFIX.admin.ingress, syn, 2));
  log.record(logged(DROP_LOG_PREFIX.ingress, syn, 3));
  log.record(logged(CLUSTER_DROP_LOG_PREFIX.baseline.egress, packet('udp', '10.0.0.1', 5000, '10.0.0.3', 53), 4));
  t.deepEqual(told, ['ingress admin', 'ingress np', 'egress baseline']);
  const [admin, np, baseline] = log.recent();
  t.like(admin, { tier: 'admin', direction: 'ingress', packets: 2, clusterPolicy: 'deny-z', rule: 'Admin priority 10 deny-z ingress rule 2 (from-z): Deny', policies: [] });
  t.like(np, { direction: 'ingress', packets: 1, policies: ['x/deny'] });
  t.false('tier' in np);
  t.like(baseline, { tier: 'baseline', direction: 'egress', protocol: 'UDP' });
  t.is(log.ignored, 0);
});
