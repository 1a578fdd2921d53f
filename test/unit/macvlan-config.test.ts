import test from 'ava';
import { parseMacvlanConfig } from '../../cni/macvlan';
import { CniError, type NetConf } from '../../cni/types';

const conf = (extra: Record<string, unknown> = {}): NetConf => ({ cniVersion: '1.1.0', name: 'n', type: 'weft-macvlan', ...extra });
const noArgs = new Map<string, string>();

test("defaults are the reference macvlan plugin's: bridge mode, master from the default route", (t) => {
  t.deepEqual(parseMacvlanConfig(conf(), noArgs), { mode: 'bridge', linkInContainer: false });
});

test('every key is read; unknown keys are ignored', (t) => {
  const cfg = parseMacvlanConfig(conf({ master: 'eth1', mode: 'vepa', mtu: 1400, linkInContainer: true, whatever: [1] }), noArgs);
  t.deepEqual(cfg, { master: 'eth1', mode: 'vepa', mtu: 1400, linkInContainer: true });
});

for (const mode of ['bridge', 'private', 'vepa', 'passthru'] as const) {
  test(`mode ${mode} is accepted`, (t) => {
    t.is(parseMacvlanConfig(conf({ mode }), noArgs).mode, mode);
  });
}

test('empty master and empty mode mean "not given", as in the reference', (t) => {
  t.deepEqual(parseMacvlanConfig(conf({ master: '', mode: '' }), noArgs), { mode: 'bridge', linkInContainer: false });
});

test('mtu 0 means the kernel default', (t) => {
  t.is(parseMacvlanConfig(conf({ mtu: 0 }), noArgs).mtu, undefined);
});

test('the MAC comes from runtimeConfig, else CNI_ARGS MAC=, else the mac key; lowercased', (t) => {
  const all = conf({ mac: '02:00:00:00:00:03', runtimeConfig: { mac: '02:00:00:00:00:01' } });
  const args = new Map([['MAC', '02:00:00:00:00:02']]);
  t.is(parseMacvlanConfig(all, args).mac, '02:00:00:00:00:01');
  t.is(parseMacvlanConfig(conf({ mac: '02:00:00:00:00:03' }), args).mac, '02:00:00:00:00:02');
  t.is(parseMacvlanConfig(conf({ mac: '02:00:00:00:00:0A' }), noArgs).mac, '02:00:00:00:00:0a');
  t.is(parseMacvlanConfig(conf({ runtimeConfig: { mac: '' } }), args).mac, '02:00:00:00:00:02', 'an empty value is skipped');
});

for (const [label, extra, args, message] of [
  ['an unknown mode', { mode: 'loud' }, noArgs, /unknown macvlan mode "loud": use one of bridge, private, vepa, passthru/],
  ['mode source (a kernel mode the plugin does not offer)', { mode: 'source' }, noArgs, /unknown macvlan mode "source"/],
  ['a mode that is not a string', { mode: 1 }, noArgs, /unknown macvlan mode 1/],
  ['a master name over 15 bytes', { master: 'a-name-far-too-long' }, noArgs, /master must be an interface name/],
  ['a master name with a slash', { master: 'eth/0' }, noArgs, /master must be an interface name/],
  ['a master that is not a string', { master: 3 }, noArgs, /master must be an interface name/],
  ['an mtu below the IPv4 minimum', { mtu: 67 }, noArgs, /mtu must be an integer from 68 to 65535/],
  ['a fractional mtu', { mtu: 1400.5 }, noArgs, /mtu must be an integer/],
  ['a negative mtu', { mtu: -1 }, noArgs, /mtu must be an integer/],
  ['an mtu given as a string', { mtu: '1400' }, noArgs, /mtu must be an integer/],
  ['linkInContainer given as a string', { linkInContainer: 'true' }, noArgs, /linkInContainer must be true or false/],
  ['a malformed MAC in CNI_ARGS', {}, new Map([['MAC', '02:00:00:00:00']]), /invalid MAC address "02:00:00:00:00"/],
  ['a malformed MAC in runtimeConfig', { runtimeConfig: { mac: 'zz:00:00:00:00:01' } }, noArgs, /invalid MAC address/],
  ['a multicast MAC', { mac: '01:00:5e:00:00:01' }, noArgs, /01:00:5e:00:00:01 is a multicast address/],
] as const) {
  test(`rejects ${label} with code 7`, (t) => {
    const err = t.throws(() => parseMacvlanConfig(conf(extra), args), { instanceOf: CniError });
    t.is(err?.code, 7);
    t.regex(err?.message ?? '', message);
  });
}
