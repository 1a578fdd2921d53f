/**
 * weft-macvlan in-process against the real kernel: the "node" namespace has a veth pair whose
 * end `up0` is the master (this kernel has no dummy links); pods get macvlans on it.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createMacvlanPlugin } from '../../cni/macvlan';
import type { AttachmentRequest, CniPlugin } from '../../cni/plugin';
import type { NetConf, Result } from '../../cni/types';
import { withNetlink } from '../../kernel/netlink';
import { deleteNamedNetns } from '../../kernel/netns';
import { WEFT_BIN_DIR } from '../../lab/cni-exec';
import { ping, startTcpServer, tcpProbe } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';
import { snapshot } from '../helpers/snapshot';

interface Node {
  netns: string;
  plugin: CniPlugin;
  dataDir: string;
}

async function node(t: ExecutionContext): Promise<Node> {
  const netns = tempNetns(t, 'node');
  await withNetlink(netns, async (nl) => {
    await nl.links.createVeth({ name: 'up0', up: true, peer: { name: 'up0-peer' } });
    await nl.links.setUp('up0-peer');
    await nl.addresses.add('up0', '192.0.2.10/24');
    await nl.routes.add({ dst: 'default', gateway: '192.0.2.1' });
  });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-t-macvlan-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  return { netns, plugin: createMacvlanPlugin({ hostNetns: netns }), dataDir };
}

const DUAL = [[{ subnet: '10.96.50.0/24' }], [{ subnet: 'fd96:50::/64' }]];

function config(n: Node, extra: Record<string, unknown> = {}, ranges: object[][] = DUAL): NetConf {
  return { cniVersion: '1.1.0', name: 'mv-test', type: 'weft-macvlan', master: 'up0', ipam: { type: 'weft-ipam', dataDir: n.dataDir, ranges }, ...extra };
}

function request(conf: NetConf, netns: string, containerId: string): AttachmentRequest {
  return { containerId, netns, ifName: 'eth0', args: new Map(), path: [WEFT_BIN_DIR], config: conf, rawConfig: Buffer.from(JSON.stringify(conf)) };
}

function withPrev(req: AttachmentRequest, prevResult: Result): AttachmentRequest {
  return { ...req, config: { ...req.config, prevResult } };
}

async function pod(t: ExecutionContext, n: Node, conf: NetConf, label: string) {
  const netns = tempNetns(t, label);
  const req = request(conf, netns, `ctr-${label}`);
  const result = await n.plugin.add(req);
  return { netns, req, result, ip: (v6: boolean) => result.ips!.map((i) => i.address.split('/')[0]).find((a) => a.includes(':') === v6)! };
}

function allocated(n: Node): string[] {
  const dir = path.join(n.dataDir, 'mv-test');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$|:/.test(f)) : [];
}

test('two bridge-mode pods on one master reach each other over IPv4 and IPv6', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n), 'a');
  const b = await pod(t, n, config(n), 'b');
  t.deepEqual(a.result.interfaces, [{ name: 'eth0', mac: a.result.interfaces?.[0].mac, sandbox: a.netns }]);
  t.deepEqual(a.result.ips, [
    { address: '10.96.50.2/24', gateway: '10.96.50.1', interface: 0 },
    { address: 'fd96:50::2/64', gateway: 'fd96:50::1', interface: 0 },
  ]);
  t.true(await ping(a.netns, b.ip(false)));
  t.true(await ping(b.netns, a.ip(true)));
  const server = await startTcpServer(b.netns, 7000, 'b');
  t.teardown(() => server.stop());
  t.deepEqual(await tcpProbe(a.netns, b.ip(false), 7000), { ok: true, detail: 'weft b' });
  await withNetlink(a.netns, async (nl) => {
    const link = await nl.links.get('eth0');
    t.is(link.kind, 'macvlan');
    t.is(link.info?.macvlan?.mode, 'bridge');
  });
});

test('private mode: pods on one master do not reach each other', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n, { mode: 'private' }), 'a');
  const b = await pod(t, n, config(n, { mode: 'private' }), 'b');
  t.false(await ping(a.netns, b.ip(false)));
});

for (const mode of ['vepa', 'passthru'] as const) {
  test(`mode ${mode} is created as asked`, async (t) => {
    const n = await node(t);
    const a = await pod(t, n, config(n, { mode }), 'a');
    await withNetlink(a.netns, async (nl) => t.is((await nl.links.get('eth0')).info?.macvlan?.mode, mode));
    await t.notThrowsAsync(n.plugin.check(withPrev(a.req, a.result)));
  });
}

test('passthru allows one device per master', async (t) => {
  const n = await node(t);
  await pod(t, n, config(n, { mode: 'passthru' }), 'a');
  const podNs = tempNetns(t, 'b');
  const before = await snapshot(podNs);
  await t.throwsAsync(n.plugin.add(request(config(n, { mode: 'passthru' }), podNs, 'ctr-b')));
  t.deepEqual(await snapshot(podNs), before);
  t.deepEqual(allocated(n).sort(), ['10.96.50.2', 'fd96:50::2']);
});

test('master defaults to the interface of the default route', async (t) => {
  const n = await node(t);
  const conf = config(n);
  delete conf.master;
  const a = await pod(t, n, conf, 'a');
  const masterIndex = await withNetlink(n.netns, async (nl) => (await nl.links.get('up0')).index);
  await withNetlink(a.netns, async (nl) => t.is((await nl.links.get('eth0')).parentIndex, masterIndex));
});

test('linkInContainer: the master is found and used inside the pod namespace', async (t) => {
  const n = await node(t);
  const podNs = tempNetns(t, 'p');
  await withNetlink(podNs, (nl) => nl.links.createVeth({ name: 'vf0', up: true, peer: { name: 'vf0-peer' } }));
  const req = request(config(n, { master: 'vf0', linkInContainer: true }), podNs, 'ctr-lic');
  const result = await n.plugin.add(req);
  await withNetlink(podNs, async (nl) => {
    const vf = await nl.links.get('vf0');
    t.is((await nl.links.get('eth0')).parentIndex, vf.index);
  });
  await n.plugin.del(withPrev(req, result));
  await withNetlink(podNs, async (nl) => t.is(await nl.links.find('eth0'), undefined));
});

async function failingAdd(t: ExecutionContext, n: Node, conf: NetConf, podNs: string, expected: RegExp): Promise<{ code?: number }> {
  const beforeNode = await snapshot(n.netns);
  const beforePod = await snapshot(podNs);
  const beforeStore = allocated(n).sort();
  const err = await t.throwsAsync(n.plugin.add(request(conf, podNs, 'ctr-fail')));
  t.regex(err?.message ?? '', expected);
  t.deepEqual(await snapshot(n.netns), beforeNode, 'node unchanged');
  t.deepEqual(await snapshot(podNs), beforePod, 'pod unchanged');
  t.deepEqual(allocated(n).sort(), beforeStore, 'no address kept');
  return err as { code?: number };
}

test('failed ADDs leave node, pod and store as they were', async (t) => {
  const n = await node(t);
  const podNs = tempNetns(t, 'p');
  t.is((await failingAdd(t, n, config(n, { mode: 'loud' }), podNs, /unknown macvlan mode/)).code, 7);
  t.is((await failingAdd(t, n, config(n, { master: 'nope0' }), podNs, /master interface nope0 not found/)).code, 7);
  t.is((await failingAdd(t, n, config(n, { mtu: 9000 }), podNs, /larger than the MTU 1500/)).code, 7);
  // IPAM exhaustion after the device exists: a /30 with its one address taken.
  const tiny = [[{ subnet: '10.96.51.0/30' }]];
  await pod(t, n, config(n, {}, tiny), 'first');
  await failingAdd(t, n, config(n, {}, tiny), podNs, /no IP addresses available/);
  // A name clash in the pod.
  await withNetlink(podNs, (nl) => nl.links.createVeth({ name: 'eth0', peer: { name: 'x0' } }));
  await failingAdd(t, n, config(n), podNs, /eth0 already exists/);
});

test('no master and no default route: a clear error', async (t) => {
  const n = await node(t);
  await withNetlink(n.netns, (nl) => nl.routes.delete({ dst: 'default', gateway: '192.0.2.1' }));
  const conf = config(n);
  delete conf.master;
  const err = await failingAdd(t, n, conf, tempNetns(t, 'p'), /no master given and no default route/);
  t.is(err.code, 7);
});

test('DEL is idempotent and always releases the allocation; CHECK names drift', async (t) => {
  const n = await node(t);
  const conf = config(n);
  await n.plugin.del(request(conf, tempNetns(t, 'never'), 'ctr-never'));
  const a = await pod(t, n, conf, 'a');
  await t.notThrowsAsync(n.plugin.check(withPrev(a.req, a.result)));
  await withNetlink(a.netns, (nl) => nl.addresses.delete('eth0', 'fd96:50::2/64'));
  t.like(await t.throwsAsync(n.plugin.check(withPrev(a.req, a.result))), { code: 100, message: 'interface eth0 lacks address fd96:50::2/64' });
  t.like(await t.throwsAsync(n.plugin.check(withPrev(a.req, a.result.interfaces ? { ...a.result, interfaces: [{ ...a.result.interfaces[0], mac: '02:00:00:00:00:01' }] } : a.result))), { code: 100 });
  await n.plugin.del(withPrev(a.req, a.result));
  await n.plugin.del(withPrev(a.req, a.result));
  t.deepEqual(allocated(n), []);
  const b = await pod(t, n, conf, 'b');
  deleteNamedNetns(b.netns);
  await n.plugin.del(withPrev(b.req, b.result));
  await n.plugin.del({ ...b.req, netns: '' });
  t.deepEqual(allocated(n), []);
});
