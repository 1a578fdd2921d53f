/**
 * The single executable (deploy/sea): built once for this file, then run as a runtime runs
 * plugins. weft-bridge through it needs both native addons (namespaces through weft_native,
 * netlink through the netlink package's binding), so a working attachment shows both were
 * extracted from the executable and loaded.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSea } from '../../deploy/sea/build';
import { runCni } from '../../lab/cni-exec';
import { ping } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-t-sea-'));
let seaBin = '';

test.before(async () => {
  seaBin = path.join(path.dirname(await buildSea()), 'bin');
});
test.after.always(() => fs.rmSync(work, { recursive: true, force: true }));

const env = () => ({ WEFT_SEA_CACHE: path.join(work, 'cache') });

test.serial('VERSION through a plugin link of the executable', async (t) => {
  const out = await runCni({ plugin: 'weft-bridge', command: 'VERSION', config: {}, cniPath: [seaBin], env: env() });
  t.is(out.exitCode, 0, out.stderr);
  t.deepEqual(out.json?.supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
});

test.serial('the plugin is chosen by the name of the link', async (t) => {
  const config = { cniVersion: '1.1.0', name: 'n', type: 'weft-ipam' };
  const out = await runCni({ plugin: 'weft-ipam', command: 'ADD', config, containerId: 'c', netns: '/x', ifName: 'eth0', cniPath: [seaBin], env: env() });
  // weft-ipam, not weft-bridge, answered: it wants an ipam section.
  t.like(out.json, { code: 7, msg: "IPAM config missing 'ipam' key" });
});

test.serial('weft-bridge from the executable attaches a pod; its addons are extracted to the cache', async (t) => {
  const node = tempNetns(t, 'node');
  const pod = tempNetns(t, 'pod');
  const config = { cniVersion: '1.1.0', name: 'seanet', type: 'weft-bridge', bridge: 'weft-sea0', isGateway: true, ipam: { type: 'weft-ipam', subnet: '10.82.0.0/24', dataDir: path.join(work, 'ipam') } };
  const call = { hostNetns: node, plugin: 'weft-bridge', config, containerId: 'sea-pod', netns: pod, ifName: 'eth0', cniPath: [seaBin], env: env() };
  const add = await runCni({ ...call, command: 'ADD' });
  t.is(add.exitCode, 0, add.stdout + add.stderr);
  t.like(add.json, { ips: [{ address: '10.82.0.2/24', gateway: '10.82.0.1', interface: 2 }] });
  t.true(await ping(pod, '10.82.0.1'));
  t.deepEqual(fs.readdirSync(path.join(work, 'cache')).map((f) => f.replace(/^[0-9a-f]+-/, '')).sort(), ['netlink.node', 'weft_native.node']);
  const del = await runCni({ ...call, command: 'DEL', config: { ...config, prevResult: add.json } });
  t.is(del.exitCode, 0, del.stdout);
  t.false(fs.existsSync(path.join(work, 'ipam', 'seanet', '10.82.0.2')));
});
