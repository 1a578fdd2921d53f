/**
 * Service proxying with real traffic, the same cases on both backends (nftables and iptables),
 * on the pod-bridge topology (a node namespace with a bridge, three pods, and a remote host
 * behind an uplink): a cluster IP spreads connections over its endpoints, a pod reaching itself
 * through its service (hairpin), a service without endpoints refuses at once, session
 * affinity, node ports from outside with externalTrafficPolicy Cluster (masqueraded) and Local
 * (client address kept), the same over IPv6, external IPs, load-balancer source ranges, a
 * Local service whose endpoints are all elsewhere, and re-applies that change nothing.
 */
import test, { type ExecutionContext } from 'ava';
import { ensureBridgeNetfilter } from '../../agent/dataplane/bridge-netfilter';
import type { NodeState } from '../../agent/dataplane/node-state';
import type { ServicePortState } from '../../agent/dataplane/service-state';
import { withNetlink } from '../../kernel/netlink';
import { startPeerAddressServer, startTcpServer, tcpProbe, type TcpServer } from '../../lab/probe';
import { BRIDGE, GATEWAY, P1, P2, P3, podBridgeTopology, REMOTE } from '../helpers/pod-bridge-topology';
import { BACKEND_KINDS, nodeBackend, serviceChainIdentity, weftObjects, type BackendKind } from '../helpers/service-backends';
import { portState } from '../helpers/service-ports';

/** A TCP port of x/NAME in the cluster IP's family, with these local endpoints. */
const port = (name: string, clusterIp: string, servicePort: number, endpoints: [string, number][], extra: Partial<ServicePortState> = {}): ServicePortState =>
  portState(name, { family: clusterIp.includes(':') ? 6 : 4, clusterIp, port: servicePort, endpoints: endpoints.map(([ip, p]) => ({ ip, port: p, local: true })), ...extra });

const NODE_IP = '10.0.0.1';
/** Routed to the node by the remote host: external and load-balancer IPs. */
const EXTERNAL_NET = '192.0.2.0/24';

const known = [
  { namespace: 'x', name: 'p1', ips: [P1.v4, P1.v6] },
  { namespace: 'x', name: 'p2', ips: [P2.v4, P2.v6] },
  { namespace: 'x', name: 'p3', ips: [P3.v4, P3.v6] },
];

const PORTS: ServicePortState[] = [
  port('web', '10.96.0.10', 80, [[P1.v4, 80], [P2.v4, 80]]),
  port('self', '10.96.0.11', 8080, [[P1.v4, 8080]]),
  port('empty', '10.96.0.12', 80, []),
  port('sticky', '10.96.0.13', 80, [[P1.v4, 80], [P2.v4, 80]], { affinityTimeoutSeconds: 60 }),
  port('np-cluster', '10.96.0.14', 8080, [[P1.v4, 8080]], { nodePort: 30080 }),
  port('np-local', '10.96.0.15', 8080, [[P1.v4, 8080]], { nodePort: 30081, externalPolicyLocal: true }),
  port('web', 'fd00:96::10', 80, [[P1.v6, 80], [P2.v6, 80]]),
  port('self', 'fd00:96::11', 8080, [[P1.v6, 8080]]),
  port('empty', 'fd00:96::12', 80, []),
];

/** An endpoint the node may not use for external traffic: it runs on another node. */
const elsewhere = { ip: P2.v4, port: 8080, local: false };

const EXTERNAL_PORTS: ServicePortState[] = [
  port('ext', '10.96.0.20', 8080, [[P1.v4, 8080]], { externalIps: ['192.0.2.20'] }),
  port('lb', '10.96.0.21', 8080, [[P1.v4, 8080]], { loadBalancerIps: ['192.0.2.21'], loadBalancerSourceRanges: ['10.0.0.0/24'] }),
  port('far', '10.96.0.22', 8080, [], { nodePort: 30090, externalPolicyLocal: true, clusterEndpoints: [elsewhere], externalEndpoints: [], anyEndpoints: true }),
];

function state(ports: ServicePortState[] = PORTS): NodeState {
  return {
    nodeName: 'n1',
    localPods: known,
    podBridge: BRIDGE,
    services: {
      state: { ports: [...ports].sort((a, b) => (a.key < b.key ? -1 : 1)), nodePortAddresses: [NODE_IP], healthChecks: [], problems: [] },
      clusterCidrs: ['10.244.0.0/24', 'fd00:10:244::/64'],
    },
  };
}

async function topology(t: ExecutionContext, kind: BackendKind) {
  const topo = await podBridgeTopology(t, kind === 'nftables' ? 'sn' : 'si', { hairpin: true, defaultRoute: true });
  await ensureBridgeNetfilter(BRIDGE, topo.node);
  await withNetlink(topo.remote, (nl) => nl.routes.add({ dst: EXTERNAL_NET, gateway: NODE_IP }));
  const servers: TcpServer[] = [];
  for (const [label, ns] of Object.entries(topo.pods)) {
    servers.push(await startTcpServer(ns, 80, label));
    servers.push(await startPeerAddressServer(ns, 8080));
  }
  t.teardown(async () => {
    for (const s of servers) await s.stop();
  });
  return { ...topo, backend: nodeBackend(kind, topo.node) };
}

/** Who answered each of `n` connections. */
async function answers(from: string, address: string, servicePort: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await tcpProbe(from, address, servicePort, 1000)).detail);
  return out;
}

function spreadOver(t: ExecutionContext, spread: string[], label: string): void {
  t.true(spread.every((a) => a === 'weft p1' || a === 'weft p2'), `${label}: ${spread.join(',')}`);
  t.true(spread.filter((a) => a === 'weft p1').length >= 3 && spread.filter((a) => a === 'weft p2').length >= 3, `${label}, both endpoints get connections: ${spread.join(',')}`);
}

for (const kind of BACKEND_KINDS) {
  test(`${kind}: cluster IP, hairpin, no endpoints, affinity, node ports with both external traffic policies, IPv6`, async (t) => {
    const topo = await topology(t, kind);
    const { p1, p3 } = topo.pods;
    await topo.backend.apply(state());

    spreadOver(t, await answers(p3, '10.96.0.10', 80, 24), 'cluster IP');

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

    spreadOver(t, await answers(p3, 'fd00:96::10', 80, 24), 'IPv6 cluster IP');
    t.is((await tcpProbe(p1, 'fd00:96::11', 8080)).detail, GATEWAY.v6, 'IPv6 hairpin, masqueraded to the node');
    t.is((await tcpProbe(p3, 'fd00:96::11', 8080)).detail, P3.v6, 'IPv6: a pod keeps its address');
    t.is((await tcpProbe(p3, 'fd00:96::12', 80, 3000)).detail, 'ECONNREFUSED', 'IPv6, no endpoints: refused at once');

    t.is((await topo.backend.apply(state())).changes, 0, 'a re-apply writes nothing');
    t.is((await topo.backend.apply(state(), { fromKernel: true })).changes, 0, 'the kernel lists back what was written');
  });

  test(`${kind}: an endpoint going away stops getting new connections; a service losing its last endpoint refuses; only its chains change`, async (t) => {
    const topo = await topology(t, kind);
    const { p3 } = topo.pods;
    const withoutServices: NodeState = { ...state(), services: undefined };
    await topo.backend.apply(withoutServices);
    const baseline = await weftObjects(kind, topo.node);
    await topo.backend.apply(state());
    // Another service with a chain of its own in both layouts (affinity), and traffic through it for the counters.
    t.true((await tcpProbe(p3, '10.96.0.13', 80)).ok, 'traffic through the other service');
    const other = 'x/sticky::tcp:v4';
    const before = await serviceChainIdentity(kind, topo.node, other);
    t.true(before.telling, `the other service's chain can be told apart: ${before.fingerprint}`);

    const onlyP2 = PORTS.map((p) => (p.key === 'x/web::tcp:v4' ? port('web', '10.96.0.10', 80, [[P2.v4, 80]]) : p));
    const change = await topo.backend.apply(state(onlyP2));
    t.true(change.changes > 0 && change.changes < 10, `a few operations: ${change.changes}`);
    t.deepEqual(new Set(await answers(p3, '10.96.0.10', 80, 10)), new Set(['weft p2']));
    t.is((await serviceChainIdentity(kind, topo.node, other)).fingerprint, before.fingerprint, "another service's chain is left alone");

    const none = PORTS.map((p) => (p.key === 'x/web::tcp:v4' ? port('web', '10.96.0.10', 80, []) : p));
    await topo.backend.apply(state(none));
    t.is((await tcpProbe(p3, '10.96.0.10', 80, 3000)).detail, 'ECONNREFUSED');
    await topo.backend.apply(state());
    t.true((await tcpProbe(p3, '10.96.0.10', 80)).ok, 'endpoints back');
    t.is((await topo.backend.apply(state(), { fromKernel: true })).changes, 0, 'the kernel lists back what was written');

    // No services any more: nothing is proxied, and weft's service objects are gone.
    await topo.backend.apply(withoutServices);
    t.is((await tcpProbe(p3, '10.96.0.10', 80, 1000)).detail, 'timeout', 'the cluster IP is an address like any other (routed out, unanswered)');
    t.deepEqual(await weftObjects(kind, topo.node), baseline, 'no service chains, jumps or sets are left');
  });

  test(`${kind}: external IPs, load-balancer source ranges, a Local service with its endpoints elsewhere`, async (t) => {
    const topo = await topology(t, kind);
    const { p3 } = topo.pods;
    await topo.backend.apply(state(EXTERNAL_PORTS));

    t.is((await tcpProbe(topo.remote, '192.0.2.20', 8080)).detail, GATEWAY.v4, 'external IP from outside, masqueraded (Cluster)');
    t.is((await tcpProbe(topo.remote, '192.0.2.21', 8080)).detail, GATEWAY.v4, 'load-balancer IP from a source in its ranges');
    t.is((await tcpProbe(p3, '192.0.2.21', 8080, 1000)).detail, 'timeout', 'load-balancer IP from a source outside its ranges: dropped');
    t.is((await tcpProbe(p3, '10.96.0.21', 8080)).detail, P3.v4, 'the ranges do not apply to the cluster IP');

    t.is((await tcpProbe(topo.remote, NODE_IP, 30090, 1000)).detail, 'timeout', 'Local, no endpoint on this node: external traffic dropped, not refused');
    t.is((await tcpProbe(p3, NODE_IP, 30090)).detail, P3.v4, 'a pod short-circuits to any endpoint, keeping its address');
    t.is((await tcpProbe(topo.node, NODE_IP, 30090)).detail, GATEWAY.v4, 'the node itself short-circuits too, masqueraded');

    t.is((await topo.backend.apply(state(EXTERNAL_PORTS))).changes, 0, 'a re-apply writes nothing');
    t.is((await topo.backend.apply(state(EXTERNAL_PORTS), { fromKernel: true })).changes, 0, 'the kernel lists back what was written');
  });
}
