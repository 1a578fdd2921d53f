/**
 * Nodes leaving and joining a running 3-node lab (`weftctl lab node remove|add`), in VXLAN and
 * in host-gw mode: the others' agents, never restarted, drop the removed node's route,
 * neighbour and FDB entries and route to the new node, whose pods every other pod then reaches
 * over TCP and UDP.
 */
import test, { type ExecutionContext } from 'ava';
import { withNetlink } from '../../kernel/netlink';
import { openLab } from '../../lab/cluster/inspect';
import { labUp } from '../../lab/cluster/up';
import type { OverlayMode } from '../../overlay/mtu';
import { WEFT_ROUTE_PROTOCOL } from '../../overlay/apply';
import { eventually } from '../helpers/agent-process';
import { labName, labRoot, weftctl, weftctlOk, type Matrix } from './lab-fixture';

interface Entries {
  routes: string[];
  fdb: string[];
  neighbours: string[];
}

/** What a node's agent installed towards other nodes: routes (proto weft), FDB and neighbour entries on the VXLAN device. */
async function overlayEntries(netns: string): Promise<Entries> {
  return withNetlink(netns, async (nl) => {
    const routes = (await nl.routes.list()).filter((r) => r.protocol === WEFT_ROUTE_PROTOCOL).map((r) => `${r.dst} via ${r.gateway}`);
    const vxlan = await nl.links.find('weft.1');
    const fdb = vxlan ? (await nl.fdb.list({ link: 'weft.1' })).filter((e) => e.dst).map((e) => e.dst as string) : [];
    const neighbours = vxlan ? (await nl.neighbours.list({ link: 'weft.1' })).filter((e) => e.state.includes('permanent')).map((e) => e.ip) : [];
    return { routes: routes.sort(), fdb: fdb.sort(), neighbours: neighbours.sort() };
  });
}

const mentions = (e: Entries, needles: string[]) => [...e.routes, ...e.fdb, ...e.neighbours].filter((x) => needles.some((n) => x.includes(n)));

async function failedPairs(t: ExecutionContext, root: string, lab: string, protocol: string, port: string): Promise<string[]> {
  const matrix = JSON.parse(await weftctlOk(t, root, ['lab', 'probe', '--name', lab, '--protocol', protocol, '--port', port, '-o', 'json'])) as Matrix;
  const pods = Object.keys(matrix);
  return pods.flatMap((a) => pods.filter((b) => b !== a && !matrix[a][b]).map((b) => `${a} -> ${b}`));
}

const agentPids = (root: string, lab: string) => Object.fromEntries(openLab(lab, root).state.nodes.map((n) => [n.name, n.agent?.pid]));

for (const overlay of ['vxlan', 'host-gw'] as OverlayMode[]) {
  test(`${overlay}: a node removed disappears from the others' tables; a node added later is reachable, nothing restarted`, async (t) => {
    const lab = labName(overlay === 'vxlan' ? 'mvx' : 'mhg');
    const root = labRoot(t, lab);
    const { state } = await labUp({ name: lab, root, nodes: 3, podsPerNode: 1, ports: [80, 81], overlay });
    const node0 = state.nodes[0].netns;
    const node2 = state.nodes[2];
    const pidsBefore = agentPids(root, lab);
    const node2Addresses = [node2.podCIDRs.v4, node2.podCIDRs.v6, node2.underlay.v4, node2.underlay.v6];
    t.true(mentions(await overlayEntries(node0), node2Addresses).length > 0, 'node-0 routes to node-2 at first');

    const removed = await weftctlOk(t, root, ['lab', 'node', 'remove', 'node-2', '--name', lab]);
    t.regex(removed, /pod\/default\/pod-2-0 deleted/);
    t.regex(removed, /node\/node-2 removed/);
    // Every route, neighbour and FDB entry for node-2 goes, on both remaining nodes.
    for (const n of state.nodes.slice(0, 2)) {
      await eventually(`node-2 gone from ${n.name}`, async () => (mentions(await overlayEntries(n.netns), node2Addresses).length === 0 ? true : undefined));
    }
    const after = openLab(lab, root).state;
    t.deepEqual(after.nodes.map((n) => n.name), ['node-0', 'node-1']);
    t.deepEqual(after.pods.map((p) => p.name), ['pod-0-0', 'pod-1-0']);
    t.deepEqual(await failedPairs(t, root, lab, 'TCP', '80'), []);

    // node-2 joins again (a new machine with the free index), with one pod.
    const added = await weftctlOk(t, root, ['lab', 'node', 'add', '--pods', '1', '--name', lab]);
    t.regex(added, /node\/node-2 added/);
    t.regex(added, /pod\/pod-2-0 created \(node-2 10\.244\.2\.\d+,fd00:10:244:2::/);
    for (const n of state.nodes.slice(0, 2)) {
      await eventually(`node-2 routed from ${n.name}`, async () => ((await overlayEntries(n.netns)).routes.some((r) => r.startsWith(node2.podCIDRs.v4)) ? true : undefined));
    }
    t.deepEqual(await failedPairs(t, root, lab, 'TCP', '80'), []);
    t.deepEqual(await failedPairs(t, root, lab, 'UDP', '81'), []);
    // The old nodes' agents are the same processes; only node-2's is new.
    const pidsAfter = agentPids(root, lab);
    t.is(pidsAfter['node-0'], pidsBefore['node-0']);
    t.is(pidsAfter['node-1'], pidsBefore['node-1']);
    t.not(pidsAfter['node-2'], pidsBefore['node-2']);
  });
}

test('node add and remove refuse what cannot be done, and change nothing', async (t) => {
  const lab = labName('mref');
  const root = labRoot(t, lab);
  await labUp({ name: lab, root, nodes: 1, podsPerNode: 0, ports: [80] });
  const unknown = await weftctl(root, ['lab', 'node', 'remove', 'node-7', '--name', lab]);
  t.not(unknown.code, 0);
  t.regex(unknown.stderr, /node node-7 not found in lab .* \(node-0\)/);
  const last = await weftctl(root, ['lab', 'node', 'remove', 'node-0', '--name', lab]);
  t.not(last.code, 0);
  t.regex(last.stderr, /node-0 is the last node .* lab down/);
  const badPods = await weftctl(root, ['lab', 'node', 'add', '--pods', '-1', '--name', lab]);
  t.not(badPods.code, 0);
  t.regex(badPods.stderr, /--pods must be from 0/);
  t.deepEqual(openLab(lab, root).state.nodes.map((n) => n.name), ['node-0']);
});
