/**
 * Issue 5 in the lab: 3 nodes joined by the agents' VXLAN overlay. Every pod reaches every
 * other pod, on its node and across nodes, over TCP and UDP, IPv4 and IPv6; pods got the
 * overlay MTU; the node routes are the agent's (VXLAN device, on-link via each peer's VTEP).
 */
import test from 'ava';
import { labUp } from '../../lab/cluster/up';
import { withNetlink } from '../../kernel/netlink';
import { WEFT_ROUTE_PROTOCOL } from '../../overlay/apply';
import { labName, labRoot, weftctlOk, type Matrix } from './lab-fixture';

test('3 nodes: every pod reaches every other pod over TCP and UDP, IPv4 and IPv6, at the overlay MTU', async (t) => {
  const lab = labName('ovl');
  const root = labRoot(t, lab);
  const { state } = await labUp({ name: lab, root, nodes: 3, podsPerNode: 1, ports: [80, 81] });
  const pods = state.pods.map((p) => `${p.object.metadata.namespace}/${p.object.metadata.name}`);
  t.is(pods.length, 3);
  for (const [protocol, port, family] of [['TCP', '80', '4'], ['UDP', '81', '4'], ['TCP', '80', '6'], ['UDP', '81', '6']]) {
    const matrix = JSON.parse(await weftctlOk(t, root, ['lab', 'probe', '--name', lab, '--protocol', protocol, '--port', port, '--family', family, '-o', 'json'])) as Matrix;
    const failed = pods.flatMap((a) => pods.filter((b) => b !== a && !matrix[a][b]).map((b) => `${a} -> ${b}`));
    t.deepEqual(failed, [], `${protocol} ${port} IPv${family}`);
  }

  // A dual-stack underlay: the IPv6 encapsulation overhead (70 bytes) for every pod.
  const mtu = await withNetlink(state.pods[0].netns, async (nl) => (await nl.links.get('eth0')).mtu);
  t.is(mtu, 1430);
  const routes = await withNetlink(state.nodes[0].netns, async (nl) =>
    (await nl.routes.list()).filter((r) => r.protocol === WEFT_ROUTE_PROTOCOL).map((r) => `${r.dst} via ${r.gateway}`).sort(),
  );
  t.deepEqual(routes, ['10.244.1.0/24 via 10.244.1.0', '10.244.2.0/24 via 10.244.2.0', 'fd00:10:244:1::/64 via fd00:10:244:1::', 'fd00:10:244:2::/64 via fd00:10:244:2::']);
});

test('host-gw: the same matrix with plain routes via the node addresses, no tunnel, at the underlay MTU', async (t) => {
  const lab = labName('hgw');
  const root = labRoot(t, lab);
  const { state } = await labUp({ name: lab, root, nodes: 3, podsPerNode: 1, ports: [80, 81], overlay: 'host-gw' });
  const pods = state.pods.map((p) => `${p.object.metadata.namespace}/${p.object.metadata.name}`);
  for (const [protocol, port, family] of [['TCP', '80', '4'], ['UDP', '81', '6']]) {
    const matrix = JSON.parse(await weftctlOk(t, root, ['lab', 'probe', '--name', lab, '--protocol', protocol, '--port', port, '--family', family, '-o', 'json'])) as Matrix;
    const failed = pods.flatMap((a) => pods.filter((b) => b !== a && !matrix[a][b]).map((b) => `${a} -> ${b}`));
    t.deepEqual(failed, [], `${protocol} ${port} IPv${family}`);
  }
  t.is(await withNetlink(state.pods[0].netns, async (nl) => (await nl.links.get('eth0')).mtu), 1500);
  const node0 = state.nodes[0];
  const routes = await withNetlink(node0.netns, async (nl) => (await nl.routes.list()).filter((r) => r.protocol === WEFT_ROUTE_PROTOCOL).map((r) => `${r.dst} via ${r.gateway}`).sort());
  t.deepEqual(routes.slice(0, 2), ['10.244.1.0/24 via 192.0.2.11', '10.244.2.0/24 via 192.0.2.12']);
  t.is(await withNetlink(node0.netns, (nl) => nl.links.find('weft.1')), undefined);
});
