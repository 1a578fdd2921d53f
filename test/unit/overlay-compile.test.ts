/** The overlay's pure parts: nodes from Node objects, VTEP addresses, pod MTU, routes per mode. */
import test from 'ava';
import type { KubeObject } from '../../agent/objects';
import { compileOverlay, type OverlayConfig } from '../../overlay/compile';
import { podMtu } from '../../overlay/mtu';
import { canonicalCidr, clusterNodeOf, type ClusterNode } from '../../overlay/nodes';
import { vtepAddress, vtepMac } from '../../overlay/vtep';
import { derivePodCidr, parseDeriveConfig, withDerivedPodCidrs } from '../../overlay/derive';

function nodeObject(name: string, podCIDRs: string[], addresses: [string, string][]): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { podCIDRs }, status: { addresses: addresses.map(([type, address]) => ({ type, address })) } };
}

test('Node objects: pod CIDRs canonical, one per family; InternalIP per family; junk ignored', (t) => {
  const node = clusterNodeOf(nodeObject('n1', ['10.244.1.7/24', 'FD00:10:244:1::/64', '10.9.0.0/16', 'junk'], [['Hostname', 'n1'], ['InternalIP', '192.0.2.11'], ['ExternalIP', '203.0.113.1'], ['InternalIP', 'fd00:192::B']]));
  t.deepEqual(node, { name: 'n1', podCidrs: { 4: '10.244.1.0/24', 6: 'fd00:10:244:1::/64' }, addresses: { 4: '192.0.2.11', 6: 'fd00:192::b' } });
  t.deepEqual(clusterNodeOf({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'old' }, spec: { podCIDR: '10.244.3.0/24' } }), { name: 'old', podCidrs: { 4: '10.244.3.0/24' }, addresses: {} });
  t.is(canonicalCidr('nope'), undefined);
});

test('VTEP MAC derived from the underlay address: locally administered unicast, stable, distinct', (t) => {
  t.is(vtepMac('192.0.2.11'), '0a:58:c0:00:02:0b');
  const v6 = vtepMac('fd00:192::b');
  t.regex(v6, /^0e:58(:[0-9a-f]{2}){4}$/);
  t.is(vtepMac('fd00:192::b'), v6);
  t.not(vtepMac('fd00:192::c'), v6);
  // Bit 1 of the first byte set (local), bit 0 clear (unicast).
  for (const mac of [vtepMac('10.0.0.1'), v6]) t.is(parseInt(mac.slice(0, 2), 16) & 0b11, 0b10);
  t.is(vtepAddress('10.244.1.0/24'), '10.244.1.0');
  t.is(vtepAddress('fd00:10:244:1::/64'), 'fd00:10:244:1::');
});

test('pod MTU: underlay minus VXLAN overhead (50 over IPv4, 70 over IPv6), nothing for host-gw', (t) => {
  t.is(podMtu(1500, 'vxlan', [4]), 1450);
  t.is(podMtu(1500, 'vxlan', [6]), 1430);
  t.is(podMtu(1500, 'hybrid', [4, 6]), 1430);
  t.is(podMtu(9000, 'host-gw', [4]), 9000);
  t.throws(() => podMtu(500, 'vxlan', [4]));
});

const nodes: ClusterNode[] = [
  { name: 'n1', podCidrs: { 4: '10.244.1.0/24', 6: 'fd00:10:244:1::/64' }, addresses: { 4: '192.0.2.11', 6: 'fd00:192::11' } },
  { name: 'n2', podCidrs: { 4: '10.244.2.0/24', 6: 'fd00:10:244:2::/64' }, addresses: { 4: '192.0.2.12', 6: 'fd00:192::12' } },
  { name: 'n3', podCidrs: { 4: '10.244.3.0/24' }, addresses: { 4: '198.51.100.13' } },
  { name: 'n4', podCidrs: {}, addresses: { 4: '192.0.2.14' } },
];

const config = (mode: OverlayConfig['mode']): OverlayConfig => ({
  mode,
  vni: 1,
  port: 8472,
  deviceNames: { 4: 'weft.1', 6: 'weft-v6.1' },
  underlay: { 4: { address: '192.0.2.11', prefix: 24, mtu: 1500 }, 6: { address: 'fd00:192::11', prefix: 64, mtu: 1500 } },
});

test('vxlan: a device per family, a tunnel route per peer and family; what cannot be routed is said', (t) => {
  const s = compileOverlay(nodes, 'n1', config('vxlan'));
  t.deepEqual(s.devices, [
    { family: 4, name: 'weft.1', vni: 1, port: 8472, local: '192.0.2.11', mac: '0a:58:c0:00:02:0b', vtepIp: '10.244.1.0', mtu: 1450 },
    { family: 6, name: 'weft-v6.1', vni: 1, port: 8472, local: 'fd00:192::11', mac: vtepMac('fd00:192::11'), vtepIp: 'fd00:10:244:1::', mtu: 1430 },
  ]);
  t.deepEqual(s.routes, [
    { node: 'n2', family: 4, dst: '10.244.2.0/24', via: 'vxlan', device: 'weft.1', vtepIp: '10.244.2.0', vtepMac: '0a:58:c0:00:02:0c', underlayIp: '192.0.2.12' },
    { node: 'n2', family: 6, dst: 'fd00:10:244:2::/64', via: 'vxlan', device: 'weft-v6.1', vtepIp: 'fd00:10:244:2::', vtepMac: vtepMac('fd00:192::12'), underlayIp: 'fd00:192::12' },
    { node: 'n3', family: 4, dst: '10.244.3.0/24', via: 'vxlan', device: 'weft.1', vtepIp: '10.244.3.0', vtepMac: '0a:58:c6:33:64:0d', underlayIp: '198.51.100.13' },
  ]);
  t.deepEqual(s.skipped, [
    { node: 'n3', reason: 'no IPv6 pod subnet' },
    { node: 'n4', reason: 'no IPv4 pod subnet' },
    { node: 'n4', reason: 'no IPv6 pod subnet' },
  ]);
});

test('host-gw: direct routes via the peer address, no device; an off-link peer is skipped with the reason', (t) => {
  const s = compileOverlay(nodes, 'n1', config('host-gw'));
  t.deepEqual(s.devices, []);
  t.deepEqual(s.routes.map((r) => `${r.node} ${r.dst} ${r.via} ${r.via === 'direct' ? r.gateway : ''}`), ['n2 10.244.2.0/24 direct 192.0.2.12', 'n2 fd00:10:244:2::/64 direct fd00:192::12']);
  t.regex(s.skipped.find((x) => x.node === 'n3')!.reason, /one L2 segment/);
});

test('hybrid: direct where the peer is on-link, VXLAN elsewhere', (t) => {
  const s = compileOverlay(nodes, 'n1', config('hybrid'));
  t.deepEqual(s.routes.map((r) => `${r.node}/${r.family} ${r.via}`), ['n2/4 direct', 'n2/6 direct', 'n3/4 vxlan']);
  t.is(s.devices.length, 2);
});

test('no Node object for this node, or no pod subnet: nothing to set up, and why', (t) => {
  t.deepEqual(compileOverlay(nodes, 'n9', config('vxlan')), { devices: [], routes: [], skipped: [{ node: 'n9', reason: 'no Node object for this node yet' }] });
  const s = compileOverlay(nodes, 'n4', config('vxlan'));
  t.deepEqual(s.devices, []);
  t.deepEqual(s.routes, []);
  t.deepEqual(s.skipped, [{ node: 'n4', reason: 'this node has no pod subnet (spec.podCIDRs)' }]);
});

test('derived pod subnets: from the host part of the node address, never the same for two nodes; refused when it cannot be', (t) => {
  const config = parseDeriveConfig(['192.0.2.0/24', 'fd00:192::/112'], ['10.244.0.0/16', 'fd00:10:244::/48'], { 4: 24, 6: 64 });
  t.deepEqual(derivePodCidr('192.0.2.11', config), { cidr: '10.244.11.0/24' });
  t.deepEqual(derivePodCidr('192.0.2.255', config), { cidr: '10.244.255.0/24' });
  t.deepEqual(derivePodCidr('fd00:192::102', config), { cidr: 'fd00:10:244:102::/64' });
  const all = new Set(Array.from({ length: 256 }, (_, i) => JSON.stringify(derivePodCidr(`192.0.2.${i}`, config))));
  t.is(all.size, 256);
  t.regex((derivePodCidr('198.51.100.7', config) as { error: string }).error, /outside the shared underlay/);
  const tooBig = parseDeriveConfig(['10.0.0.0/16'], ['10.244.0.0/16'], { 4: 24, 6: 64 });
  t.regex((derivePodCidr('10.0.1.1', tooBig) as { error: string }).error, /2\^16 addresses but .* only 2\^8 subnets/);
  const { nodes, problems } = withDerivedPodCidrs(
    [
      { name: 'a', podCidrs: {}, addresses: { 4: '192.0.2.5' } },
      { name: 'b', podCidrs: { 4: '10.250.0.0/24' }, addresses: { 4: '192.0.2.6' } },
      { name: 'c', podCidrs: {}, addresses: { 4: '203.0.113.9' } },
    ],
    config,
  );
  t.deepEqual(nodes.map((n) => n.podCidrs[4]), ['10.244.5.0/24', '10.250.0.0/24', undefined]);
  t.deepEqual(problems.map((p) => p.node), ['c']);
});
