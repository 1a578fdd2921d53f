/**
 * weft-ipam and the reference host-local (/usr/lib/cni/host-local, run for real) sharing one
 * data directory: each continues where the other stopped, releases the other's allocations,
 * and their locks exclude each other. Both run as executables.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { type IpamPluginKind, runIpam, runIpamOk } from './ipam-exec';
import { tempDir } from '../helpers/tmp';

/** host-local 1.1.1 accepts configs up to 1.0.0; weft-ipam gets the same bytes. */
function config(plugin: IpamPluginKind, dataDir: string, ranges: object[][]) {
  return { cniVersion: '1.0.0', name: 'shared', type: plugin, ipam: { type: plugin, dataDir, ranges } };
}

function addressFiles(dataDir: string): Record<string, string> {
  const dir = path.join(dataDir, 'shared');
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip.'))
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]),
  );
}

async function add(plugin: IpamPluginKind, dataDir: string, ranges: object[][], containerId: string): Promise<string[]> {
  const { json } = await runIpamOk({ plugin, command: 'ADD', config: config(plugin, dataDir, ranges), containerId, ifName: 'eth0' });
  return ((json?.ips ?? []) as { address: string }[]).map((ip) => ip.address);
}

async function del(plugin: IpamPluginKind, dataDir: string, ranges: object[][], containerId: string): Promise<void> {
  await runIpamOk({ plugin, command: 'DEL', config: config(plugin, dataDir, ranges), containerId, ifName: 'eth0' });
}

const DUAL = [[{ subnet: '10.30.0.0/24' }], [{ subnet: 'fd00:30::/64' }]];

test('weft-ipam continues a host-local store and releases host-local\'s allocation', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  t.deepEqual(await add('host-local', dataDir, DUAL, 'h1'), ['10.30.0.2/24', 'fd00:30::2/64']);
  t.deepEqual(await add('host-local', dataDir, DUAL, 'h2'), ['10.30.0.3/24', 'fd00:30::3/64']);
  await del('host-local', dataDir, DUAL, 'h1');
  t.deepEqual(await add('weft-ipam', dataDir, DUAL, 'w1'), ['10.30.0.4/24', 'fd00:30::4/64'], 'after host-local\'s last reserved, not the released .2');
  await del('weft-ipam', dataDir, DUAL, 'h2');
  t.deepEqual(addressFiles(dataDir), { '10.30.0.4': 'w1\r\neth0', 'fd00:30::4': 'w1\r\neth0' });
});

test('host-local continues a weft-ipam store, releases and checks weft-ipam\'s allocation', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  t.deepEqual(await add('weft-ipam', dataDir, DUAL, 'w1'), ['10.30.0.2/24', 'fd00:30::2/64']);
  t.deepEqual(await add('weft-ipam', dataDir, DUAL, 'w2'), ['10.30.0.3/24', 'fd00:30::3/64']);
  t.deepEqual(await add('host-local', dataDir, DUAL, 'h1'), ['10.30.0.4/24', 'fd00:30::4/64']);
  const check = await runIpam({ plugin: 'host-local', command: 'CHECK', config: config('host-local', dataDir, DUAL), containerId: 'w2', ifName: 'eth0' });
  t.is(check.exitCode, 0, check.stdout);
  await del('host-local', dataDir, DUAL, 'w1');
  t.deepEqual(addressFiles(dataDir), {
    '10.30.0.3': 'w2\r\neth0',
    '10.30.0.4': 'h1\r\neth0',
    'fd00:30::3': 'w2\r\neth0',
    'fd00:30::4': 'h1\r\neth0',
  });
});

test('each plugin sees the other\'s addresses as taken: exhaustion and requested addresses', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const tiny = [[{ subnet: '10.31.0.0/29' }]]; // .2 to .6 usable
  for (const [i, plugin] of (['weft-ipam', 'host-local', 'weft-ipam', 'host-local', 'weft-ipam'] as const).entries()) {
    t.deepEqual(await add(plugin, dataDir, tiny, `c${i}`), [`10.31.0.${i + 2}/29`]);
  }
  const hostLocalFull = await runIpam({ plugin: 'host-local', command: 'ADD', config: config('host-local', dataDir, tiny), containerId: 'x', ifName: 'eth0' });
  t.regex(String(hostLocalFull.json?.msg), /no IP addresses available in range set: 10.31.0.1-10.31.0.6/);
  const weftFull = await runIpam({ plugin: 'weft-ipam', command: 'ADD', config: config('weft-ipam', dataDir, tiny), containerId: 'x', ifName: 'eth0' });
  t.is(weftFull.json?.code, 11);
  t.is(weftFull.json?.msg, 'failed to allocate for range 0: no IP addresses available in range set: 10.31.0.1-10.31.0.6');
  await del('host-local', dataDir, tiny, 'c0');
  const taken = await runIpam({ plugin: 'weft-ipam', command: 'ADD', config: config('weft-ipam', dataDir, tiny), containerId: 'y', ifName: 'eth0', args: { IP: '10.31.0.3' } });
  t.regex(String(taken.json?.msg), /requested IP address 10.31.0.3 is not available/);
  t.deepEqual(await add('host-local', dataDir, tiny, 'z'), ['10.31.0.2/29']);
});

test('host-local and weft-ipam started at once share the lock: distinct addresses, consistent store', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const ranges = [[{ subnet: '10.32.0.0/24' }]];
  const calls = Array.from({ length: 40 }, (_, i) => {
    const plugin: IpamPluginKind = i % 2 === 0 ? 'weft-ipam' : 'host-local';
    return add(plugin, dataDir, ranges, `${plugin}-${i}`).then((ips) => ({ id: `${plugin}-${i}`, ips }));
  });
  const results = await Promise.all(calls);
  const given = results.map((r) => r.ips[0].split('/')[0]);
  t.is(new Set(given).size, 40);
  t.deepEqual(addressFiles(dataDir), Object.fromEntries(results.map((r) => [r.ips[0].split('/')[0], `${r.id}\r\neth0`])));
});
