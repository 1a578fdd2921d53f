/**
 * The overlay's kernel side between two real node namespaces joined by an underlay link: the
 * VXLAN devices, FDB, neighbour and route entries that applyOverlay writes carry real IPv4 and
 * IPv6 traffic between the nodes' pod subnets; a second apply changes nothing; a peer removed
 * takes its entries with it; host-gw replaces the tunnel with direct routes.
 */
import test, { type ExecutionContext } from 'ava';
import { withNetlink } from '../../kernel/netlink';
import { writeSysctl } from '../../kernel/sysctl';
import { runIn } from '../../lab/probe';
import { applyOverlay, WEFT_ROUTE_PROTOCOL } from '../../overlay/apply';
import { compileOverlay, type OverlayConfig } from '../../overlay/compile';
import type { ClusterNode } from '../../overlay/nodes';
import { tempNetns } from '../helpers/netns';

const NODES: ClusterNode[] = [
  { name: 'n1', podCidrs: { 4: '10.244.1.0/24', 6: 'fd00:10:244:1::/64' }, addresses: { 4: '192.0.2.11', 6: 'fd00:192::11' } },
  { name: 'n2', podCidrs: { 4: '10.244.2.0/24', 6: 'fd00:10:244:2::/64' }, addresses: { 4: '192.0.2.12', 6: 'fd00:192::12' } },
];
const MANAGED = ['weft.1', 'weft-v6.1'];

function configFor(node: ClusterNode, mode: OverlayConfig['mode']): OverlayConfig {
  return {
    mode,
    vni: 1,
    port: 8472,
    deviceNames: { 4: 'weft.1', 6: 'weft-v6.1' },
    underlay: { 4: { address: node.addresses[4]!, prefix: 24, mtu: 1500 }, 6: { address: node.addresses[6]!, prefix: 64, mtu: 1500 } },
  };
}

/** Two nodes on one underlay link; each has a bridge holding its pod subnet's gateway addresses. */
async function twoNodes(t: ExecutionContext): Promise<string[]> {
  const ns = [tempNetns(t, 'n1'), tempNetns(t, 'n2')];
  await withNetlink(ns[0], (nl) => nl.links.createVeth({ name: 'eth0', peer: { name: 'eth0', netns: ns[1] } }));
  for (const [i, node] of NODES.entries()) {
    // No duplicate address detection on the underlay: neighbour discovery waits for it (~2 s).
    writeSysctl(ns[i], 'net.ipv6.conf.eth0.accept_dad', 0);
    await withNetlink(ns[i], async (nl) => {
      await nl.links.setUp('lo');
      await nl.addresses.add('eth0', `${node.addresses[4]}/24`);
      await nl.addresses.add('eth0', `${node.addresses[6]}/64`, { noDad: true });
      await nl.links.setUp('eth0');
      await nl.links.createBridge({ name: 'pods', up: true });
      await nl.addresses.add('pods', `${node.podCidrs[4]!.replace('.0/24', '.1/24')}`);
      await nl.addresses.add('pods', `${node.podCidrs[6]!.replace('::/64', '::1/64')}`, { noDad: true });
    });
  }
  return ns;
}

async function apply(ns: string, node: ClusterNode, nodes: ClusterNode[], mode: OverlayConfig['mode'] = 'vxlan') {
  return withNetlink(ns, (nl) => applyOverlay(nl, compileOverlay(nodes, node.name, configFor(node, mode)), { managedDevices: MANAGED }));
}

/** Up to 3 echo requests in 2 s (the first may wait for neighbour discovery): true when one is answered. */
async function pingFrom(ns: string, source: string, target: string): Promise<boolean> {
  const { code } = await runIn(ns, 'ping', ['-n', '-q', '-c', '3', '-i', '0.2', '-w', '2', '-I', source, target]);
  return code === 0;
}

const routesOf = (ns: string) => withNetlink(ns, async (nl) => (await nl.routes.list()).filter((r) => r.protocol === WEFT_ROUTE_PROTOCOL).map((r) => `${r.dst} via ${r.gateway}${r.onLink ? ' onlink' : ''}`).sort());

test('VXLAN between two nodes carries IPv4 and IPv6 between their pod subnets; reapplying changes nothing', async (t) => {
  const ns = await twoNodes(t);
  for (const [i, node] of NODES.entries()) t.true((await apply(ns[i], node, NODES)).changes > 0);
  t.true(await pingFrom(ns[0], '10.244.1.1', '10.244.2.1'));
  t.true(await pingFrom(ns[1], 'fd00:10:244:2::1', 'fd00:10:244:1::1'));
  t.deepEqual(await routesOf(ns[0]), ['10.244.2.0/24 via 10.244.2.0 onlink', 'fd00:10:244:2::/64 via fd00:10:244:2:: onlink']);
  const dev = await withNetlink(ns[0], (nl) => nl.links.get('weft.1'));
  t.is(dev.mtu, 1450);
  t.is(dev.mac, '0a:58:c0:00:02:0b');
  t.is(dev.info?.vxlan?.learning, false);
  const fdb = await withNetlink(ns[0], (nl) => nl.fdb.list({ link: 'weft.1' }));
  t.true(fdb.some((e) => e.mac === '0a:58:c0:00:02:0c' && e.dst === '192.0.2.12'));
  for (const [i, node] of NODES.entries()) t.is((await apply(ns[i], node, NODES)).changes, 0);
});

test('a peer that leaves takes its route, neighbour and FDB entries with it; one that comes back is reachable again', async (t) => {
  const ns = await twoNodes(t);
  for (const [i, node] of NODES.entries()) await apply(ns[i], node, NODES);
  await apply(ns[0], NODES[0], [NODES[0]]);
  t.deepEqual(await routesOf(ns[0]), []);
  await withNetlink(ns[0], async (nl) => {
    t.deepEqual((await nl.fdb.list({ link: 'weft.1' })).filter((e) => e.dst), []);
    t.deepEqual((await nl.neighbours.list({ link: 'weft.1' })).filter((n) => n.state.includes('permanent')), []);
  });
  t.false(await pingFrom(ns[0], '10.244.1.1', '10.244.2.1'));
  await apply(ns[0], NODES[0], NODES);
  t.true(await pingFrom(ns[0], '10.244.1.1', '10.244.2.1'));
});

test('host-gw: direct routes via the peer address and no tunnel device; switching back brings the tunnel', async (t) => {
  const ns = await twoNodes(t);
  for (const [i, node] of NODES.entries()) await apply(ns[i], node, NODES, 'vxlan');
  for (const [i, node] of NODES.entries()) await apply(ns[i], node, NODES, 'host-gw');
  t.deepEqual(await routesOf(ns[0]), ['10.244.2.0/24 via 192.0.2.12', 'fd00:10:244:2::/64 via fd00:192::12']);
  t.is(await withNetlink(ns[0], (nl) => nl.links.find('weft.1')), undefined);
  t.true(await pingFrom(ns[0], '10.244.1.1', '10.244.2.1'));
  t.true(await pingFrom(ns[0], 'fd00:10:244:1::1', 'fd00:10:244:2::1'));
  for (const [i, node] of NODES.entries()) await apply(ns[i], node, NODES, 'vxlan');
  t.deepEqual(await routesOf(ns[0]), ['10.244.2.0/24 via 10.244.2.0 onlink', 'fd00:10:244:2::/64 via fd00:10:244:2:: onlink']);
  t.true(await pingFrom(ns[0], '10.244.1.1', '10.244.2.1'));
});

test('a peer that changes its underlay address: its entries follow (new VTEP MAC and FDB destination), traffic flows again', async (t) => {
  const ns = await twoNodes(t);
  for (const [i, node] of NODES.entries()) await apply(ns[i], node, NODES);
  const moved: ClusterNode = { ...NODES[1], addresses: { ...NODES[1].addresses, 4: '192.0.2.22' } };
  await withNetlink(ns[1], async (nl) => {
    await nl.addresses.delete('eth0', '192.0.2.12/24');
    await nl.addresses.add('eth0', '192.0.2.22/24');
  });
  const nodes = [NODES[0], moved];
  await apply(ns[1], moved, nodes);
  const changes = (await apply(ns[0], NODES[0], nodes)).changes;
  // The old FDB and neighbour entries out, the new ones in; the route (via the VTEP IP) stays.
  t.is(changes, 4);
  await withNetlink(ns[0], async (nl) => {
    t.deepEqual((await nl.fdb.list({ link: 'weft.1' })).filter((e) => e.dst).map((e) => `${e.mac} ${e.dst}`), ['0a:58:c0:00:02:16 192.0.2.22']);
  });
  t.true(await pingFrom(ns[0], '10.244.1.1', '10.244.2.1'));
});

test('hybrid: a direct route to the peer on the same segment, VXLAN to the one behind a router', async (t) => {
  const [n1, n2, n3] = [tempNetns(t, 'h1'), tempNetns(t, 'h2'), tempNetns(t, 'h3')];
  await withNetlink(n1, async (nl) => {
    await nl.links.createVeth({ name: 'eth0', peer: { name: 'eth0', netns: n2 } });
    await nl.links.createVeth({ name: 'eth1', peer: { name: 'eth0', netns: n3 } });
  });
  writeSysctl(n1, 'net.ipv4.ip_forward', 1);
  const nodes: ClusterNode[] = [
    { name: 'n1', podCidrs: { 4: '10.244.1.0/24' }, addresses: { 4: '192.0.2.11' } },
    { name: 'n2', podCidrs: { 4: '10.244.2.0/24' }, addresses: { 4: '192.0.2.12' } },
    { name: 'n3', podCidrs: { 4: '10.244.3.0/24' }, addresses: { 4: '203.0.113.13' } },
  ];
  const setup: [string, ClusterNode, string[], string?][] = [
    [n1, nodes[0], ['eth0:192.0.2.11/24', 'eth1:203.0.113.1/24']],
    [n2, nodes[1], ['eth0:192.0.2.12/24'], '192.0.2.11'],
    [n3, nodes[2], ['eth0:203.0.113.13/24'], '203.0.113.1'],
  ];
  for (const [ns, node, addresses, router] of setup) {
    await withNetlink(ns, async (nl) => {
      await nl.links.setUp('lo');
      for (const a of addresses) {
        const [dev, cidr] = a.split(':');
        await nl.addresses.add(dev, cidr);
        await nl.links.setUp(dev);
      }
      // The underlay beyond the node's own segment is reached through n1.
      if (router) await nl.routes.add({ dst: router.startsWith('192') ? '203.0.113.0/24' : '192.0.2.0/24', gateway: router });
      await nl.links.createBridge({ name: 'pods', up: true });
      await nl.addresses.add('pods', node.podCidrs[4]!.replace('.0/24', '.1/24'));
    });
  }
  for (const [ns, node] of setup) {
    const config: OverlayConfig = {
      mode: 'hybrid',
      vni: 1,
      port: 8472,
      deviceNames: { 4: 'weft.1', 6: 'weft-v6.1' },
      underlay: { 4: { address: node.addresses[4]!, prefix: 24, mtu: 1500 } },
    };
    await withNetlink(ns, (nl) => applyOverlay(nl, compileOverlay(nodes, node.name, config), { managedDevices: MANAGED }));
  }
  t.deepEqual(await routesOf(n1), ['10.244.2.0/24 via 192.0.2.12', '10.244.3.0/24 via 10.244.3.0 onlink']);
  t.deepEqual(await routesOf(n2), ['10.244.1.0/24 via 192.0.2.11', '10.244.3.0/24 via 10.244.3.0 onlink']);
  t.true(await pingFrom(n1, '10.244.1.1', '10.244.2.1'));
  t.true(await pingFrom(n1, '10.244.1.1', '10.244.3.1'));
  // n2 -> n3 is tunnelled, the outer packets routed through n1.
  t.true(await pingFrom(n2, '10.244.2.1', '10.244.3.1'));
});
