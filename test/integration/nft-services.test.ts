/**
 * Service proxying in nftables with real traffic, on the pod-bridge topology (a node namespace
 * with a bridge, three pods, and a remote host behind an uplink): a cluster IP spreads
 * connections over its endpoints, a pod reaching itself through its service (hairpin), a
 * service without endpoints refuses at once, session affinity, node ports from outside with
 * externalTrafficPolicy Cluster (masqueraded) and Local (client address kept), and a re-apply
 * that changes nothing.
 */
import test, { type ExecutionContext } from 'ava';
import { NftablesBackend } from '../../agent/backend/nftables/backend';
import { serviceChainName } from '../../agent/backend/nftables/render-services';
import { ensureBridgeNetfilter } from '../../agent/dataplane/bridge-netfilter';
import type { NodeState } from '../../agent/dataplane/node-state';
import type { ServicePortState } from '../../agent/dataplane/service-state';
import { NftCli } from '../../kernel/nft';
import { startPeerAddressServer, startTcpServer, tcpProbe, type TcpServer } from '../../lab/probe';
import { BRIDGE, GATEWAY, P1, P2, P3, podBridgeTopology, REMOTE } from '../helpers/pod-bridge-topology';

const NODE_IP = '10.0.0.1';

const known = [
  { namespace: 'x', name: 'p1', ips: [P1.v4, P1.v6] },
  { namespace: 'x', name: 'p2', ips: [P2.v4, P2.v6] },
  { namespace: 'x', name: 'p3', ips: [P3.v4, P3.v6] },
];

function port(name: string, clusterIp: string, servicePort: number, endpoints: [string, number][], extra: Partial<ServicePortState> = {}): ServicePortState {
  const eps = endpoints.map(([ip, p]) => ({ ip, port: p, local: true }));
  return {
    key: `x/${name}::tcp:v4`,
    service: `x/${name}`,
    portName: '',
    protocol: 'tcp',
    family: 4,
    clusterIp,
    port: servicePort,
    externalIps: [],
    loadBalancerIps: [],
    loadBalancerSourceRanges: [],
    clusterEndpoints: eps,
    externalEndpoints: eps,
    anyEndpoints: eps.length > 0,
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    ...extra,
  };
}

const PORTS: ServicePortState[] = [
  port('web', '10.96.0.10', 80, [[P1.v4, 80], [P2.v4, 80]]),
  port('self', '10.96.0.11', 8080, [[P1.v4, 8080]]),
  port('empty', '10.96.0.12', 80, []),
  port('sticky', '10.96.0.13', 80, [[P1.v4, 80], [P2.v4, 80]], { affinityTimeoutSeconds: 60 }),
  port('np-cluster', '10.96.0.14', 8080, [[P1.v4, 8080]], { nodePort: 30080 }),
  port('np-local', '10.96.0.15', 8080, [[P1.v4, 8080]], { nodePort: 30081, externalPolicyLocal: true }),
];

function state(ports: ServicePortState[] = PORTS): NodeState {
  return {
    nodeName: 'n1',
    localPods: known,
    podBridge: BRIDGE,
    services: { state: { ports: [...ports].sort((a, b) => (a.key < b.key ? -1 : 1)), nodePortAddresses: [NODE_IP], healthChecks: [], problems: [] }, clusterCidrs: ['10.244.0.0/24'] },
  };
}

async function topology(t: ExecutionContext) {
  const topo = await podBridgeTopology(t, 's', { hairpin: true, defaultRoute: true });
  await ensureBridgeNetfilter(BRIDGE, topo.node);
  const servers: TcpServer[] = [];
  for (const [label, ns] of Object.entries(topo.pods)) {
    servers.push(await startTcpServer(ns, 80, label));
    servers.push(await startPeerAddressServer(ns, 8080));
  }
  t.teardown(async () => {
    for (const s of servers) await s.stop();
  });
  return { ...topo, backend: new NftablesBackend(new NftCli({ netns: topo.node }), 'weft') };
}

/** Who answered each of `n` connections. */
async function answers(from: string, address: string, servicePort: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await tcpProbe(from, address, servicePort, 1000)).detail);
  return out;
}

test('cluster IP, hairpin, no endpoints, affinity, node ports with both external traffic policies', async (t) => {
  const topo = await topology(t);
  const { p1, p3 } = topo.pods;
  await topo.backend.apply(state());

  const spread = await answers(p3, '10.96.0.10', 80, 24);
  t.true(spread.every((a) => a === 'weft p1' || a === 'weft p2'), spread.join(','));
  t.true(spread.filter((a) => a === 'weft p1').length >= 3 && spread.filter((a) => a === 'weft p2').length >= 3, `both endpoints get connections: ${spread.join(',')}`);

  const hairpin = await tcpProbe(p1, '10.96.0.11', 8080);
  t.true(hairpin.ok, 'a pod reaches itself through its service');
  t.is(hairpin.detail, GATEWAY.v4, 'masqueraded to the node, so that the reply comes back through it');
  t.is((await tcpProbe(p3, '10.96.0.11', 8080)).detail, P3.v4, 'a pod keeps its address to another pod');

  const empty = await tcpProbe(p3, '10.96.0.12', 80, 3000);
  t.false(empty.ok);
  t.is(empty.detail, 'ECONNREFUSED', 'no endpoints: refused at once');

  const sticky = await answers(p3, '10.96.0.13', 80, 10);
  t.is(new Set(sticky).size, 1, `affinity keeps the client on one endpoint: ${sticky.join(',')}`);

  const viaNodePort = await tcpProbe(topo.remote, NODE_IP, 30080);
  t.is(viaNodePort.detail, GATEWAY.v4, 'externalTrafficPolicy Cluster: the outside client is masqueraded');
  const local = await tcpProbe(topo.remote, NODE_IP, 30081);
  t.is(local.detail, REMOTE.v4, 'externalTrafficPolicy Local: the client address is kept');
  t.false((await tcpProbe(topo.remote, NODE_IP, 30082, 1000)).ok, 'no such node port');

  t.is((await topo.backend.apply(state(), { fromKernel: true })).changes, 0, 'the kernel lists back what was written');
});

test('an endpoint going away stops getting new connections; a service losing its last endpoint refuses; only its chains change', async (t) => {
  const topo = await topology(t);
  const { p3 } = topo.pods;
  await topo.backend.apply(state());
  const onlyP2 = PORTS.map((p) => (p.service === 'x/web' ? port('web', '10.96.0.10', 80, [[P2.v4, 80]]) : p));
  const before = await new NftCli({ netns: topo.node }).listObjects({ family: 'inet', name: 'weft' });
  const change = await topo.backend.apply(state(onlyP2));
  t.true(change.changes > 0 && change.changes < 10, `a few operations: ${change.changes}`);
  t.deepEqual(new Set(await answers(p3, '10.96.0.10', 80, 10)), new Set(['weft p2']));
  const after = await new NftCli({ netns: topo.node }).listObjects({ family: 'inet', name: 'weft' });
  const handle = (objs: typeof before, name: string) => objs?.chains.find((c) => c.name === name)?.handle;
  const other = serviceChainName({ key: 'x/self::tcp:v4' });
  t.truthy(handle(before, other));
  t.is(handle(after, other), handle(before, other), "another service's chain is left alone");

  const none = PORTS.map((p) => (p.service === 'x/web' ? port('web', '10.96.0.10', 80, []) : p));
  await topo.backend.apply(state(none));
  t.is((await tcpProbe(p3, '10.96.0.10', 80, 3000)).detail, 'ECONNREFUSED');
  await topo.backend.apply(state());
  t.true((await tcpProbe(p3, '10.96.0.10', 80)).ok, 'endpoints back');
});
