/**
 * weft-ipam as separate processes (dist/bin/weft-ipam): many ADDs at once, and a process
 * killed in the middle of an ADD.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { CRASH_ENV } from '../../ipam/crash-hook';
import { runIpam, runIpamOk } from './ipam-exec';
import { tempDir } from '../helpers/tmp';

function config(dataDir: string, ranges: object[][], extra: object = {}) {
  return { cniVersion: '1.1.0', name: 'busy', type: 'weft-ipam', ipam: { type: 'weft-ipam', dataDir, ranges }, ...extra };
}

function addressFiles(dataDir: string): Record<string, string> {
  const dir = path.join(dataDir, 'busy');
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip.'))
      .map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]),
  );
}

test('100 ADD processes started at once get 100 distinct addresses and leave a consistent store', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const conf = config(dataDir, [[{ subnet: '10.40.0.0/24' }], [{ subnet: 'fd00:40::/64' }]]);
  const results = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const { json } = await runIpamOk({ plugin: 'weft-ipam', command: 'ADD', config: conf, containerId: `ctr-${i}`, ifName: 'eth0' });
      return { id: `ctr-${i}`, ips: ((json?.ips ?? []) as { address: string }[]).map((ip) => ip.address.split('/')[0]) };
    }),
  );
  const v4 = results.map((r) => r.ips[0]);
  const v6 = results.map((r) => r.ips[1]);
  t.is(new Set(v4).size, 100);
  t.is(new Set(v6).size, 100);
  // Exactly the handed-out addresses are on disk, each naming its own container.
  const expected: Record<string, string> = {};
  for (const r of results) for (const address of r.ips) expected[address] = `${r.id}\r\neth0`;
  t.deepEqual(addressFiles(dataDir), expected);
  // Nothing was skipped: the first 100 addresses after the gateway.
  t.deepEqual([...v4].sort((a, b) => Number(a.split('.')[3]) - Number(b.split('.')[3])), Array.from({ length: 100 }, (_, i) => `10.40.0.${i + 2}`));
});

test('a process killed in the middle of an ADD leaves no lock held and only an allocation GC removes', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const conf = config(dataDir, [[{ subnet: '10.41.0.0/24' }], [{ subnet: 'fd00:41::/64' }]]);
  await runIpamOk({ plugin: 'weft-ipam', command: 'ADD', config: conf, containerId: 'alive', ifName: 'eth0' });

  const killed = await runIpam({ plugin: 'weft-ipam', command: 'ADD', config: conf, containerId: 'doomed', ifName: 'eth0', env: { [CRASH_ENV]: 'reserve' } });
  t.is(killed.signal, 'SIGKILL');
  t.is(killed.stdout, '');
  t.deepEqual(addressFiles(dataDir), { '10.41.0.2': 'alive\r\neth0', 'fd00:41::2': 'alive\r\neth0', '10.41.0.3': 'doomed\r\neth0' });

  // The dead process's lock is gone: another ADD goes through, and skips the leaked address.
  const next = await runIpamOk({ plugin: 'weft-ipam', command: 'ADD', config: conf, containerId: 'next', ifName: 'eth0' });
  t.deepEqual((next.json?.ips as { address: string }[]).map((ip) => ip.address), ['10.41.0.4/24', 'fd00:41::3/64']);

  const valid = [
    { containerID: 'alive', ifname: 'eth0' },
    { containerID: 'next', ifname: 'eth0' },
  ];
  await runIpamOk({ plugin: 'weft-ipam', command: 'GC', config: { ...conf, 'cni.dev/valid-attachments': valid } });
  t.deepEqual(addressFiles(dataDir), {
    '10.41.0.2': 'alive\r\neth0',
    'fd00:41::2': 'alive\r\neth0',
    '10.41.0.4': 'next\r\neth0',
    'fd00:41::3': 'next\r\neth0',
  });
});
