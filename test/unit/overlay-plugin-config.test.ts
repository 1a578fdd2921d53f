/** weft-overlay's configuration, the weft-bridge configuration it derives, and the masquerade compile. */
import test from 'ava';
import { renderIptablesChains } from '../../agent/backend/iptables/render';
import { renderNodeTable } from '../../agent/backend/nftables/render';
import { ObjectCache } from '../../agent/cache';
import { compileMasquerade } from '../../agent/compile/masquerade';
import { clusterNodes } from '../../agent/compile/node-state';
import type { KubeObject } from '../../agent/objects';
import { bridgeConfigFor, parseOverlayConfig } from '../../cni/overlay/config';
import { CniError } from '../../cni/types';

const base = { cniVersion: '1.0.0', name: 'weft', type: 'weft-overlay' };

test('defaults, absolute paths only, and no IPAM ranges of its own', (t) => {
  t.deepEqual(parseOverlayConfig(base), { nodeNetworkFile: '/run/weft/node-network.json', stateDir: '/var/lib/cni/weft-overlay' });
  for (const bad of [{ nodeNetworkFile: 'rel/file' }, { ipam: { type: 'host-local' } }, { ipam: { ranges: [[{ subnet: '10.0.0.0/24' }]] } }, { ipam: 'x' }]) {
    const err = t.throws(() => parseOverlayConfig({ ...base, ...bad } as never), { instanceOf: CniError });
    t.is(err?.code, 7, JSON.stringify(bad));
  }
});

test('the derived weft-bridge config: node subnets as ranges, overlay MTU, gateway, no per-pod masquerade', (t) => {
  const conf = bridgeConfigFor({ ...base, agentSocket: '/run/weft/agent.sock', ipam: { dataDir: '/x' } } as never, { nodeName: 'n1', podCidrs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], mtu: 1430, mode: 'vxlan' });
  t.deepEqual(conf, {
    ...base,
    type: 'weft-bridge',
    agentSocket: '/run/weft/agent.sock',
    bridge: 'weft0',
    isGateway: true,
    ipMasq: false,
    macspoofchk: true,
    mtu: 1430,
    ipam: { dataDir: '/x', type: 'weft-ipam', ranges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:10:244:1::/64' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] },
  });
});

function node(name: string, cidrs: string[]): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { podCIDRs: cidrs } };
}

test('masquerade: this node\'s subnets as sources; cluster and service ranges excepted (configured, or every node\'s subnet)', (t) => {
  const cache = new ObjectCache();
  for (const n of [node('n1', ['10.244.1.0/24', 'fd00:10:244:1::/64']), node('n2', ['10.244.2.0/24'])]) cache.apply({ type: 'ADDED', object: n });
  t.deepEqual(compileMasquerade(clusterNodes(cache, undefined).nodes, 'n1', { clusterCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/16'] }), {
    sources: ['10.244.1.0/24', 'fd00:10:244:1::/64'],
    exceptDestinations: ['10.244.0.0/16', '10.96.0.0/16'],
  });
  t.deepEqual(compileMasquerade(clusterNodes(cache, undefined).nodes, 'n1', { clusterCidrs: [], serviceCidrs: [] })?.exceptDestinations, ['10.244.1.0/24', '10.244.2.0/24', 'fd00:10:244:1::/64']);
  t.is(compileMasquerade(clusterNodes(cache, undefined).nodes, 'n9', { clusterCidrs: [], serviceCidrs: [] }), undefined);
});

test('masquerade rendered the same way by both backends', (t) => {
  const state = { nodeName: 'n1', localPods: [], masquerade: { sources: ['10.244.1.0/24', 'fd00:10:244:1::/64'], exceptDestinations: ['10.244.0.0/16', '10.96.0.0/16', 'fd00:10:244::/48'] } };
  const chain = renderNodeTable(state).chains.find((c) => c.name === 'postrouting');
  t.deepEqual(chain?.base, { type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' });
  t.deepEqual(chain?.rules.map((r) => r.rule), [
    'ip saddr { 10.244.1.0/24 } ip daddr != { 10.244.0.0/16, 10.96.0.0/16 } masquerade',
    'ip6 saddr { fd00:10:244:1::/64 } ip6 daddr != { fd00:10:244::/48 } masquerade',
  ]);
  const nat = renderIptablesChains(state, 'ipv4', 'WEFT').find((c) => c.table === 'nat');
  t.deepEqual(nat?.rules.map((r) => `${r[0]} ${r[1]} ${r[r.length - 1]}`), ['-d 10.244.0.0/16 RETURN', '-d 10.96.0.0/16 RETURN', '-s 10.244.1.0/24 MASQUERADE']);
  t.is(renderNodeTable({ ...state, masquerade: undefined }).chains.some((c) => c.name === 'postrouting'), false);
});
