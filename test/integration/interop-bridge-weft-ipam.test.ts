/**
 * weft-ipam used by Debian's reference `bridge` plugin, executed as a runtime executes plugins:
 * pods attached through it reach each other for real, and DEL / GC release what ADD took.
 */
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { runCni, runCniOk } from '../../lab/cni-exec';
import { ping, startTcpServer, tcpProbe } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';

/** Addresses currently allocated in a host-local style data directory. */
function allocated(dataDir: string, network: string): string[] {
  const dir = path.join(dataDir, network);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => net.isIP(f) !== 0).sort();
}

function bridgeConfig(name: string, dataDir: string, ranges: object[][]) {
  return {
    cniVersion: '1.0.0',
    name,
    type: 'bridge',
    bridge: 'br-weft-t',
    isGateway: true,
    ipam: { type: 'weft-ipam', dataDir, ranges },
  };
}

async function attach(t: Parameters<typeof tempNetns>[0], node: string, config: object, label: string) {
  const netns = tempNetns(t, label);
  const containerId = `ctr-${label}-${path.basename(netns)}`;
  const { json } = await runCniOk({ hostNetns: node, plugin: 'bridge', command: 'ADD', config, containerId, netns, ifName: 'eth0' });
  const ips = ((json?.ips ?? []) as { address: string }[]).map((ip) => ip.address.split('/')[0]);
  return { netns, containerId, ips };
}

test('reference bridge + weft-ipam: two pods reach each other over IPv4', async (t) => {
  const node = tempNetns(t, 'node');
  const dataDir = tempDir(t, 'ipam');
  const config = bridgeConfig('v4net', dataDir, [[{ subnet: '10.244.7.0/24' }]]);
  const a = await attach(t, node, config, 'a');
  const b = await attach(t, node, config, 'b');
  t.deepEqual(a.ips, ['10.244.7.2']);
  t.deepEqual(b.ips, ['10.244.7.3']);
  t.true(await ping(a.netns, b.ips[0]));
  const server = await startTcpServer(b.netns, 8080, 'b');
  t.teardown(() => server.stop());
  const probe = await tcpProbe(a.netns, b.ips[0], 8080);
  t.deepEqual(probe, { ok: true, detail: 'weft b' });
  t.deepEqual(allocated(dataDir, 'v4net'), ['10.244.7.2', '10.244.7.3']);
});

test('reference bridge + weft-ipam: dual-stack pods reach each other over IPv4 and IPv6', async (t) => {
  const node = tempNetns(t, 'node');
  const dataDir = tempDir(t, 'ipam');
  const config = bridgeConfig('dual', dataDir, [[{ subnet: '10.244.8.0/24' }], [{ subnet: 'fd00:10:244:8::/64' }]]);
  const a = await attach(t, node, config, 'a');
  const b = await attach(t, node, config, 'b');
  t.is(a.ips.length, 2);
  t.is(b.ips[1], 'fd00:10:244:8::3');
  for (const address of b.ips) t.true(await ping(a.netns, address), `ping ${address}`);
});

test('DEL through the reference bridge releases the weft-ipam allocation, twice is fine', async (t) => {
  const node = tempNetns(t, 'node');
  const dataDir = tempDir(t, 'ipam');
  const config = bridgeConfig('delnet', dataDir, [[{ subnet: '10.244.9.0/24' }]]);
  const a = await attach(t, node, config, 'a');
  t.deepEqual(allocated(dataDir, 'delnet'), ['10.244.9.2']);
  const del = { hostNetns: node, plugin: 'bridge', command: 'DEL' as const, config, containerId: a.containerId, netns: a.netns, ifName: 'eth0' };
  await runCniOk(del);
  t.deepEqual(allocated(dataDir, 'delnet'), []);
  await runCniOk(del);
});

test('GC through the weft-ipam executable releases allocations of attachments that are gone', async (t) => {
  const node = tempNetns(t, 'node');
  const dataDir = tempDir(t, 'ipam');
  const ipam = { type: 'weft-ipam', dataDir, ranges: [[{ subnet: '10.244.10.0/24' }]] };
  const config = { cniVersion: '1.1.0', name: 'gcnet', type: 'weft-ipam', ipam };
  for (const id of ['keep', 'gone1', 'gone2']) {
    await runCniOk({ hostNetns: node, plugin: 'weft-ipam', command: 'ADD', config, containerId: id, netns: node, ifName: 'eth0' });
  }
  t.is(allocated(dataDir, 'gcnet').length, 3);
  const gc = await runCni({
    hostNetns: node,
    plugin: 'weft-ipam',
    command: 'GC',
    config: { ...config, 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] },
  });
  t.is(gc.exitCode, 0, gc.stdout);
  t.deepEqual(allocated(dataDir, 'gcnet'), ['10.244.10.2']);
  t.is(fs.readFileSync(path.join(dataDir, 'gcnet', '10.244.10.2'), 'utf8').split(/\r?\n/)[0], 'keep');
});

test('an exhausted pool through the reference bridge fails cleanly with weft-ipam\'s error', async (t) => {
  const node = tempNetns(t, 'node');
  const dataDir = tempDir(t, 'ipam');
  // /30: .1 is the gateway, .2 the only usable address.
  const config = bridgeConfig('tiny', dataDir, [[{ subnet: '10.244.11.0/30' }]]);
  await attach(t, node, config, 'a');
  const netns = tempNetns(t, 'b');
  const out = await runCni({ hostNetns: node, plugin: 'bridge', command: 'ADD', config, containerId: 'b', netns, ifName: 'eth0' });
  t.is(out.exitCode, 1);
  t.regex(String(out.json?.msg), /no IP addresses available/);
  t.deepEqual(allocated(dataDir, 'tiny'), ['10.244.11.2']);
});
