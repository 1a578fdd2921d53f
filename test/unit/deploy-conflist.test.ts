/**
 * The network configuration list the install step writes, through the parsers of the plugins that
 * will receive it: weft-overlay's, then the weft-bridge and weft-ipam configuration it derives for
 * a node (as libcni hands each plugin its entry with the list's name and cniVersion).
 */
import test from 'ava';
import { parseBridgeConfig } from '../../cni/bridge/config';
import { bridgeConfigFor, parseOverlayConfig } from '../../cni/overlay/config';
import { PLUGIN_NAMES } from '../../cni/registry';
import type { NetConf } from '../../cni/types';
import { conflist, PLUGINS } from '../../deploy/install/install';
import { parseIpamConfig } from '../../ipam/config';
import { pluginConfig, type NetworkConfigList } from '../../lab/conflist';

const list = conflist('/run/weft/agent.sock') as NetworkConfigList;

/** The configuration one plugin receives, as a runtime builds it. */
function entry(type: string): NetConf {
  const plugin = list.plugins.find((p) => p.type === type)!;
  return pluginConfig(list, plugin, { hostNetns: '/x', containerId: 'c', netns: '/y', ifName: 'eth0', capabilityArgs: { portMappings: [] } }) as NetConf;
}

test('a CNI 1.0.0 list named weft: weft-overlay, then portmap with the portMappings capability', (t) => {
  t.is(list.cniVersion, '1.0.0');
  t.is(list.name, 'weft');
  t.deepEqual(list.plugins.map((p) => p.type), ['weft-overlay', 'portmap']);
  t.deepEqual(list.plugins[1].capabilities, { portMappings: true });
  // Every weft plugin the list names is installed.
  for (const p of list.plugins.filter((p) => p.type.startsWith('weft-'))) {
    t.true(PLUGINS.includes(p.type), p.type);
    t.true(PLUGIN_NAMES.includes(p.type), p.type);
  }
  t.deepEqual([...PLUGINS].sort(), [...PLUGIN_NAMES].sort());
});

test("weft-overlay accepts its entry, which registers pods with the agent and carries no node's subnet", (t) => {
  const conf = entry('weft-overlay');
  t.deepEqual(parseOverlayConfig(conf), { nodeNetworkFile: '/run/weft/node-network.json', stateDir: '/var/lib/cni/weft-overlay' });
  t.is(conf.agentSocket, '/run/weft/agent.sock');
  t.is(conf.ipam, undefined);
});

test('the weft-bridge and weft-ipam configuration derived for a dual-stack node is accepted by their parsers', (t) => {
  const network = { nodeName: 'node-1', podCidrs: ['10.244.3.0/24', 'fd00:10:244:3::/64'], mtu: 1450, mode: 'vxlan' as const };
  const bridgeConf = bridgeConfigFor(entry('weft-overlay'), network);
  t.like(parseBridgeConfig(bridgeConf), { bridge: 'weft0', isGateway: true, ipMasq: false, hairpinMode: true, mtu: 1450, macspoofchk: true });
  t.like(parseBridgeConfig(bridgeConfigFor({ ...entry('weft-overlay'), macspoofchk: false }, network)), { macspoofchk: false }, 'the spoof check can be turned off');
  const ipam = parseIpamConfig(bridgeConf);
  t.is(ipam.network, 'weft');
  t.is(ipam.dataDir, '/var/lib/cni/networks');
  t.is(ipam.rangeSets.length, 2);
  t.is(bridgeConf.agentSocket, '/run/weft/agent.sock');
});

test('the same parsers refuse broken entries (so the checks above can fail)', (t) => {
  // A value that the parsers refuse shows that they do parse this entry (the test can fail).
  t.throws(() => parseOverlayConfig({ ...entry('weft-overlay'), ipam: { type: 'host-local' } }));
  t.throws(() => parseBridgeConfig({ ...bridgeConfigFor(entry('weft-overlay'), { nodeName: 'n', podCidrs: ['10.0.0.0/24'], mtu: 1450, mode: 'vxlan' }), bridge: 'a-name-too-long-for-linux' }));
});
