/**
 * weft-macvlan ADD in-process against the real kernel: what the pods get and whether they reach
 * each other. The "node" namespace's veth end `up0` is the master (macvlan-fixture.ts).
 */
import test from 'ava';
import type { NetConf } from '../../cni/types';
import { withNetlink } from '../../kernel/netlink';
import { readSysctl } from '../../kernel/sysctl';
import { ping, startTcpServer, tcpProbe } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';
import { allocated, config, node, pod, request, V4, V6, withPrev } from './macvlan-fixture';

test('two bridge-mode pods on one master reach each other over IPv4 and IPv6', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n), 'a');
  const b = await pod(t, n, config(n), 'b');
  t.deepEqual(a.result, {
    cniVersion: '1.1.0',
    interfaces: [{ name: 'eth0', mac: a.result.interfaces?.[0].mac, sandbox: a.netns }],
    ips: [
      { address: '10.96.50.2/24', gateway: '10.96.50.1', interface: 0 },
      { address: 'fd96:50::2/64', gateway: 'fd96:50::1', interface: 0 },
    ],
    dns: {},
  });
  t.regex(a.result.interfaces?.[0].mac ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  t.true(await ping(a.netns, b.ip(false)));
  t.true(await ping(b.netns, a.ip(true)));
  const server = await startTcpServer(b.netns, 7000, 'b');
  t.teardown(() => server.stop());
  t.deepEqual(await tcpProbe(a.netns, b.ip(false), 7000), { ok: true, detail: 'weft b' });
  t.deepEqual(await tcpProbe(a.netns, b.ip(true), 7000), { ok: true, detail: 'weft b' });
  await withNetlink(a.netns, async (nl) => {
    const link = await nl.links.get('eth0');
    t.is(link.kind, 'macvlan');
    t.is(link.info?.macvlan?.mode, 'bridge');
    t.true(link.up);
    t.is(link.mac, a.result.interfaces?.[0].mac);
  });
  // The new MAC is announced when the link comes up, as the reference plugin arranges.
  t.is(readSysctl(a.netns, 'net/ipv4/conf/eth0/arp_notify'), '1');
  t.is(readSysctl(a.netns, 'net/ipv6/conf/eth0/ndisc_notify'), '1');
});

test('IPv6-only pods reach each other', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n, {}, [V6]), 'a');
  const b = await pod(t, n, config(n, {}, [V6]), 'b');
  t.deepEqual(a.result.ips, [{ address: 'fd96:50::2/64', gateway: 'fd96:50::1', interface: 0 }]);
  t.true(await ping(a.netns, b.ip(true)));
  const server = await startTcpServer(b.netns, 7000, 'b6');
  t.teardown(() => server.stop());
  t.deepEqual(await tcpProbe(a.netns, b.ip(true), 7000), { ok: true, detail: 'weft b6' });
});

test('private mode: pods on one master do not reach each other', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n, { mode: 'private' }, [V4]), 'a');
  const b = await pod(t, n, config(n, { mode: 'private' }, [V4]), 'b');
  await withNetlink(a.netns, async (nl) => t.is((await nl.links.get('eth0')).info?.macvlan?.mode, 'private'));
  t.false(await ping(a.netns, b.ip(false)));
});

for (const mode of ['vepa', 'passthru'] as const) {
  test(`mode ${mode} is created as asked and passes CHECK`, async (t) => {
    const n = await node(t);
    const a = await pod(t, n, config(n, { mode }), 'a');
    await withNetlink(a.netns, async (nl) => t.is((await nl.links.get('eth0')).info?.macvlan?.mode, mode));
    await t.notThrowsAsync(n.plugin.check(withPrev(a.req, a.result)));
  });
}

test('the master defaults to the interface of the default route, IPv4 first, then IPv6', async (t) => {
  const n = await node(t);
  await withNetlink(n.netns, async (nl) => {
    await nl.links.createVeth({ name: 'up1', up: true, peer: { name: 'up1-peer' } });
    await nl.addresses.add('up1', 'fd00:1::10/64', { noDad: true });
    await nl.routes.add({ dst: '::/0', gateway: 'fd00:1::1' });
  });
  const [up0, up1] = await withNetlink(n.netns, async (nl) => [(await nl.links.get('up0')).index, (await nl.links.get('up1')).index]);
  const conf = config(n, { master: undefined });
  const a = await pod(t, n, conf, 'a');
  await withNetlink(a.netns, async (nl) => t.is((await nl.links.get('eth0')).parentIndex, up0));
  await t.notThrowsAsync(n.plugin.check(withPrev(a.req, a.result)));

  await withNetlink(n.netns, (nl) => nl.routes.delete({ dst: 'default', gateway: '192.0.2.1' }));
  const b = await pod(t, n, conf, 'b');
  await withNetlink(b.netns, async (nl) => t.is((await nl.links.get('eth0')).parentIndex, up1));
});

test('linkInContainer: the master is found and used inside the pod namespace', async (t) => {
  const n = await node(t);
  const podNs = tempNetns(t, 'p');
  await withNetlink(podNs, (nl) => nl.links.createVeth({ name: 'vf0', up: true, peer: { name: 'vf0-peer' } }));
  const req = request(config(n, { master: 'vf0', linkInContainer: true }), podNs, 'ctr-lic');
  const result = await n.plugin.add(req);
  await withNetlink(podNs, async (nl) => t.is((await nl.links.get('eth0')).parentIndex, (await nl.links.get('vf0')).index));
  await t.notThrowsAsync(n.plugin.check(withPrev(req, result)));
  await withNetlink(n.netns, async (nl) => t.deepEqual((await nl.links.list()).filter((l) => l.kind === 'macvlan'), [], 'nothing on the node'));
  await n.plugin.del(withPrev(req, result));
  await withNetlink(podNs, async (nl) => {
    t.is(await nl.links.find('eth0'), undefined);
    t.truthy(await nl.links.find('vf0'), 'the master stays');
  });
});

test('linkInContainer without master: the default route of the pod namespace names it', async (t) => {
  const n = await node(t);
  const podNs = tempNetns(t, 'p');
  await withNetlink(podNs, async (nl) => {
    await nl.links.createVeth({ name: 'vf0', up: true, peer: { name: 'vf0-peer' } });
    await nl.addresses.add('vf0', '198.51.100.10/24');
    await nl.routes.add({ dst: 'default', gateway: '198.51.100.1' });
  });
  await n.plugin.add(request(config(n, { master: undefined, linkInContainer: true }), podNs, 'ctr-lic'));
  await withNetlink(podNs, async (nl) => t.is((await nl.links.get('eth0')).parentIndex, (await nl.links.get('vf0')).index));
});

test('mtu and MAC are applied; runtimeConfig.mac wins over CNI_ARGS MAC=', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n, { mtu: 1400 }), 'a', [['MAC', '02:aa:00:00:00:01']]);
  const b = await pod(t, n, config(n, { runtimeConfig: { mac: '02:BB:00:00:00:02' } }), 'b', [['MAC', '02:aa:00:00:00:03']]);
  t.is(a.result.interfaces?.[0].mac, '02:aa:00:00:00:01');
  t.is(b.result.interfaces?.[0].mac, '02:bb:00:00:00:02');
  await withNetlink(a.netns, async (nl) => {
    const link = await nl.links.get('eth0');
    t.is(link.mtu, 1400);
    t.is(link.mac, '02:aa:00:00:00:01');
  });
  await withNetlink(b.netns, async (nl) => t.is((await nl.links.get('eth0')).mtu, 1500, "the master's MTU by default"));
});

test('an empty ipam section makes the attachment L2 only: no ips in the result, link up, no address', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, { ...config(n), ipam: {} as NetConf['ipam'] }, 'a');
  t.deepEqual(a.result, { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', mac: a.result.interfaces?.[0].mac, sandbox: a.netns }], dns: {} });
  await withNetlink(a.netns, async (nl) => {
    const link = await nl.links.get('eth0');
    t.true(link.up);
    t.deepEqual((await nl.addresses.list({ link: link.index })).filter((x) => !x.address.startsWith('fe80:')), []);
  });
  t.deepEqual(allocated(n), []);
  await t.notThrowsAsync(n.plugin.check(withPrev(a.req, a.result)));
  await n.plugin.del(withPrev(a.req, a.result));
  await withNetlink(a.netns, async (nl) => t.is(await nl.links.find('eth0'), undefined));
});

test("the config's dns is reported, and IPAM routes are installed and reported", async (t) => {
  const n = await node(t);
  const dns = { nameservers: ['10.96.50.53'], search: ['pods.example'] };
  const routes = [{ dst: '198.51.100.0/24' }];
  const a = await pod(t, n, config(n, { dns }, [V4], { routes }), 'a');
  t.deepEqual(a.result.dns, dns);
  t.deepEqual(a.result.routes, routes);
  await withNetlink(a.netns, async (nl) => {
    const route = (await nl.routes.list({ family: 4 })).find((r) => r.dst === '198.51.100.0/24');
    t.is(route?.gateway, '10.96.50.1', "through the range's gateway");
  });
});
