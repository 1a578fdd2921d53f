/**
 * staleConntrackDeletions: which conntrack entries a service change leaves stale (an endpoint
 * leaving a UDP/SCTP frontend, a frontend getting its first endpoints), per frontend (cluster
 * IP, external IPs, load-balancer IPs, node port), with the traffic policies' endpoint sets;
 * flushStaleConntrack running them; the conntrack command line.
 */
import test from 'ava';
import type { ServiceEndpoint, ServicePortState, ServiceState } from '../../agent/dataplane/service-state';
import { flushStaleConntrack } from '../../agent/proxy/flush-conntrack';
import { staleConntrackDeletions, type ConntrackDeletion } from '../../agent/proxy/stale-conntrack';
import { ConntrackError, conntrackFilterArgs, parseCount, type ConntrackFilter } from '../../kernel/conntrack';
import { compile, service, slice } from '../helpers/proxy-objects';
import { portState } from '../helpers/service-ports';

const A: ServiceEndpoint = { ip: '10.244.0.11', port: 5353, local: true };
const B: ServiceEndpoint = { ip: '10.244.1.12', port: 5353, local: false };
const C: ServiceEndpoint = { ip: '10.244.0.13', port: 5353, local: true };

const udp = (name: string, endpoints: ServiceEndpoint[], extra: Partial<ServicePortState> = {}) => portState(name, { protocol: 'udp', port: 53, endpoints, ...extra });

function state(...ports: ServicePortState[]): ServiceState {
  return { ports, nodePortAddresses: ['192.0.2.1'], healthChecks: [], problems: [] };
}

/** Compact form: "udp 10.96.0.10:53 <- 10.244.0.11:5353", "*" for any. */
function show(ds: readonly ConntrackDeletion[]): string[] {
  return ds.map((d) => `${d.protocol}${d.family === 6 ? '6' : ''} ${d.origDst ?? '*'}:${d.origPortDst} <- ${d.replySrc ?? '*'}${d.replyPortSrc !== undefined ? `:${d.replyPortSrc}` : ''}`);
}

const frontends = { externalIps: ['203.0.113.7'], loadBalancerIps: ['198.51.100.9'], nodePort: 30053 };

test('nothing before the first sync, nor when nothing changed', (t) => {
  const s = state(udp('dns', [A, B], frontends));
  t.deepEqual(staleConntrackDeletions(undefined, s), [], 'a restarted agent keeps the flows of the rules it adopts');
  t.deepEqual(staleConntrackDeletions(s, s), []);
  t.deepEqual(staleConntrackDeletions(s, state(udp('dns', [{ ...A }, { ...B }], { ...frontends }))), [], 'equal states built apart');
});

test('an endpoint leaving: its entries to every frontend (cluster IP, external IP, load-balancer IP, node port on any address)', (t) => {
  const before = state(udp('dns', [A, B], frontends));
  const after = state(udp('dns', [A], frontends));
  t.deepEqual(show(staleConntrackDeletions(before, after)), [
    'udp *:30053 <- 10.244.1.12:5353',
    'udp 10.96.0.10:53 <- 10.244.1.12:5353',
    'udp 198.51.100.9:53 <- 10.244.1.12:5353',
    'udp 203.0.113.7:53 <- 10.244.1.12:5353',
  ]);
});

test('TCP changes delete nothing; SCTP is treated as UDP; IPv6 keeps its family', (t) => {
  const tcp = (eps: ServiceEndpoint[]) => udp('web', eps, { protocol: 'tcp' });
  t.deepEqual(staleConntrackDeletions(state(tcp([A, B])), state(tcp([A]))), []);
  t.deepEqual(staleConntrackDeletions(state(tcp([])), state(tcp([A]))), []);
  const sctp = (eps: ServiceEndpoint[]) => udp('sig', eps, { protocol: 'sctp' });
  t.deepEqual(show(staleConntrackDeletions(state(sctp([A, B])), state(sctp([A])))), ['sctp 10.96.0.10:53 <- 10.244.1.12:5353']);
  const v6A = { ip: 'fd00:10:244::11', port: 53, local: true };
  const v6B = { ip: 'fd00:10:244:1::12', port: 53, local: false };
  const v6 = (eps: ServiceEndpoint[]) => udp('dns', eps, { family: 6, clusterIp: 'fd00:96::10', nodePort: 30053 });
  const ds = staleConntrackDeletions(state(v6([v6A, v6B])), state(v6([v6A])));
  t.deepEqual(show(ds), ['udp6 *:30053 <- fd00:10:244:1::12:53', 'udp6 fd00:96::10:53 <- fd00:10:244:1::12:53']);
  t.true(ds.every((d) => d.family === 6));
});

test('an endpoint changing its port: the entries to the old port go, those of the same address on a port still in use stay', (t) => {
  const moved = { ...B, port: 5354 };
  t.deepEqual(show(staleConntrackDeletions(state(udp('dns', [A, B])), state(udp('dns', [A, moved])))), ['udp 10.96.0.10:53 <- 10.244.1.12:5353']);
});

test('first endpoints of a frontend, or a new service: every entry to its frontends (made while it rejected or routed them)', (t) => {
  const d = staleConntrackDeletions(state(udp('dns', [], frontends)), state(udp('dns', [A], frontends)));
  t.deepEqual(show(d), ['udp *:30053 <- *', 'udp 10.96.0.10:53 <- *', 'udp 198.51.100.9:53 <- *', 'udp 203.0.113.7:53 <- *']);
  t.deepEqual(show(staleConntrackDeletions(state(), state(udp('dns', [A])))), ['udp 10.96.0.10:53 <- *'], 'a service that did not exist');
  t.deepEqual(
    show(staleConntrackDeletions(state(udp('dns', [A])), state(udp('dns', [A], { externalIps: ['203.0.113.8'] })))),
    ['udp 203.0.113.8:53 <- *'],
    'an external IP added to a service with endpoints',
  );
  t.deepEqual(staleConntrackDeletions(state(udp('dns', [])), state(udp('dns', []))), [], 'still none');
});

test('the last endpoint leaving, the service or a frontend going away: the entries to the endpoints that were there', (t) => {
  const before = state(udp('dns', [A, B], { externalIps: ['203.0.113.7'] }));
  t.deepEqual(show(staleConntrackDeletions(before, state(udp('dns', [], { externalIps: ['203.0.113.7'] })))), [
    'udp 10.96.0.10:53 <- 10.244.0.11:5353',
    'udp 10.96.0.10:53 <- 10.244.1.12:5353',
    'udp 203.0.113.7:53 <- 10.244.0.11:5353',
    'udp 203.0.113.7:53 <- 10.244.1.12:5353',
  ]);
  t.deepEqual(show(staleConntrackDeletions(before, state())), show(staleConntrackDeletions(before, state(udp('dns', [], { externalIps: ['203.0.113.7'] })))));
  t.deepEqual(show(staleConntrackDeletions(before, state(udp('dns', [A, B])))), ['udp 203.0.113.7:53 <- 10.244.0.11:5353', 'udp 203.0.113.7:53 <- 10.244.1.12:5353'], 'external IP removed');
});

test('externalTrafficPolicy Local: external frontends also reach the cluster endpoints (pods of this node short-circuit)', (t) => {
  const local = (cluster: ServiceEndpoint[], external: ServiceEndpoint[]) => udp('dns', cluster, { externalEndpoints: external, externalPolicyLocal: true, nodePort: 30053, externalIps: ['203.0.113.7'] });
  // A remote endpoint leaves: never an external endpoint, still the target of short-circuited flows.
  t.deepEqual(show(staleConntrackDeletions(state(local([A, B], [A])), state(local([A], [A])))), [
    'udp *:30053 <- 10.244.1.12:5353',
    'udp 10.96.0.10:53 <- 10.244.1.12:5353',
    'udp 203.0.113.7:53 <- 10.244.1.12:5353',
  ]);
  // The local endpoint leaves: node is left with none for outside clients (dropped), its flows go everywhere.
  t.deepEqual(show(staleConntrackDeletions(state(local([A, B], [A])), state(local([B], [])))), [
    'udp *:30053 <- 10.244.0.11:5353',
    'udp 10.96.0.10:53 <- 10.244.0.11:5353',
    'udp 203.0.113.7:53 <- 10.244.0.11:5353',
  ]);
});

test('internalTrafficPolicy Local: the cluster IP uses local endpoints only, external frontends all', (t) => {
  const internal = (cluster: ServiceEndpoint[], external: ServiceEndpoint[]) => udp('dns', cluster, { externalEndpoints: external, internalPolicyLocal: true, nodePort: 30053 });
  t.deepEqual(show(staleConntrackDeletions(state(internal([A], [A, B])), state(internal([A], [A])))), ['udp *:30053 <- 10.244.1.12:5353']);
  t.deepEqual(show(staleConntrackDeletions(state(internal([A], [A, C])), state(internal([C], [A, C])))), ['udp 10.96.0.10:53 <- 10.244.0.11:5353']);
});

test('from the compiler: an endpoint of a UDP service becoming not ready', (t) => {
  const svc = service('dns', { clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }] });
  const sl = (ready: boolean) => slice('dns-1', 'dns', { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }], endpoints: [{ ip: '10.244.0.5', ready: true }, { ip: '10.244.0.6', ready }] });
  t.deepEqual(show(staleConntrackDeletions(compile([svc], [sl(true)]), compile([svc], [sl(false)]))), ['udp 10.96.0.10:53 <- 10.244.0.6:5353']);
  t.deepEqual(staleConntrackDeletions(compile([svc], [sl(false)]), compile([svc], [sl(true)])), [], 'an endpoint joining leaves existing flows alone');
});

test('flushStaleConntrack: runs every deletion, counts entries, collects failures without throwing', async (t) => {
  const calls: ConntrackFilter[] = [];
  const deleter = {
    async delete(f: ConntrackFilter) {
      calls.push(f);
      if (f.origDst === '203.0.113.7') throw new ConntrackError('conntrack -D failed: boom', 'boom', 2);
      return 2;
    },
  };
  const r = await flushStaleConntrack(state(udp('dns', [A, B], { externalIps: ['203.0.113.7'] })), state(udp('dns', [A], { externalIps: ['203.0.113.7'] })), deleter);
  t.is(calls.length, 2);
  t.is(r.deleted, 2);
  t.is(r.failures.length, 1);
  t.is(r.failures[0].deletion.origDst, '203.0.113.7');
  t.regex(r.failures[0].error.message, /boom/);
  t.deepEqual((await flushStaleConntrack(undefined, state(udp('dns', [A])), deleter)).deletions, []);
});

test('the conntrack command line: family, protocol, the fields given, checked', (t) => {
  t.deepEqual(conntrackFilterArgs({ family: 4, protocol: 'udp', origDst: '10.96.0.10', origPortDst: 53, replySrc: '10.244.0.11', replyPortSrc: 5353 }), [
    '-f', 'ipv4', '-p', 'udp', '--orig-dst', '10.96.0.10', '--orig-port-dst', '53', '--reply-src', '10.244.0.11', '--reply-port-src', '5353',
  ]);
  t.deepEqual(conntrackFilterArgs({ family: 6, protocol: 'sctp', origPortDst: 30053 }), ['-f', 'ipv6', '-p', 'sctp', '--orig-port-dst', '30053']);
  t.throws(() => conntrackFilterArgs({ family: 4, protocol: 'udp', origDst: 'fd00::1' }), { instanceOf: ConntrackError });
  t.throws(() => conntrackFilterArgs({ family: 4, protocol: 'udp', replySrc: '-F' }), { instanceOf: ConntrackError });
  t.throws(() => conntrackFilterArgs({ family: 4, protocol: 'udp', origPortDst: 0 }), { instanceOf: ConntrackError });
  t.is(parseCount('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n', 'deleted'), 0);
  t.is(parseCount('conntrack v1.4.7 (conntrack-tools): 12 flow entries have been deleted.\n', 'deleted'), 12);
  t.is(parseCount('conntrack v1.4.7 (conntrack-tools): Operation not permitted\n', 'deleted'), undefined);
});
