/**
 * weft-bridge in-process against the real kernel: a "node" namespace stands for the host
 * (the plugin is built with it as hostNetns) and each pod has its own namespace.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { createBridgePlugin, hostVethName } from '../../cni/bridge';
import type { AttachmentRequest, CniPlugin } from '../../cni/plugin';
import type { NetConf, Result } from '../../cni/types';
import { withNetlink } from '../../kernel/netlink';
import { deleteNamedNetns } from '../../kernel/netns';
import { writeSysctl } from '../../kernel/sysctl';
import { WEFT_BIN_DIR } from '../../lab/cni-exec';
import { ping, runIn, startPeerAddressServer, startTcpServer, tcpProbe } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';
import { snapshot } from '../helpers/snapshot';
import { outsideNetwork } from '../helpers/topology';
import { tempDir } from '../helpers/tmp';

interface Node {
  netns: string;
  plugin: CniPlugin;
  dataDir: string;
}

function node(t: ExecutionContext): Node {
  const netns = tempNetns(t, 'node');
  const dataDir = tempDir(t, 'bridge');
  return { netns, plugin: createBridgePlugin({ hostNetns: netns }), dataDir };
}

function config(n: Node, extra: Record<string, unknown> = {}, ranges: object[][] = [[{ subnet: '10.99.0.0/24' }]]): NetConf {
  return {
    cniVersion: '1.1.0',
    name: 'br-test',
    type: 'weft-bridge',
    bridge: 'weft-br0',
    isGateway: true,
    ipam: { type: 'weft-ipam', dataDir: n.dataDir, ranges },
    ...extra,
  };
}

function request(conf: NetConf, netns: string, containerId: string, ifName = 'eth0'): AttachmentRequest {
  return { containerId, netns, ifName, args: new Map([['IgnoreUnknown', '1']]), path: [WEFT_BIN_DIR, '/usr/lib/cni'], config: conf, rawConfig: Buffer.from(JSON.stringify(conf)) };
}

function withPrev(req: AttachmentRequest, prevResult: Result): AttachmentRequest {
  const conf = { ...req.config, prevResult };
  return { ...req, config: conf, rawConfig: Buffer.from(JSON.stringify(conf)) };
}

async function pod(t: ExecutionContext, n: Node, conf: NetConf, label: string) {
  const netns = tempNetns(t, label);
  const req = request(conf, netns, `ctr-${label}`);
  const result = await n.plugin.add(req);
  return { netns, req, result, ip: (family: 4 | 6) => result.ips!.map((i) => i.address.split('/')[0]).find((a) => a.includes(':') === (family === 6))! };
}

function allocated(n: Node, network = 'br-test'): string[] {
  const dir = path.join(n.dataDir, network);
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^[0-9a-f.:]+$/.test(f) && f.includes('.') !== f.includes(':')) : [];
}

const DUAL = [[{ subnet: '10.99.0.0/24' }], [{ subnet: 'fd99::/64' }]];

test('dual-stack: pods reach each other and the gateway; the result lists bridge, host veth, container', async (t) => {
  const n = node(t);
  const conf = config(n, { isDefaultGateway: true }, DUAL);
  const a = await pod(t, n, conf, 'a');
  const b = await pod(t, n, conf, 'b');
  const r = a.result;
  t.is(r.interfaces?.length, 3);
  t.like(r.interfaces?.[0], { name: 'weft-br0' });
  t.like(r.interfaces?.[1], { name: hostVethName('ctr-a', 'eth0') });
  t.like(r.interfaces?.[2], { name: 'eth0', sandbox: a.netns });
  t.false('sandbox' in (r.interfaces?.[1] ?? {}));
  t.deepEqual(r.ips, [
    { address: '10.99.0.2/24', gateway: '10.99.0.1', interface: 2 },
    { address: 'fd99::2/64', gateway: 'fd99::1', interface: 2 },
  ]);
  t.deepEqual(r.routes, [{ dst: '0.0.0.0/0', gw: '10.99.0.1' }, { dst: '::/0', gw: 'fd99::1' }]);
  for (const [from, to] of [[a, b], [b, a]]) {
    t.true(await ping(from.netns, to.ip(4)), 'IPv4');
    t.true(await ping(from.netns, to.ip(6)), 'IPv6');
  }
  t.true(await ping(a.netns, '10.99.0.1'));
  t.true(await ping(a.netns, 'fd99::1'));
  const server = await startTcpServer(b.netns, 8080, 'b');
  t.teardown(() => server.stop());
  t.deepEqual(await tcpProbe(a.netns, b.ip(6), 8080), { ok: true, detail: 'weft b' });
  // The host end is on the bridge, the container end has the result's MAC.
  await withNetlink(n.netns, async (nl) => {
    const bridge = await nl.links.get('weft-br0');
    t.is((await nl.links.get(hostVethName('ctr-a', 'eth0'))).masterIndex, bridge.index);
    // The bridge keeps the MAC both results report as ports join (the kernel would otherwise take a port's).
    t.is(bridge.mac, r.interfaces?.[0].mac);
    t.is(bridge.mac, b.result.interfaces?.[0].mac);
    t.is((await nl.links.get(hostVethName('ctr-a', 'eth0'))).mac, r.interfaces?.[1].mac);
  });
  await withNetlink(a.netns, async (nl) => t.is((await nl.links.get('eth0')).mac, r.interfaces?.[2].mac));
});

test('ipMasq: a pod reaches an outside address as the node', async (t) => {
  const n = node(t);
  const outside = await outsideNetwork(t, n.netns);
  const a = await pod(t, n, config(n, { isDefaultGateway: true, ipMasq: true }), 'a');
  const server = await startPeerAddressServer(outside.netns, 9000);
  t.teardown(() => server.stop());
  t.deepEqual(await tcpProbe(a.netns, outside.outsideAddress, 9000), { ok: true, detail: outside.nodeAddress });
  // Pod to pod stays unmasqueraded.
  const b = await pod(t, n, config(n, { isDefaultGateway: true, ipMasq: true }), 'b');
  const inner = await startPeerAddressServer(b.netns, 9001);
  t.teardown(() => inner.stop());
  t.deepEqual(await tcpProbe(a.netns, b.ip(4), 9001), { ok: true, detail: a.ip(4) });
  // DEL removes the pod from masquerading: without the rule the outside sees the pod address.
  await n.plugin.del(withPrev(b.req, b.result));
  await n.plugin.del(withPrev(a.req, a.result));
  const ruleset = await runIn(n.netns, '/usr/sbin/nft', ['list', 'table', 'inet', 'weft-cni']);
  t.notRegex(ruleset.stdout, /10\.99\.0\./);
});

test('without ipMasq the outside sees the pod address', async (t) => {
  const n = node(t);
  const outside = await outsideNetwork(t, n.netns);
  const a = await pod(t, n, config(n, { isDefaultGateway: true }), 'a');
  const server = await startPeerAddressServer(outside.netns, 9000);
  t.teardown(() => server.stop());
  t.deepEqual(await tcpProbe(a.netns, outside.outsideAddress, 9000), { ok: true, detail: a.ip(4) });
});

/**
 * Hairpin, for real: two VEPA macvlans on the pod's eth0 send every frame out of eth0, even to
 * each other, so their traffic only flows if the bridge sends frames back out of the port they
 * came in on.
 */
async function vepaPing(t: ExecutionContext, podNs: string): Promise<boolean> {
  const ends = [tempNetns(t, 'vepa1'), tempNetns(t, 'vepa2')];
  await withNetlink(podNs, async (nl) => {
    for (const [i, ns] of ends.entries()) await nl.links.createMacvlan({ name: `mv${i}`, master: 'eth0', mode: 'vepa', netns: ns });
  });
  for (const [i, ns] of ends.entries()) {
    await withNetlink(ns, async (nl) => {
      await nl.addresses.add(`mv${i}`, `10.99.0.${201 + i}/24`);
      await nl.links.setUp(`mv${i}`);
    });
  }
  return ping(ends[0], '10.99.0.202', 2);
}

for (const hairpinMode of [true, false]) {
  test(`hairpinMode ${hairpinMode}: frames ${hairpinMode ? 'do' : 'do not'} go back out of the port they came from`, async (t) => {
    const n = node(t);
    const a = await pod(t, n, config(n, { hairpinMode }), 'a');
    await withNetlink(n.netns, async (nl) => t.is((await nl.links.get(hostVethName('ctr-a', 'eth0'))).info?.bridgePort?.hairpin ?? false, hairpinMode));
    t.is(await vepaPing(t, a.netns), hairpinMode);
  });
}

test('macspoofchk: frames from another MAC or another source address are dropped', async (t) => {
  const n = node(t);
  const conf = config(n, { macspoofchk: true }, DUAL);
  const a = await pod(t, n, conf, 'a');
  const b = await pod(t, n, conf, 'b');
  t.true(await ping(a.netns, b.ip(4)));
  t.true(await ping(a.netns, b.ip(6)));
  // A second address the pod was not given.
  await withNetlink(a.netns, async (nl) => {
    await nl.addresses.add('eth0', '10.99.0.77/24');
    await nl.addresses.add('eth0', 'fd99::77/64', { noDad: true });
  });
  t.false((await runIn(a.netns, 'ping', ['-n', '-q', '-c', '1', '-W', '1', '-I', '10.99.0.77', b.ip(4)])).code === 0);
  t.false((await runIn(a.netns, 'ping', ['-n', '-q', '-c', '1', '-W', '1', '-I', 'fd99::77', b.ip(6)])).code === 0);
  t.true(await ping(a.netns, b.ip(4)), 'its own address still works');
  // Another MAC.
  await withNetlink(a.netns, async (nl) => nl.links.setMac('eth0', '02:00:00:00:be:ef'));
  t.false(await ping(a.netns, b.ip(4)));
  // DEL removes the pod's chain and port entry.
  await n.plugin.del(withPrev(a.req, a.result));
  const ruleset = await runIn(n.netns, '/usr/sbin/nft', ['list', 'table', 'bridge', 'weft-cni']);
  t.false(ruleset.stdout.includes(hostVethName('ctr-a', 'eth0')));
  t.true(ruleset.stdout.includes(hostVethName('ctr-b', 'eth0')));
});

test('macspoofchk on an IPv4-only pod: global IPv6 sources are dropped, link-local IPv6 still passes', async (t) => {
  const n = node(t);
  const conf = config(n, { macspoofchk: true });
  const pods = [tempNetns(t, 'a'), tempNetns(t, 'b')];
  // Link-local addresses usable at once (no DAD wait) on the interfaces the plugin will create.
  for (const ns of pods) writeSysctl(ns, 'net.ipv6.conf.default.accept_dad', 0);
  for (const [i, ns] of pods.entries()) await n.plugin.add(request(conf, ns, `ctr-${i}`));
  const linkLocal = await withNetlink(pods[1], async (nl) => (await nl.addresses.list({ link: 'eth0', family: 6 })).find((a) => a.address.startsWith('fe80:'))?.address);
  t.truthy(linkLocal);
  t.true(await ping(pods[0], `${linkLocal}%eth0`), 'link-local IPv6 between the pods');
  for (const [i, ns] of pods.entries()) await withNetlink(ns, (nl) => nl.addresses.add('eth0', `fd98::${i + 1}/64`, { noDad: true }));
  t.false(await ping(pods[0], 'fd98::2'), 'an IPv6 address the pod was not given');
});

async function failingAdd(t: ExecutionContext, n: Node, conf: NetConf, podNs: string, expected: RegExp): Promise<Error & { code?: number }> {
  const beforeNode = await snapshot(n.netns);
  const beforePod = await snapshot(podNs);
  const beforeStore = allocated(n);
  const err = await t.throwsAsync(n.plugin.add(request(conf, podNs, 'ctr-fail')));
  t.regex(err?.message ?? '', expected);
  t.deepEqual(await snapshot(n.netns), beforeNode, 'node unchanged');
  t.deepEqual(await snapshot(podNs), beforePod, 'pod unchanged');
  t.deepEqual(allocated(n), beforeStore, 'no address kept');
  return err as Error & { code?: number };
}

test('a failed ADD on IPAM exhaustion leaves node, pod and store as they were (bridge included)', async (t) => {
  const n = node(t);
  const conf = config(n, { ipMasq: true, macspoofchk: true }, [[{ subnet: '10.98.0.0/30' }]]);
  const first = await pod(t, n, conf, 'first');
  t.is(first.ip(4), '10.98.0.2');
  await failingAdd(t, n, conf, tempNetns(t, 'p'), /no free address|no IP addresses|exhausted|available/i);
});

test('a failed ADD on a fresh node removes the bridge it made', async (t) => {
  const n = node(t);
  // MTU 1000 is valid for the veth but too small for IPv6, so the IPv6 address fails late.
  const conf = config(n, { mtu: 1000, ipMasq: true, macspoofchk: true }, DUAL);
  await failingAdd(t, n, conf, tempNetns(t, 'p'), /.+/);
  await withNetlink(n.netns, async (nl) => t.is(await nl.links.find('weft-br0'), undefined));
});

test('a failed ADD on an existing bridge undoes what it changed there: gateway, replaced address, up, promisc', async (t) => {
  const n = node(t);
  await withNetlink(n.netns, async (nl) => {
    await nl.links.createBridge({ name: 'weft-br0' });
    await nl.addresses.add('weft-br0', '10.99.0.50/24');
  });
  // The route's gateway is not on the pod's link: the kernel refuses it after the bridge work is done.
  const conf = config(n, { forceAddress: true, promiscMode: true });
  conf.ipam = { type: 'weft-ipam', dataDir: n.dataDir, ranges: [[{ subnet: '10.99.0.0/24' }]], routes: [{ dst: '192.0.2.0/24', gw: '10.55.0.9' }] };
  await failingAdd(t, n, conf, tempNetns(t, 'p'), /route|unreachable/i);
  await withNetlink(n.netns, async (nl) => {
    const bridge = await nl.links.get('weft-br0');
    t.false(bridge.up);
    t.false(bridge.promisc);
    t.deepEqual((await nl.addresses.list({ link: 'weft-br0', family: 4 })).map((a) => a.cidr), ['10.99.0.50/24']);
  });
});

test('a name clash in the pod fails before anything is made', async (t) => {
  const n = node(t);
  const podNs = tempNetns(t, 'p');
  await withNetlink(podNs, (nl) => nl.links.createVeth({ name: 'eth0', peer: { name: 'other' } }));
  await failingAdd(t, n, config(n), podNs, /eth0 already exists/);
});

test('a bad configuration is code 7 and makes nothing', async (t) => {
  const n = node(t);
  const podNs = tempNetns(t, 'p');
  for (const bad of [{ bridge: 'a-name-far-too-long' }, { mtu: 10 }, { isGateway: 'yes' }]) {
    const err = await failingAdd(t, n, config(n, bad), podNs, /.+/);
    t.is(err.code, 7, err.message);
  }
});

test('DEL is idempotent: never added, twice, and after the pod namespace is gone; IPAM is released every time', async (t) => {
  const n = node(t);
  const conf = config(n, { ipMasq: true, macspoofchk: true });
  const neverNs = tempNetns(t, 'never');
  await n.plugin.del(request(conf, neverNs, 'ctr-never'));
  const a = await pod(t, n, conf, 'a');
  t.deepEqual(allocated(n), ['10.99.0.2']);
  await n.plugin.del(withPrev(a.req, a.result));
  await n.plugin.del(withPrev(a.req, a.result));
  t.deepEqual(allocated(n), []);
  const b = await pod(t, n, conf, 'b');
  deleteNamedNetns(b.netns);
  await n.plugin.del(withPrev(b.req, b.result));
  await n.plugin.del({ ...b.req, netns: '' });
  t.deepEqual(allocated(n), []);
  await withNetlink(n.netns, async (nl) => t.is(await nl.links.find(hostVethName('ctr-b', 'eth0')), undefined));
});

test('CHECK passes on a healthy attachment and names what drifted', async (t) => {
  const n = node(t);
  const a = await pod(t, n, config(n, { isDefaultGateway: true }, DUAL), 'a');
  const check = () => n.plugin.check(withPrev(a.req, a.result));
  await t.notThrowsAsync(check());
  await withNetlink(a.netns, (nl) => nl.routes.delete({ dst: '::/0', gateway: 'fd99::1', dev: 'eth0' }));
  t.like(await t.throwsAsync(check()), { code: 100, message: 'interface eth0 lacks route ::/0 via fd99::1' });
  await withNetlink(a.netns, (nl) => nl.addresses.delete('eth0', '10.99.0.2/24'));
  t.like(await t.throwsAsync(check()), { code: 100, message: 'interface eth0 lacks address 10.99.0.2/24' });
  await withNetlink(n.netns, (nl) => nl.links.releaseMaster(hostVethName('ctr-a', 'eth0')));
  await t.throwsAsync(n.plugin.check({ ...a.req }), { message: /prevResult/ });
});

test('50 concurrent ADDs on one bridge, then 50 concurrent DELs: distinct addresses, nothing left', async (t) => {
  const n = node(t);
  const conf = config(n, { ipMasq: true }, [[{ subnet: '10.97.0.0/24' }]]);
  const before = await snapshot(n.netns);
  const pods = Array.from({ length: 50 }, (_, i) => request(conf, tempNetns(t, `c${i}`), `ctr-${i}`));
  const results = await Promise.all(pods.map((req) => n.plugin.add(req)));
  const addresses = new Set(results.map((r) => r.ips?.[0].address));
  t.is(addresses.size, 50);
  t.true(await ping(pods[0].netns, results[49].ips![0].address.split('/')[0]));
  await Promise.all(pods.map((req, i) => n.plugin.del(withPrev(req, results[i]))));
  t.deepEqual(allocated(n), []);
  const after = await snapshot(n.netns);
  // The bridge (with its gateway address) and the masquerade scaffolding stay, as the reference's do.
  t.deepEqual(after.links.filter((l) => !l.startsWith('weft-br0')), before.links);
  t.notRegex(after.ruleset, /10\.97\.0\.(?!0\/24)/);
});

test('promiscMode puts the bridge in promiscuous mode', async (t) => {
  const n = node(t);
  await pod(t, n, config(n, { promiscMode: true }), 'a');
  await withNetlink(n.netns, async (nl) => t.true((await nl.links.get('weft-br0')).promisc));
});

test('isGateway with another address of the subnet on the bridge: refused, unless forceAddress replaces it', async (t) => {
  const n = node(t);
  await withNetlink(n.netns, async (nl) => {
    await nl.links.createBridge({ name: 'weft-br0', up: true });
    await nl.addresses.add('weft-br0', '10.99.0.50/24');
  });
  const err = await failingAdd(t, n, config(n), tempNetns(t, 'p'), /already has 10\.99\.0\.50\/24.*gateway 10\.99\.0\.1\/24/);
  t.is(err.code, 7);
  await pod(t, n, config(n, { forceAddress: true }), 'a');
  const addresses = await withNetlink(n.netns, async (nl) => (await nl.addresses.list({ link: 'weft-br0', family: 4 })).map((a) => a.cidr));
  t.deepEqual(addresses, ['10.99.0.1/24']);
});
