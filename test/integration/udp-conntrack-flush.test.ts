/**
 * Stale UDP conntrack entries, with real traffic through the nftables backend on the pod-bridge
 * topology: a client that keeps sending from one source port stays on the endpoint its first
 * datagram was DNATed to, also after that endpoint left the service (the entry is in the node's
 * conntrack table and the rules are never consulted again), until flushStaleConntrack deletes
 * the entry; then the next datagram reaches an endpoint that is still there. The same for a
 * node port from outside, and for a service whose cluster IP had been sent to before it had
 * endpoints (the entry, not NATed, keeps sending the datagrams where they went).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import test, { type ExecutionContext } from 'ava';
import { NftablesBackend } from '../../agent/backend/nftables/backend';
import { ensureBridgeNetfilter } from '../../agent/dataplane/bridge-netfilter';
import type { NodeState } from '../../agent/dataplane/node-state';
import type { ServiceEndpoint, ServicePortState, ServiceState } from '../../agent/dataplane/service-state';
import { flushStaleConntrack } from '../../agent/proxy/flush-conntrack';
import { ConntrackCli, ConntrackError } from '../../kernel/conntrack';
import { inNetns } from '../../kernel/netns';
import { NftCli } from '../../kernel/nft';
import { childEnv } from '../../lab/child-env';
import { runIn } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';
import { BRIDGE, P1, P2, P3, podBridgeTopology } from '../helpers/pod-bridge-topology';
import { portState } from '../helpers/service-ports';

const NODE_IP = '10.0.0.1';
const SERVER_PORT = 5353;
const known = [
  { namespace: 'x', name: 'p1', ips: [P1.v4, P1.v6] },
  { namespace: 'x', name: 'p2', ips: [P2.v4, P2.v6] },
  { namespace: 'x', name: 'p3', ips: [P3.v4, P3.v6] },
];
const ENDPOINT: Record<'p1' | 'p2', ServiceEndpoint> = {
  p1: { ip: P1.v4, port: SERVER_PORT, local: true },
  p2: { ip: P2.v4, port: SERVER_PORT, local: true },
};

const udpPort = (name: string, clusterIp: string, endpoints: ServiceEndpoint[], extra: Partial<ServicePortState> = {}) =>
  portState(name, { protocol: 'udp', clusterIp, port: 53, endpoints, ...extra });

function services(...ports: ServicePortState[]): ServiceState {
  return { ports: [...ports].sort((a, b) => (a.key < b.key ? -1 : 1)), nodePortAddresses: [NODE_IP], healthChecks: [], problems: [] };
}

function nodeState(s: ServiceState): NodeState {
  return { nodeName: 'n1', localPods: known, podBridge: BRIDGE, services: { state: s, clusterCidrs: ['10.244.0.0/24'] } };
}

const SERVER_SRC = `
const dgram = require('dgram');
const s = dgram.createSocket({ type: 'udp6', ipv6Only: false });
s.on('message', (m, r) => s.send('weft ' + process.argv[2], r.port, r.address));
s.bind(Number(process.argv[1]), '::', () => process.stdout.write('ready\\n'));
`;

/** Sends one datagram from a fixed source port and prints the answer, or "timeout". */
const CLIENT_SRC = `
const dgram = require('dgram');
const [host, port, src, timeout] = process.argv.slice(1);
const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
s.on('error', (e) => { process.stdout.write(e.code || e.message); process.exit(1); });
s.bind(Number(src), () => {
  s.on('message', (m) => { process.stdout.write(m.toString()); process.exit(0); });
  s.send('ping', Number(port), host);
  setTimeout(() => { process.stdout.write('timeout'); process.exit(2); }, Number(timeout));
});
`;

async function startUdpServer(t: ExecutionContext, ns: string, label: string): Promise<void> {
  const child: ChildProcess = inNetns(ns, () => spawn(process.execPath, ['-e', SERVER_SRC, String(SERVER_PORT), label], { stdio: ['ignore', 'pipe', 'inherit'], env: childEnv() }));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'close');
    }
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  if (!chunk.toString().includes('ready')) throw new Error(`udp server ${label} did not start`);
}

/** Who answered one datagram sent from `srcPort` ("weft p1", "timeout"). */
async function ask(from: string, address: string, port: number, srcPort: number, timeoutMs = 3000): Promise<string> {
  const { stdout } = await runIn(from, process.execPath, ['-e', CLIENT_SRC, address, String(port), String(srcPort), String(timeoutMs)], timeoutMs + 10_000);
  return stdout.trim();
}

async function setup(t: ExecutionContext) {
  const topo = await podBridgeTopology(t, 'u', { hairpin: true, defaultRoute: true });
  await ensureBridgeNetfilter(BRIDGE, topo.node);
  await startUdpServer(t, topo.pods.p1, 'p1');
  await startUdpServer(t, topo.pods.p2, 'p2');
  return { ...topo, backend: new NftablesBackend(new NftCli({ netns: topo.node }), 'weft'), conntrack: new ConntrackCli({ netns: topo.node }) };
}

test('an endpoint leaving a UDP service: a client sending from one port stays on it until its entry is flushed, then reaches the other', async (t) => {
  const topo = await setup(t);
  const CLUSTER_IP = '10.96.0.20';
  const NODE_PORT = 30053;
  const both = services(udpPort('dns', CLUSTER_IP, [ENDPOINT.p1, ENDPOINT.p2], { nodePort: NODE_PORT }));
  await topo.backend.apply(nodeState(both));

  // A pod's flow to the cluster IP: the same endpoint for every datagram from the same port.
  const SRC = 40000;
  const first = await ask(topo.pods.p3, CLUSTER_IP, 53, SRC);
  t.true(first === 'weft p1' || first === 'weft p2', first);
  t.is(await ask(topo.pods.p3, CLUSTER_IP, 53, SRC), first, 'conntrack keeps the flow on its endpoint');
  const gone = first === 'weft p1' ? 'p1' : 'p2';
  const stays = gone === 'p1' ? 'p2' : 'p1';

  // A flow from outside through the node port that landed on the same endpoint (each source
  // port is a new flow with an even chance of each endpoint).
  let remoteSrc = 0;
  for (let src = 41000; src < 41030 && remoteSrc === 0; src++) {
    if ((await ask(topo.remote, NODE_IP, NODE_PORT, src)) === `weft ${gone}`) remoteSrc = src;
  }
  t.not(remoteSrc, 0, `a node-port flow on ${gone}`);
  // Keeps the pod's entry fresh (an unanswered UDP entry lives 30 s) on a slow machine.
  t.is(await ask(topo.pods.p3, CLUSTER_IP, 53, SRC), first);

  const without = services(udpPort('dns', CLUSTER_IP, [ENDPOINT[stays]], { nodePort: NODE_PORT }));
  await topo.backend.apply(nodeState(without));
  const endpointEntries = () => topo.conntrack.list({ family: 4, protocol: 'udp', replySrc: ENDPOINT[gone].ip, replyPortSrc: SERVER_PORT });
  const stale = await endpointEntries();
  t.true(stale.some((l) => l.includes(`dst=${CLUSTER_IP}`) && l.includes(`sport=${SRC}`)), `the pod's entry outlives the rule: ${stale.join(' | ')}`);
  t.true(stale.some((l) => l.includes(`dport=${NODE_PORT}`) && l.includes(`sport=${remoteSrc}`)), `so does the node-port one: ${stale.join(' | ')}`);
  t.is(await ask(topo.pods.p3, CLUSTER_IP, 53, SRC), `weft ${gone}`, 'without the flush, datagrams still go to the endpoint that left');
  t.is(await ask(topo.remote, NODE_IP, NODE_PORT, remoteSrc), `weft ${gone}`, 'through the node port too');

  const flushed = await flushStaleConntrack(both, without, topo.conntrack);
  t.deepEqual(flushed.failures, []);
  t.is(flushed.deletions.length, 2, 'the cluster IP and the node port');
  t.true(flushed.deleted >= 2, `entries deleted: ${flushed.deleted}`);
  t.deepEqual(await endpointEntries(), []);
  t.is(await ask(topo.pods.p3, CLUSTER_IP, 53, SRC), `weft ${stays}`, 'the same source port now reaches the endpoint that is left');
  t.is(await ask(topo.remote, NODE_IP, NODE_PORT, remoteSrc), `weft ${stays}`);

  const again = await flushStaleConntrack(without, without, topo.conntrack);
  t.deepEqual(again.deletions, [], 'nothing changed, nothing to delete');
});

test('a UDP service getting its first endpoints: the entry made before (not NATed) is flushed, the next datagram is DNATed', async (t) => {
  const topo = await setup(t);
  const CLUSTER_IP = '10.96.0.21';
  const SRC = 40001;
  const none = services();
  await topo.backend.apply(nodeState(none));
  // No service yet: the node routes the datagram to its default route, where nobody answers;
  // the client keeps sending, as a resolver retrying does.
  t.is(await ask(topo.pods.p3, CLUSTER_IP, 53, SRC), 'timeout');

  const withEndpoints = services(udpPort('late', CLUSTER_IP, [ENDPOINT.p1]));
  await topo.backend.apply(nodeState(withEndpoints));
  const entries = () => topo.conntrack.list({ family: 4, protocol: 'udp', origDst: CLUSTER_IP, origPortDst: 53 });
  t.true((await entries()).some((l) => l.includes(`sport=${SRC}`) && l.includes(`src=${CLUSTER_IP}`)), 'an entry without NAT (the reply would come from the cluster IP itself)');
  t.is(await ask(topo.pods.p3, CLUSTER_IP, 53, SRC), 'timeout', 'without the flush the new rule is never consulted');

  const flushed = await flushStaleConntrack(none, withEndpoints, topo.conntrack);
  t.deepEqual(flushed.failures, []);
  t.true(flushed.deleted >= 1);
  t.is(await ask(topo.pods.p3, CLUSTER_IP, 53, SRC), 'weft p1');
});

test('the conntrack tool: deleting nothing is not an error', async (t) => {
  const conntrack = new ConntrackCli({ netns: tempNetns(t, 'ct') });
  t.is(await conntrack.delete({ family: 4, protocol: 'udp', origDst: '10.96.0.99', origPortDst: 53 }), 0);
  t.is(await conntrack.delete({ family: 6, protocol: 'sctp', origPortDst: 30099 }), 0);
  t.deepEqual(await conntrack.list({ family: 4, protocol: 'udp', origDst: '10.96.0.99' }), []);
  await t.throwsAsync(new ConntrackCli({ netns: tempNetns(t, 'ct'), binary: '/bin/false' }).delete({ family: 4, protocol: 'udp' }), { instanceOf: ConntrackError }, 'a failure without the summary line is one');
});
