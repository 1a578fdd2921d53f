/**
 * The nftables backend's NetworkPolicy and bridge guard, with real traffic: a node namespace
 * with the pod bridge (netfilter calls on, as the agent sets them), three pods on it (two known
 * to the agent, one not) and a remote host routed through the node. Hand-built NodeStates,
 * so this checks the rendering's semantics, not the policy compiler's.
 */
import test, { type ExecutionContext } from 'ava';
import { NftablesBackend } from '../../agent/backend/nftables/backend';
import { ensureBridgeNetfilter } from '../../agent/dataplane/bridge-netfilter';
import type { NodeState } from '../../agent/dataplane/node-state';
import { EMPTY_DIRECTION, type NodePolicy } from '../../agent/dataplane/policy-state';
import { withNetlink } from '../../kernel/netlink';
import { NftCli } from '../../kernel/nft';
import { runIn, startTcpServer, tcpProbe, type TcpServer } from '../../lab/probe';
import { BRIDGE, P1, P2, P3, podBridgeTopology, REMOTE as REMOTE_ADDRESSES } from '../helpers/pod-bridge-topology';

const REMOTE = REMOTE_ADDRESSES.v4;

interface Topology {
  node: string;
  pods: { p1: string; p2: string; p3: string };
  remote: string;
  backend: NftablesBackend;
}

async function topology(t: ExecutionContext): Promise<Topology> {
  const { node, remote, pods } = await podBridgeTopology(t, 'p');
  t.is(await ensureBridgeNetfilter(BRIDGE, node), 'turned-on');
  t.is(await ensureBridgeNetfilter(BRIDGE, node), 'on');
  const servers: TcpServer[] = [];
  for (const [label, ns] of [...Object.entries(pods), ['remote', remote]]) {
    for (const port of [80, 81]) servers.push(await startTcpServer(ns, port, label));
  }
  t.teardown(async () => {
    for (const s of servers) await s.stop();
  });
  return { node, pods: pods as Topology['pods'], remote, backend: new NftablesBackend(new NftCli({ netns: node }), 'weft') };
}

const known = [
  { namespace: 'x', name: 'p1', ips: [P1.v4, P1.v6] },
  { namespace: 'x', name: 'p2', ips: [P2.v4, P2.v6] },
];

function state(policy?: NodePolicy): NodeState {
  return { nodeName: 'n1', localPods: known, podBridge: BRIDGE, ...(policy ? { policy } : {}) };
}

const reaches = async (from: string, address: string, port: number) => (await tcpProbe(from, address, port, 700)).ok;

/** A connection from `from` with source address `source` (which `from` has, unregistered). */
async function reachesFrom(from: string, source: string, address: string, port: number): Promise<boolean> {
  const src = `const s=require('net').connect({host:process.argv[1],port:Number(process.argv[2]),localAddress:process.argv[3]});s.setTimeout(700,()=>process.exit(2));s.on('data',()=>process.exit(0));s.on('error',()=>process.exit(1));`;
  const { code } = await runIn(from, process.execPath, ['-e', src, address, String(port), source], 5000);
  return code === 0;
}

test('without policy: known pods talk to each other, the node and the world; an unknown pod and a spoofed source get nothing through', async (t) => {
  const topo = await topology(t);
  const { p1, p2, p3 } = topo.pods;
  await topo.backend.apply(state());
  t.true(await reaches(p1, P2.v4, 80), 'pod to pod on the bridge');
  t.true(await reaches(p1, P2.v6, 80), 'pod to pod on the bridge, IPv6');
  t.true(await reaches(p1, REMOTE, 80), 'pod to a remote host');
  t.true(await reaches(topo.remote, P2.v4, 81), 'remote host to a pod');
  t.true(await reaches(topo.node, P1.v4, 80), 'the node to its pod');
  t.false(await reaches(p3, P1.v4, 80), 'unknown pod to a pod');
  t.false(await reaches(p1, P3.v4, 80), 'a pod to an unknown pod');
  t.false(await reaches(topo.remote, P3.v4, 80), 'remote host to an unknown pod');
  t.false(await reaches(topo.node, P3.v4, 80), 'the node to an unknown pod');
  t.false(await reaches(p3, REMOTE, 80), 'unknown pod to the world');

  // p2 takes an address of its own choosing: nothing it sends from it gets through.
  await withNetlink(p2, (nl) => nl.addresses.add('eth0', '10.244.0.99/32'));
  t.false(await reachesFrom(p2, '10.244.0.99', P1.v4, 80), 'spoofed source to a pod');
  t.false(await reachesFrom(p2, '10.244.0.99', REMOTE, 80), 'spoofed source to the world');
  t.true(await reachesFrom(p2, P2.v4, P1.v4, 80), 'the same pod from its own address');

  // The agent learns of p3: it is let through at once.
  await topo.backend.apply({ ...state(), localPods: [...known, { namespace: 'x', name: 'p3', ips: [P3.v4, P3.v6] }] });
  t.true(await reaches(p3, P1.v4, 80));
  t.true(await reaches(p1, P3.v4, 80));
});

test('ingress and egress classes: ports, all traffic, any peer, both directions on one node, replies, IPv6; re-apply changes nothing', async (t) => {
  const topo = await topology(t);
  const { p1, p2 } = topo.pods;
  // p2 isolated for ingress: p1 (IPv4 and IPv6) may reach port 80, anyone may reach 81 over UDP only.
  const ingressOnly: NodePolicy = {
    ingress: {
      isolated: [P2.v4, P2.v6],
      anyPeer: [{ localIp: P2.v4, ports: [{ protocol: 'udp', first: 81, last: 81 }], policies: ['x/udp'] }],
      classes: [
        {
          key: 'pods:x/a',
          cidrs: [`${P1.v4}/32`, `${P1.v6}/128`],
          allow: [
            { localIp: P2.v4, ports: [{ protocol: 'tcp', first: 80, last: 80 }], policies: ['x/web'] },
            { localIp: P2.v6, ports: [{ protocol: 'tcp', first: 80, last: 80 }], policies: ['x/web'] },
          ],
        },
      ],
    },
    egress: EMPTY_DIRECTION,
    problems: [],
  };
  const first = await topo.backend.apply(state(ingressOnly));
  t.true(first.changes > 0);
  t.is((await topo.backend.apply(state(ingressOnly), { fromKernel: true })).changes, 0, 'the kernel lists back what was written');
  t.true(await reaches(p1, P2.v4, 80));
  t.true(await reaches(p1, P2.v6, 80));
  t.false(await reaches(p1, P2.v4, 81), 'port 81 is not allowed over TCP');
  t.false(await reaches(topo.remote, P2.v4, 80), 'the remote host is in no class');
  t.true(await reaches(topo.node, P2.v4, 81), 'the node always reaches its pods');
  t.true(await reaches(p2, P1.v4, 80), 'p2 is not isolated for egress, and the replies pass');

  // p1 isolated for egress too: all traffic to the remote subnet, port 80 to p2 only.
  const both: NodePolicy = {
    ...ingressOnly,
    egress: {
      isolated: [P1.v4],
      anyPeer: [],
      classes: [
        { key: 'block:10.0.0.0/24', cidrs: ['10.0.0.0/24'], allow: [{ localIp: P1.v4, ports: 'all', policies: ['x/out'] }] },
        { key: 'pods:x/b', cidrs: [`${P2.v4}/32`], allow: [{ localIp: P1.v4, ports: [{ protocol: 'tcp', first: 80, last: 90 }], policies: ['x/out'] }] },
      ],
    },
  };
  const change = await topo.backend.apply(state(both));
  t.true(change.changes > 0);
  t.is((await topo.backend.apply(state(both), { fromKernel: true })).changes, 0);
  t.true(await reaches(p1, REMOTE, 81), 'all traffic to the remote subnet');
  t.true(await reaches(p1, P2.v4, 80), 'allowed by p1\'s egress and by p2\'s ingress');
  t.false(await reaches(p1, P2.v4, 81), 'egress allows 80-90, ingress only 80: ingress still decides');
  t.false(await reaches(p1, P3.v4, 80));
  t.true(await reaches(p1, P2.v6, 80), 'p1 is isolated for IPv4 egress only');
  t.true(await reaches(topo.remote, P1.v4, 80), 'p1 is not isolated for ingress');

  // Removing the egress classes touches only them: the ingress class's chain and sets stay.
  const before = await new NftCli({ netns: topo.node }).listObjects({ family: 'inet', name: 'weft' });
  const handleOf = (objs: typeof before, name: string) => objs?.chains.find((c) => c.name === name)?.handle;
  const ingressClassChain = before?.chains.find((c) => c.name.startsWith('pol-in-c'))?.name;
  t.truthy(ingressClassChain);
  await topo.backend.apply(state(ingressOnly));
  const after = await new NftCli({ netns: topo.node }).listObjects({ family: 'inet', name: 'weft' });
  t.is(handleOf(after, ingressClassChain!), handleOf(before, ingressClassChain!));
  t.false(after!.chains.some((c) => c.name.startsWith('pol-out')), 'no egress chains are left');
  t.false(await reaches(p1, P3.v4, 80), 'p3 is still unknown');
  t.true(await reaches(p1, REMOTE, 80));

  // No policy at all: every policy chain and set is gone, and p2 is open again.
  await topo.backend.apply(state());
  const none = await new NftCli({ netns: topo.node }).listObjects({ family: 'inet', name: 'weft' });
  t.deepEqual(none!.chains.filter((c) => c.name.startsWith('pol') || c.name.startsWith('policy')).map((c) => c.name), []);
  t.true(await reaches(topo.remote, P2.v4, 80));
});

test('per-policy counters: an allowed connection counts for the policy whose rule allowed it, a drop for every policy isolating the pod', async (t) => {
  const topo = await topology(t);
  const { p1 } = topo.pods;
  const web: NodePolicy = {
    ingress: {
      isolated: [P2.v4],
      isolatedBy: { [P2.v4]: ['x/deny', 'x/web'] },
      anyPeer: [],
      classes: [{ key: 'pods:x/a', cidrs: [`${P1.v4}/32`], allow: [{ localIp: P2.v4, ports: [{ protocol: 'tcp', first: 80, last: 80 }], policies: ['x/web'] }] }],
    },
    egress: EMPTY_DIRECTION,
    problems: [],
  };
  await topo.backend.apply(state(web));
  for (let i = 0; i < 3; i++) t.true(await reaches(p1, P2.v4, 80));
  t.false(await reaches(p1, P2.v4, 81));
  const counters = await topo.backend.policyCounters();
  const of = (policy: string) => counters.find((c) => c.policy === policy && c.direction === 'ingress');
  t.is(of('x/web')?.allowed.packets, 3, 'the first packet of each allowed connection; conntrack passes the rest');
  t.true((of('x/web')?.allowed.bytes ?? 0) > 0);
  t.is(of('x/deny')?.allowed.packets, 0);
  t.true((of('x/web')?.dropped.packets ?? 0) >= 1, 'the SYN to port 81');
  t.is(of('x/deny')?.dropped.packets, of('x/web')?.dropped.packets, 'a drop counts for every policy isolating the pod');
  t.deepEqual(counters.map((c) => `${c.direction} ${c.policy}`), ['ingress x/deny', 'ingress x/web']);
});
