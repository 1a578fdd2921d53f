import test from 'ava';
import fs from 'node:fs';
import { openNetlink } from '../../kernel/netlink';
import { SysctlError, readSysctl, sysctlPath, writeSysctl } from '../../kernel/sysctl';
import { tempNetns } from '../helpers/netns';

/** Read-only view of the process's own (root) namespace, to compare with. */
const rootValue = (key: string) => fs.readFileSync(sysctlPath(key), 'utf8').trim();

test('keys are dotted or slashed, as sysctl(8) reads them', (t) => {
  t.is(sysctlPath('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
  t.is(sysctlPath('net/ipv4/ip_forward'), '/proc/sys/net/ipv4/ip_forward');
  // An interface with a dot in its name: "/" in the dotted form, literal in the slashed one.
  t.is(sysctlPath('net.ipv4.conf.eth0/100.rp_filter'), '/proc/sys/net/ipv4/conf/eth0.100/rp_filter');
  t.is(sysctlPath('net/ipv4/conf/eth0.100/rp_filter'), '/proc/sys/net/ipv4/conf/eth0.100/rp_filter');
  for (const bad of ['kernel.hostname', 'vm/swappiness', 'net', 'net/../kernel/hostname', 'net..ipv4', '/net/ipv4/ip_forward', '']) {
    t.throws(() => sysctlPath(bad), { instanceOf: SysctlError }, bad);
  }
});

test('a write in one namespace changes neither another namespace nor the root one', (t) => {
  const a = tempNetns(t, 'sysctl-a');
  const b = tempNetns(t, 'sysctl-b');
  const key = 'net.ipv4.ip_forward';
  const rootBefore = rootValue(key);
  const bBefore = readSysctl(b, key);
  const flipped = bBefore === '1' ? '0' : '1';

  writeSysctl(a, key, flipped);

  t.is(readSysctl(a, key), flipped);
  t.is(readSysctl(b, key), bBefore);
  t.is(rootValue(key), rootBefore);
});

test('per-interface and IPv6 keys, numbers written as text', async (t) => {
  const ns = tempNetns(t, 'sysctl-if');
  const nl = await openNetlink(ns);
  t.teardown(() => nl.close());
  await nl.links.createVeth({ name: 'veth.7', peer: { name: 'p7' } });

  writeSysctl(ns, 'net.ipv4.conf.veth/7.rp_filter', 2);
  t.is(readSysctl(ns, 'net/ipv4/conf/veth.7/rp_filter'), '2');
  writeSysctl(ns, 'net/ipv6/conf/veth.7/accept_dad', '0');
  t.is(readSysctl(ns, 'net.ipv6.conf.veth/7.accept_dad'), '0');
  writeSysctl(ns, 'net.ipv6.conf.all.forwarding', 1);
  t.is(readSysctl(ns, 'net.ipv6.conf.all.forwarding'), '1');
  t.false(fs.existsSync('/proc/sys/net/ipv4/conf/veth.7'), 'the interface is not in the root namespace');
});

test('unknown keys and bad values give SysctlError with the errno code', (t) => {
  const ns = tempNetns(t, 'sysctl-err');
  const missing = t.throws(() => readSysctl(ns, 'net.ipv4.conf.nope0.rp_filter'), { instanceOf: SysctlError });
  t.is(missing?.code, 'ENOENT');
  t.regex(missing?.message ?? '', new RegExp(`net\\.ipv4\\.conf\\.nope0\\.rp_filter in netns ${ns}`));
  const invalid = t.throws(() => writeSysctl(ns, 'net.ipv4.ip_forward', 'yes'), { instanceOf: SysctlError });
  t.is(invalid?.code, 'EINVAL');
});
