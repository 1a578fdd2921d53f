/**
 * The single executable (deploy/sea): built once for this file into a directory of its own (so a
 * benchmark using dist/sea is not disturbed), then run as a runtime runs plugins. weft-ipam needs
 * weft_native (flock) and weft-bridge also the netlink package's binding, so working calls show
 * which addons were extracted from the executable and loaded.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PLUGIN_NAMES } from '../../cni/registry';
import { buildSea } from '../../deploy/sea/build';
import { runCni } from '../../lab/cni-exec';
import { ping } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-t-sea-'));
const seaBin = path.join(work, 'sea', 'bin');
let exe = '';

test.before(async () => {
  exe = await buildSea({ outDir: path.join(work, 'sea') });
});
test.after.always(() => fs.rmSync(work, { recursive: true, force: true }));

/** A fresh addon cache directory for one test. */
function cacheEnv(label: string): { WEFT_SEA_CACHE: string } {
  return { WEFT_SEA_CACHE: path.join(work, `cache-${label}`) };
}

/** The addons a test's cache holds, without the build hash their names carry. */
function extractedAddons(dir: string): string[] {
  return fs.readdirSync(dir).map((f) => f.replace(/^[0-9a-f]+-/, '')).sort();
}

test.serial('every plugin link answers VERSION', async (t) => {
  t.deepEqual(fs.readdirSync(seaBin).sort(), [...PLUGIN_NAMES].sort());
  for (const plugin of PLUGIN_NAMES) {
    const out = await runCni({ plugin, command: 'VERSION', config: {}, cniPath: [seaBin], env: cacheEnv('version') });
    t.is(out.exitCode, 0, `${plugin}: ${out.stderr}`);
    t.deepEqual(out.json?.supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'], plugin);
  }
});

test.serial('the plugin is chosen by the name of the link', async (t) => {
  const config = { cniVersion: '1.1.0', name: 'n', type: 'weft-ipam' };
  const out = await runCni({ plugin: 'weft-ipam', command: 'ADD', config, containerId: 'c', netns: '/x', ifName: 'eth0', cniPath: [seaBin], env: cacheEnv('choose') });
  // weft-ipam, not weft-bridge, answered: it wants an ipam section.
  t.like(out.json, { code: 7, msg: "IPAM config missing 'ipam' key" });
});

test.serial('the about text carries the package version, not a file found near the executable', (t) => {
  const out = spawnSync(exe, [], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  t.is(out.status, 0);
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  t.true(out.stderr.startsWith(`CNI weft-cni plugin version ${pkg.version}\n`), out.stderr);
});

test.serial('weft-ipam ADD and DEL from the executable; only weft_native is extracted', async (t) => {
  const env = cacheEnv('ipam');
  const dataDir = path.join(work, 'ipam-store');
  const config = { cniVersion: '1.1.0', name: 'seaipam', type: 'weft-ipam', ipam: { type: 'weft-ipam', subnet: '10.83.0.0/24', dataDir } };
  // IPAM plugins touch no namespace: CNI_NETNS is only a string that must be present.
  const call = { plugin: 'weft-ipam', config, containerId: 'sea-ipam', netns: '/var/run/netns/weft-t-unused', ifName: 'eth0', cniPath: [seaBin], env };
  const add = await runCni({ ...call, command: 'ADD' });
  t.is(add.exitCode, 0, add.stdout + add.stderr);
  t.like(add.json, { ips: [{ address: '10.83.0.2/24', gateway: '10.83.0.1' }] });
  t.true(fs.existsSync(path.join(dataDir, 'seaipam', '10.83.0.2')));
  // The store's flock comes from weft_native; the netlink binding is never needed.
  t.deepEqual(extractedAddons(env.WEFT_SEA_CACHE), ['weft_native.node']);
  t.is(fs.statSync(env.WEFT_SEA_CACHE).mode & 0o777, 0o700);
  const del = await runCni({ ...call, command: 'DEL' });
  t.is(del.exitCode, 0, del.stdout + del.stderr);
  t.false(fs.existsSync(path.join(dataDir, 'seaipam', '10.83.0.2')));
});

test.serial('a cache directory others may write to is refused for one under TMPDIR', async (t) => {
  const open = path.join(work, 'open-cache');
  fs.mkdirSync(open);
  fs.chmodSync(open, 0o777);
  const tmp = path.join(work, 'tmpdir');
  fs.mkdirSync(tmp);
  const config = { cniVersion: '1.1.0', name: 'seaopen', type: 'weft-ipam', ipam: { type: 'weft-ipam', subnet: '10.84.0.0/24', dataDir: path.join(work, 'ipam-open') } };
  const call = { plugin: 'weft-ipam', config, containerId: 'sea-open', netns: '/var/run/netns/weft-t-unused', ifName: 'eth0', cniPath: [seaBin], env: { WEFT_SEA_CACHE: open, TMPDIR: tmp } };
  const add = await runCni({ ...call, command: 'ADD' });
  t.is(add.exitCode, 0, add.stdout + add.stderr);
  t.deepEqual(fs.readdirSync(open), []);
  t.deepEqual(extractedAddons(path.join(tmp, `weft-sea-${process.getuid?.() ?? 0}`)), ['weft_native.node']);
  t.is((await runCni({ ...call, command: 'DEL' })).exitCode, 0);
});

test.serial('weft-bridge from the executable attaches a pod; both addons are extracted', async (t) => {
  const node = tempNetns(t, 'node');
  const pod = tempNetns(t, 'pod');
  const env = cacheEnv('bridge');
  const config = { cniVersion: '1.1.0', name: 'seanet', type: 'weft-bridge', bridge: 'weft-sea0', isGateway: true, ipam: { type: 'weft-ipam', subnet: '10.82.0.0/24', dataDir: path.join(work, 'ipam') } };
  const call = { hostNetns: node, plugin: 'weft-bridge', config, containerId: 'sea-pod', netns: pod, ifName: 'eth0', cniPath: [seaBin], env };
  const add = await runCni({ ...call, command: 'ADD' });
  t.is(add.exitCode, 0, add.stdout + add.stderr);
  t.like(add.json, { ips: [{ address: '10.82.0.2/24', gateway: '10.82.0.1', interface: 2 }] });
  t.true(await ping(pod, '10.82.0.1'));
  t.deepEqual(extractedAddons(env.WEFT_SEA_CACHE), ['netlink.node', 'weft_native.node']);
  const del = await runCni({ ...call, command: 'DEL', config: { ...config, prevResult: add.json } });
  t.is(del.exitCode, 0, del.stdout);
  t.false(fs.existsSync(path.join(work, 'ipam', 'seanet', '10.82.0.2')));
});

