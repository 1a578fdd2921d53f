import test from 'ava';
import { hostVethName, parseBridgeConfig } from '../../cni/bridge';
import { CniError, type NetConf } from '../../cni/types';

const conf = (extra: Record<string, unknown> = {}): NetConf => ({ cniVersion: '1.1.0', name: 'n', type: 'weft-bridge', ...extra });

test('defaults are the reference bridge plugin\'s', (t) => {
  t.deepEqual(parseBridgeConfig(conf()), {
    bridge: 'cni0',
    isGateway: false,
    isDefaultGateway: false,
    forceAddress: false,
    ipMasq: false,
    mtu: undefined,
    hairpinMode: false,
    promiscMode: false,
    macspoofchk: false,
    enabledad: false,
  });
});

test('isDefaultGateway implies isGateway; unknown keys are ignored', (t) => {
  const cfg = parseBridgeConfig(conf({ isDefaultGateway: true, somethingElse: { nested: 1 }, bridge: 'br-pods', mtu: 1400 }));
  t.true(cfg.isGateway);
  t.true(cfg.isDefaultGateway);
  t.is(cfg.bridge, 'br-pods');
  t.is(cfg.mtu, 1400);
});

test('mtu 0 means the default, as in the reference', (t) => {
  t.is(parseBridgeConfig(conf({ mtu: 0 })).mtu, undefined);
});

for (const [label, extra, message] of [
  ['a bridge name over 15 bytes', { bridge: 'a-name-far-too-long' }, /bridge must be a valid interface name/],
  ['an empty bridge name', { bridge: '' }, /bridge must be/],
  ['a bridge name with a slash', { bridge: 'br/0' }, /bridge must be/],
  ['a bridge name that is not a string', { bridge: 7 }, /bridge must be/],
  ['a boolean given as a string', { ipMasq: 'true' }, /ipMasq must be true or false/],
  ['a boolean given as a number', { hairpinMode: 1 }, /hairpinMode must be true or false/],
  ['an mtu below IPv4\'s minimum', { mtu: 10 }, /mtu must be an integer from 68 to 65535/],
  ['an mtu above 65535', { mtu: 100000 }, /mtu must be an integer/],
  ['a fractional mtu', { mtu: 1400.5 }, /mtu must be an integer/],
  ['an mtu given as a string', { mtu: '1400' }, /mtu must be an integer/],
] as const) {
  test(`${label} is an invalid network config (7)`, (t) => {
    const err = t.throws(() => parseBridgeConfig(conf(extra)), { instanceOf: CniError });
    t.is(err?.code, 7);
    t.regex(err?.message ?? '', message);
  });
}

test('vlan is refused as an unsupported field (2): this kernel has no bridge VLAN filtering', (t) => {
  const err = t.throws(() => parseBridgeConfig(conf({ vlan: 100 })), { instanceOf: CniError });
  t.is(err?.code, 2);
  t.regex(err?.message ?? '', /vlan/);
  t.is(parseBridgeConfig(conf({ vlan: 0 })).vlan, undefined, 'vlan 0 means untagged, as in the reference');
  t.is(t.throws(() => parseBridgeConfig(conf({ vlan: 5000 })), { instanceOf: CniError })?.code, 7);
});

test('host veth names: "veth" + 8 hex digits, stable per containerID and ifname, different otherwise', (t) => {
  const name = hostVethName('abc123', 'eth0');
  t.regex(name, /^veth[0-9a-f]{8}$/);
  t.is(hostVethName('abc123', 'eth0'), name);
  t.not(hostVethName('abc123', 'eth1'), name);
  t.not(hostVethName('abc124', 'eth0'), name);
});
