/**
 * ClusterNetworkPolicy through the nftables backend, with real traffic: the pod bridge stage of
 * nft-policy.test.ts (a node with pods p1, p2 in namespace x and p3 in y, a remote host that is
 * also a Node), objects compiled by the real compiler (policy/compile.ts, through the agent's
 * adapter) and written by the real backend. Every TCP and UDP probe between the pods and the
 * remote host, both families, is checked against the reference evaluator (policy/evaluate.ts),
 * and the claims of each scenario are spelled out too: Admin Accept over a NetworkPolicy deny,
 * Admin Deny over a NetworkPolicy allow, Pass to NetworkPolicy, Baseline only for pods
 * NetworkPolicy does not isolate, priorities and rule order, port numbers, ranges and named
 * ports, networks and nodes egress peers (the pod's own node too), updates in place.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { NftablesBackend } from '../../agent/backend/nftables/backend';
import { ObjectCache } from '../../agent/cache';
import { compileNodePolicyFromCache, policyInputFromCache } from '../../agent/compile/policy';
import { ensureBridgeNetfilter } from '../../agent/dataplane/bridge-netfilter';
import type { LocalPod, NodeState } from '../../agent/dataplane/node-state';
import type { KubeObject } from '../../agent/objects';
import { NftCli } from '../../kernel/nft';
import { PolicyEvaluator } from '../../policy/evaluate';
import { eventually, startAgentProcess, waitReady } from '../helpers/agent-process';
import { clusterPolicy } from '../helpers/cluster-policy-model';
import { BRIDGE, P1, P2, P3, podBridgeTopology, REMOTE } from '../helpers/pod-bridge-topology';
import { probeFrom, startProbeServer, type ProbeRequest, type ProbeServer } from '../helpers/probe-servers';
import { tempDir } from '../helpers/tmp';
import { namespaceObject, networkPolicy } from './netpol-fixture';

const TCP = [80, 81, 8080];
const UDP = [81, 8080];
/** The node's address on the uplink: its InternalIP. */
const NODE_IP = '10.0.0.1';
const TABLE = { family: 'inet' as const, name: 'weft' };

type End = 'p1' | 'p2' | 'p3' | 'remote';
const ADDRESSES: Record<End, { v4: string; v6: string }> = { p1: P1, p2: P2, p3: P3, remote: REMOTE };

function pod(namespace: string, name: string, labels: Record<string, string>, ips: { v4: string; v6: string }, ports: Record<string, unknown>[] = []): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { nodeName: 'n1', containers: [{ name: 'server', image: 'probe', ports }] },
    status: { phase: 'Running', podIPs: [{ ip: ips.v4 }, { ip: ips.v6 }] },
  };
}

function node(name: string, role: string, address: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { role } }, status: { addresses: [{ type: 'InternalIP', address }] } };
}

/** The cluster around the policies: p2's port "web" is 8080/TCP, p3's is 81/TCP; n2 is the remote host. */
const CLUSTER: KubeObject[] = [
  namespaceObject('x'),
  namespaceObject('y'),
  pod('x', 'p1', { app: 'a' }, P1),
  pod('x', 'p2', { app: 'b' }, P2, [{ name: 'web', containerPort: 8080 }]),
  pod('y', 'p3', { app: 'c' }, P3, [{ name: 'web', containerPort: 81, protocol: 'TCP' }]),
  node('n1', 'self', NODE_IP),
  node('n2', 'remote', REMOTE.v4),
];

const LOCAL_PODS: LocalPod[] = [
  { namespace: 'x', name: 'p1', ips: [P1.v4, P1.v6] },
  { namespace: 'x', name: 'p2', ips: [P2.v4, P2.v6] },
  { namespace: 'y', name: 'p3', ips: [P3.v4, P3.v6] },
];

const cacheOf = (objects: readonly KubeObject[]) => {
  const cache = new ObjectCache();
  for (const object of objects) cache.apply({ type: 'ADDED', object });
  return cache;
};

function stateOf(policies: readonly KubeObject[], localPods = LOCAL_PODS): NodeState {
  return { nodeName: 'n1', localPods, podBridge: BRIDGE, policy: compileNodePolicyFromCache(cacheOf([...CLUSTER, ...policies]), localPods, 'n1') };
}

interface Stage {
  node: string;
  servers: Record<End | 'node', ProbeServer>;
  backend: NftablesBackend;
}

async function stage(t: ExecutionContext, label: string): Promise<Stage> {
  const { node: nodeNs, remote, pods } = await podBridgeTopology(t, label, { nfCall: true });
  t.is(await ensureBridgeNetfilter(BRIDGE, nodeNs), 'on');
  const ns: Record<End | 'node', string> = { ...pods, remote, node: nodeNs };
  const servers = {} as Record<End | 'node', ProbeServer>;
  for (const end of ['p1', 'p2', 'p3', 'remote', 'node'] as const) servers[end] = await startProbeServer(t, ns[end], end, end === 'node' ? { tcp: [80, 81], udp: [] } : { tcp: TCP, udp: UDP });
  return { node: nodeNs, servers, backend: new NftablesBackend(new NftCli({ netns: nodeNs }), 'weft') };
}

interface Probe extends ProbeRequest {
  from: End | 'node';
  to: End | 'node';
}

const probeText = (p: Probe) => `${p.from} -> ${p.to} ${p.host} ${p.port}/${p.protocol}`;

/**
 * Makes the probes (all of a client's at once); a probe expected to pass that did not is tried
 * again, slower (a loaded machine), never one expected to fail. Whether each peer answered.
 */
async function run(st: Stage, probes: readonly Probe[], expected: readonly boolean[]): Promise<boolean[]> {
  const got = new Array<boolean>(probes.length).fill(false);
  for (let attempt = 0; attempt < 3; attempt++) {
    const todo = probes.map((p, i) => i).filter((i) => attempt === 0 || (expected[i] && !got[i]));
    if (todo.length === 0) break;
    const byClient = new Map<End | 'node', number[]>();
    for (const i of todo) byClient.set(probes[i].from, [...(byClient.get(probes[i].from) ?? []), i]);
    await Promise.all(
      [...byClient].map(async ([from, list]) => {
        const answers = await probeFrom(st.servers[from], list.map((i) => ({ host: probes[i].host, port: probes[i].port, protocol: probes[i].protocol })), attempt === 0 ? 800 : 2500);
        list.forEach((i, k) => (got[i] = answers[k] === probes[i].to));
      }),
    );
  }
  return got;
}

/** Every probe between the pods and the remote host: TCP and UDP over IPv4, TCP 80 and UDP 8080 over IPv6. */
function matrix(): Probe[] {
  const ends: End[] = ['p1', 'p2', 'p3', 'remote'];
  const out: Probe[] = [];
  for (const from of ends) {
    for (const to of ends) {
      if (from === to) continue;
      for (const port of TCP) out.push({ from, to, host: ADDRESSES[to].v4, port, protocol: 'TCP' });
      for (const port of UDP) out.push({ from, to, host: ADDRESSES[to].v4, port, protocol: 'UDP' });
      out.push({ from, to, host: ADDRESSES[to].v6, port: 80, protocol: 'TCP' }, { from, to, host: ADDRESSES[to].v6, port: 8080, protocol: 'UDP' });
    }
  }
  return out;
}

type Claim = [label: string, from: End, to: End | 'node', port: number, protocol: 'TCP' | 'UDP', allowed: boolean, family?: 6];

/**
 * Applies the policies, then: the whole matrix against the reference evaluator, and each claim
 * (also asked of the evaluator, except to the node itself: NetworkPolicy exempts a pod's own
 * node, which the evaluator does not model).
 */
async function check(t: ExecutionContext, st: Stage, policies: readonly KubeObject[], claims: readonly Claim[]): Promise<void> {
  const state = stateOf(policies);
  await st.backend.apply(state);
  t.is((await st.backend.apply(state, { fromKernel: true })).changes, 0, 'the kernel lists back what was written');
  const evaluator = new PolicyEvaluator(policyInputFromCache(cacheOf([...CLUSTER, ...policies]), [], ''));
  const verdict = (p: Probe) => evaluator.explain({ src: p.from === 'node' ? NODE_IP : ADDRESSES[p.from][p.host.includes(':') ? 'v6' : 'v4'], dst: p.host, protocol: p.protocol.toLowerCase(), port: p.port }).allowed;
  const probes = matrix();
  const claimed: Probe[] = claims.map(([, from, to, port, protocol, , family]) => ({ from, to, port, protocol, host: to === 'node' ? NODE_IP : ADDRESSES[to][family === 6 ? 'v6' : 'v4'] }));
  const expected = [...probes.map(verdict), ...claims.map((c) => c[5])];
  const got = await run(st, [...probes, ...claimed], expected);
  const wrong = probes.flatMap((p, i) => (got[i] !== expected[i] ? [`${probeText(p)}: the evaluator says ${expected[i] ? 'allowed' : 'denied'}, the kernel ${got[i] ? 'allowed' : 'denied'}`] : []));
  t.deepEqual(wrong, [], 'the kernel agrees with the reference evaluator');
  claims.forEach(([label, , to], i) => {
    const k = probes.length + i;
    t.is(got[k], expected[k], `${label} (${probeText(claimed[i])})`);
    if (to !== 'node') t.is(verdict(claimed[i]), expected[k], `the evaluator agrees: ${label}`);
  });
}

const y = { namespaces: { matchLabels: { ns: 'y' } } };
const x = { namespaces: { matchLabels: { ns: 'x' } } };
const app = (name: string) => ({ pods: { podSelector: { matchLabels: { app: name } } } });
const tcp = (port: number) => ({ tcp: { destinationPort: { number: port } } });
const udp = (port: number) => ({ udp: { destinationPort: { number: port } } });
const tcpRange = (start: number, end: number) => ({ tcp: { destinationPort: { range: { start, end } } } });
const udpRange = (start: number, end: number) => ({ udp: { destinationPort: { range: { start, end } } } });

/** Admin over NetworkPolicy (ingress): x denies everything, y admits x on TCP 80 only. */
const ADMIN_OVER_NP: KubeObject[] = [
  networkPolicy('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] }),
  networkPolicy('y', 'allow-x-80', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }], ports: [{ port: 80 }] }] }),
  clusterPolicy('accept-y-web', 'Admin', 10, { subject: x, ingress: [{ action: 'Accept', from: [y], protocols: [tcp(80)] }] }),
  clusterPolicy('deny-first', 'Admin', 1, { subject: y, ingress: [{ action: 'Deny', from: [app('a')], protocols: [tcp(8080)] }] }),
  clusterPolicy('pass-b', 'Admin', 5, {
    subject: y,
    ingress: [
      { action: 'Pass', from: [app('b')], protocols: [tcp(80)] },
      // A free-text name (its element's comment must list back as written).
      { action: 'Deny', name: 'no "x" on 80–81, naïvely', from: [x], protocols: [tcpRange(80, 81)] },
      { action: 'Accept', from: [x] },
    ],
  }),
  clusterPolicy('deny-b', 'Admin', 20, { subject: y, ingress: [{ action: 'Deny', from: [app('b')] }] }),
];

test.serial('Admin Accept overrides a NetworkPolicy deny, Admin Deny a NetworkPolicy allow, Pass hands over to NetworkPolicy; priorities and rule order', async (t) => {
  const st = await stage(t, 'ca');
  await check(t, st, ADMIN_OVER_NP, [
    ['Admin Accept lets y in although x denies everything', 'p3', 'p1', 80, 'TCP', true],
    ['... on its port only', 'p3', 'p1', 81, 'TCP', false],
    ['... from y only', 'remote', 'p2', 80, 'TCP', false],
    ['Admin Deny (rule 2) keeps p1 out although the NetworkPolicy admits x on 80', 'p1', 'p3', 80, 'TCP', false],
    ['Pass (rule 1, before the Deny of rule 2) hands p2 over to the NetworkPolicy, which admits it; the later Deny of deny-b is skipped', 'p2', 'p3', 80, 'TCP', true],
    ['rule 2 denies the range 80-81', 'p2', 'p3', 81, 'TCP', false],
    ['rule 3 accepts what the NetworkPolicy does not admit', 'p1', 'p3', 81, 'UDP', true],
    ['deny-first (priority 1) decides before pass-b (priority 5) accepts', 'p1', 'p3', 8080, 'TCP', false],
    ['the same rule for p2, whom deny-first does not name', 'p2', 'p3', 8080, 'TCP', true],
    ['IPv6 alike', 'p3', 'p2', 80, 'TCP', true, 6],
    ['IPv6 alike: Admin Deny', 'p1', 'p3', 80, 'TCP', false, 6],
  ]);
});

test.serial('the Baseline tier applies only to pods NetworkPolicy does not isolate; Baseline Pass leaves the default', async (t) => {
  const st = await stage(t, 'cb');
  await check(
    t,
    st,
    [
      networkPolicy('x', 'p1-from-b', { podSelector: { matchLabels: { app: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'b' } } }], ports: [{ port: 80 }] }] }),
      clusterPolicy('x-default', 'Baseline', 10, { subject: x, ingress: [{ action: 'Accept', from: [y], protocols: [tcp(81)] }, { action: 'Deny', from: [{ namespaces: {} }] }] }),
      clusterPolicy('y-out', 'Baseline', 10, {
        subject: y,
        egress: [
          { action: 'Pass', to: [{ networks: ['10.0.0.0/24'] }], protocols: [tcp(80)] },
          { action: 'Deny', to: [{ networks: ['10.0.0.0/24', 'fd00:0:1::/64'] }] },
        ],
      }),
    ],
    [
      ['Baseline Accept (rule 1) for p2', 'p3', 'p2', 81, 'TCP', true],
      ['Baseline Deny (rule 2) for p2', 'p3', 'p2', 80, 'TCP', false],
      ['Baseline Deny between pods of x', 'p1', 'p2', 8080, 'UDP', false],
      ['no Baseline rule matches the remote host: allowed', 'remote', 'p2', 80, 'TCP', true],
      ['p1 is isolated: its NetworkPolicy decides, not the Baseline Accept', 'p3', 'p1', 81, 'TCP', false],
      ['p1 is isolated: its NetworkPolicy admits p2 whatever the Baseline Deny', 'p2', 'p1', 80, 'TCP', true],
      ['Baseline Pass: the default, allowed', 'p3', 'remote', 80, 'TCP', true],
      ['Baseline Deny of the remote network', 'p3', 'remote', 81, 'TCP', false],
      ['Baseline Deny of the remote network, UDP', 'p3', 'remote', 8080, 'UDP', false],
      ['Baseline Deny of the remote network, IPv6 (Pass is IPv4 only)', 'p3', 'remote', 80, 'TCP', false, 6],
    ],
  );
});

test.serial('ports: numbers, ranges and named ports (on the subject for ingress, on the peer for egress), TCP and UDP', async (t) => {
  const st = await stage(t, 'cp');
  await check(
    t,
    st,
    [
      clusterPolicy('named-in', 'Admin', 1, { subject: { pods: { podSelector: { matchLabels: { app: 'b' } } } }, ingress: [{ action: 'Deny', from: [{ namespaces: {} }], protocols: [{ destinationNamedPort: 'web' }] }] }),
      clusterPolicy('named-out', 'Admin', 1, { subject: { pods: { podSelector: { matchLabels: { app: 'a' } } } }, egress: [{ action: 'Deny', to: [{ pods: { namespaceSelector: {}, podSelector: {} } }], protocols: [{ destinationNamedPort: 'web' }] }] }),
      clusterPolicy('range', 'Admin', 2, { subject: y, ingress: [{ action: 'Deny', from: [x], protocols: [udpRange(8000, 8100)] }] }),
      clusterPolicy('udp-number', 'Admin', 3, { subject: y, egress: [{ action: 'Deny', to: [{ networks: ['10.0.0.2/32'] }], protocols: [udp(81)] }] }),
    ],
    [
      ["p2's web is 8080: denied to it", 'p3', 'p2', 8080, 'TCP', false],
      ['other ports of p2 are not its web', 'p3', 'p2', 81, 'TCP', true],
      ['web is TCP: UDP 8080 passes', 'p3', 'p2', 8080, 'UDP', true],
      ["egress: the peer's web, p3's is 81", 'p1', 'p3', 81, 'TCP', false],
      ["egress: the peer's web, p3's 8080 is not", 'p1', 'p3', 8080, 'TCP', true],
      ["egress: the peer's web, p2's is 8080", 'p1', 'p2', 8080, 'TCP', false],
      ['a UDP range', 'p1', 'p3', 8080, 'UDP', false],
      ['outside the range', 'p1', 'p3', 81, 'UDP', true],
      ['the range is for peers in x only', 'remote', 'p3', 8080, 'UDP', true],
      ['a UDP port number', 'p3', 'remote', 81, 'UDP', false],
      ['another UDP port', 'p3', 'remote', 8080, 'UDP', true],
    ],
  );
});

test.serial('networks and nodes egress peers, the pod\'s own node included; NetworkPolicy still exempts its pods\' own node', async (t) => {
  const st = await stage(t, 'cn');
  await check(
    t,
    st,
    [
      clusterPolicy('p1-out', 'Admin', 1, {
        subject: { pods: { podSelector: { matchLabels: { app: 'a' } } } },
        egress: [
          { action: 'Deny', to: [{ nodes: { matchLabels: { role: 'remote' } } }], protocols: [tcp(80)] },
          { action: 'Deny', to: [{ nodes: { matchLabels: { role: 'self' } } }], protocols: [tcp(80)] },
          { action: 'Deny', to: [{ networks: ['fd00:0:1::2/128'] }], protocols: [tcp(80)] },
          { action: 'Accept', to: [{ networks: ['10.0.0.0/24'] }] },
        ],
      }),
      networkPolicy('x', 'p2-pods-only', { podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/24' } }] }] }),
      clusterPolicy('p2-remote', 'Admin', 3, { subject: { pods: { podSelector: { matchLabels: { app: 'b' } } } }, egress: [{ action: 'Accept', to: [{ networks: ['10.0.0.2/32'] }], protocols: [tcp(81)] }] }),
      clusterPolicy('no-nodes', 'Baseline', 1, { subject: { namespaces: {} }, egress: [{ action: 'Deny', to: [{ nodes: {} }] }] }),
    ],
    [
      ['nodes peer: the remote node, TCP 80', 'p1', 'remote', 80, 'TCP', false],
      ['nodes peer: the remote node, other ports accepted by the networks rule', 'p1', 'remote', 81, 'TCP', true],
      ["nodes peer: the pod's own node (input hook)", 'p1', 'node', 80, 'TCP', false],
      ["the pod's own node, accepted by the networks rule", 'p1', 'node', 81, 'TCP', true],
      ['networks peer, IPv6', 'p1', 'remote', 80, 'TCP', false, 6],
      ['Admin Accept to a network the NetworkPolicy does not allow', 'p2', 'remote', 81, 'TCP', true],
      ['the NetworkPolicy decides the rest', 'p2', 'remote', 80, 'TCP', false],
      ["Baseline Deny of every node: the pod's own node", 'p3', 'node', 80, 'TCP', false],
      ['Baseline Deny of every node: the remote node', 'p3', 'remote', 8080, 'UDP', false],
      ["p2 is isolated for egress: NetworkPolicy exempts its own node, the Baseline tier is not consulted", 'p2', 'node', 80, 'TCP', true],
      ['pods are no nodes', 'p3', 'p1', 80, 'TCP', true],
    ],
  );
});

test.serial('updates: a policy change rewrites only its own objects, a pod registered later has its tiers from its first packet, no tier leaves nothing behind', async (t) => {
  const st = await stage(t, 'cu');
  const nft = new NftCli({ netns: st.node });
  await st.backend.apply(stateOf(ADMIN_OVER_NP));
  const before = await nft.listObjects(TABLE);
  const handle = (objs: typeof before, name: string) => objs?.chains.find((c) => c.name === name)?.handle;
  const cnpChains = before!.chains.filter((c) => c.name.startsWith('cnp-')).map((c) => c.name);
  t.true(cnpChains.length >= 4, `tier chains: ${cnpChains.join(' ')}`);
  const elements = [...before!.sets, ...before!.maps].filter((s) => s.name.startsWith('cnp-')).reduce((n, s) => n + s.elements.length, 0);
  t.log(`${cnpChains.length} tier chains, ${elements} tier elements`);

  // accept-y-web now admits TCP 81 instead of 80: x's chains change, y's stay as they were.
  const changed = ADMIN_OVER_NP.map((o) => (o.metadata.name === 'accept-y-web' ? clusterPolicy('accept-y-web', 'Admin', 10, { subject: x, ingress: [{ action: 'Accept', from: [y], protocols: [tcp(81)] }] }) : o));
  const outcome = await st.backend.apply(stateOf(changed));
  t.true(outcome.changes > 0 && outcome.changes < 12, `a few changes (${outcome.changes})`);
  const after = await nft.listObjects(TABLE);
  for (const name of cnpChains) t.is(handle(after, name), handle(before, name), `${name} stays`);
  const [p3ToP1] = await probeFrom(st.servers.p3, [{ host: P1.v4, port: 81, protocol: 'TCP' }, { host: P1.v4, port: 80, protocol: 'TCP' }], 1500);
  t.is(p3ToP1, 'p1', 'the new port is admitted');
  t.is((await probeFrom(st.servers.p3, [{ host: P1.v4, port: 80, protocol: 'TCP' }]))[0], undefined, 'the old one is not');

  // p3 unknown to the agent (not registered yet: the bridge guard keeps it off), then registered:
  // the transaction that lets it through carries its subject address, so Admin Deny holds at once.
  const withoutP3 = LOCAL_PODS.filter((p) => p.name !== 'p3');
  await st.backend.apply(stateOf(ADMIN_OVER_NP, withoutP3));
  t.is((await probeFrom(st.servers.p2, [{ host: P3.v4, port: 80, protocol: 'TCP' }], 1500))[0], undefined, 'p3 is not known yet');
  await st.backend.apply(stateOf(ADMIN_OVER_NP));
  const [deny, pass] = await probeFrom(st.servers.p1, [{ host: P3.v4, port: 80, protocol: 'TCP' }, { host: P3.v4, port: 8080, protocol: 'UDP' }], 1500);
  t.is(deny, undefined, 'Admin Deny from the first packet');
  t.is(pass, 'p3', 'and Admin Accept');

  // No tier policy left: every tier object goes, NetworkPolicy's stay.
  await st.backend.apply(stateOf(ADMIN_OVER_NP.filter((o) => o.kind !== 'ClusterNetworkPolicy')));
  const none = await nft.listObjects(TABLE);
  t.deepEqual([...none!.chains, ...none!.sets, ...none!.maps].map((o) => o.name).filter((n) => n.startsWith('cnp-') || n === 'cluster-egress-node'), []);
  t.true(none!.chains.some((c) => c.name === 'policy-ingress'));
  t.is((await probeFrom(st.servers.p3, [{ host: P1.v4, port: 81, protocol: 'TCP' }]))[0], undefined, 'x denies everything again');
});

test.serial('weft-agent enforces ClusterNetworkPolicies it reads, and follows their changes', async (t) => {
  const st = await stage(t, 'cg');
  const dir = tempDir(t, 'cnp-agent');
  const manifests = path.join(dir, 'manifests');
  fs.mkdirSync(manifests);
  const write = (name: string, objects: readonly KubeObject[]) => fs.writeFileSync(path.join(manifests, name), objects.map((o) => JSON.stringify(o)).join('\n---\n'));
  write('cluster.yaml', CLUSTER);
  write('policies.yaml', ADMIN_OVER_NP);
  const socket = path.join(dir, 'agent.sock');
  const agent = startAgentProcess(t, st.node, ['--node-name', 'n1', '--source', 'manifests', '--manifests', manifests, '--cni-socket', '', '--pod-bridge', BRIDGE], socket);
  await waitReady(agent);
  const expectations: Claim[] = [
    ['Admin Accept over a NetworkPolicy deny', 'p3', 'p1', 80, 'TCP', true],
    ['Admin Deny over a NetworkPolicy allow', 'p1', 'p3', 80, 'TCP', false],
    ['Pass to the NetworkPolicy', 'p2', 'p3', 80, 'TCP', true],
    ['NetworkPolicy', 'p3', 'p1', 81, 'TCP', false],
  ];
  const probes = (claims: readonly Claim[]): Probe[] => claims.map(([, from, to, port, protocol]) => ({ from, to, port, protocol, host: ADDRESSES[to as End].v4 }));
  const answers = async (claims: readonly Claim[]) => run(st, probes(claims), claims.map((c) => c[5]));
  await eventually('the policies in the kernel', async () => ((await answers(expectations)).every((got, i) => got === expectations[i][5]) ? true : undefined), 30_000);
  const got = await answers(expectations);
  expectations.forEach(([label, , , , , want], i) => t.is(got[i], want, label));

  // The Admin Deny goes away: p1 reaches p3 on 80 again (the NetworkPolicy admits x).
  write('policies.yaml', ADMIN_OVER_NP.filter((o) => o.metadata.name !== 'pass-b'));
  const after: Claim[] = [
    ['without pass-b, the NetworkPolicy admits p1', 'p1', 'p3', 80, 'TCP', true],
    ['and deny-b keeps p2 out', 'p2', 'p3', 80, 'TCP', false],
  ];
  await eventually('the change in the kernel', async () => ((await answers(after)).every((g, i) => g === after[i][5]) ? true : undefined), 30_000);
  const later = await answers(after);
  after.forEach(([label, , , , , want], i) => t.is(later[i], want, label));
});
