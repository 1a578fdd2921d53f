/**
 * weft-ipam called in-process (ipamPlugin and the library API) against real files in a
 * temporary data directory: results, on-disk layout, idempotency, release, GC, errors.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { AttachmentRequest } from '../../cni/plugin';
import { CniError, ErrorCode, type NetConf } from '../../cni/types';
import { native } from '../../kernel/native';
import { ALLOCATION_MISMATCH, allocate, gc, ipamPlugin, parseIpamConfig, release } from '../../ipam';
import { tempDir } from '../helpers/tmp';

function netConf(dataDir: string, ipam: Record<string, unknown>, extra: Partial<NetConf> = {}): NetConf {
  return { cniVersion: '1.1.0', name: 'net1', type: 'bridge', ipam: { type: 'weft-ipam', dataDir, ...ipam }, ...extra };
}

function request(config: NetConf, containerId: string, ifName = 'eth0', args: Record<string, string> = {}): AttachmentRequest {
  return {
    containerId,
    netns: '/var/run/netns/unused',
    ifName,
    args: new Map(Object.entries(args)),
    path: ['/usr/lib/cni'],
    config,
    rawConfig: Buffer.from(JSON.stringify(config)),
  };
}

/** Every file of the network's store with its content. */
function storeFiles(dataDir: string, network = 'net1'): Record<string, string> {
  const dir = path.join(dataDir, network);
  if (!fs.existsSync(dir)) return {};
  return Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
}

/** The address files only (name -> owner). */
function addressFiles(dataDir: string, network = 'net1'): Record<string, string> {
  return Object.fromEntries(Object.entries(storeFiles(dataDir, network)).filter(([f]) => f !== 'lock' && !f.startsWith('last_reserved_ip.')));
}

async function addresses(config: NetConf, containerId: string, ifName = 'eth0', args: Record<string, string> = {}): Promise<string[]> {
  const result = await ipamPlugin.add(request(config, containerId, ifName, args));
  return (result.ips ?? []).map((ip) => ip.address);
}

async function rejects(t: ExecutionContext, promise: Promise<unknown>, code: number, message: string | RegExp): Promise<void> {
  const err = (await t.throwsAsync(promise, { instanceOf: CniError })) as CniError;
  t.is(err.code, code, err.message);
  if (typeof message === 'string') t.is(err.message, message);
  else t.regex(err.message, message);
}

const V4 = [{ subnet: '10.244.1.0/24' }];
const V6 = [{ subnet: 'fd00:10:244:1::/64' }];

test('dual-stack ADD: a 1.1.0 result without interfaces, host-local\'s files on disk', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [V4, V6], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] });
  const result = await ipamPlugin.add(request(config, 'ctr1'));
  t.deepEqual(result, {
    cniVersion: '1.1.0',
    ips: [
      { address: '10.244.1.2/24', gateway: '10.244.1.1' },
      { address: 'fd00:10:244:1::2/64', gateway: 'fd00:10:244:1::1' },
    ],
    routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
  });
  t.deepEqual(storeFiles(dataDir), {
    '10.244.1.2': 'ctr1\r\neth0',
    'fd00:10:244:1::2': 'ctr1\r\neth0',
    'last_reserved_ip.0': '10.244.1.2',
    'last_reserved_ip.1': 'fd00:10:244:1::2',
    lock: '',
  });
});

test('IPv6-only ADD; no routes and no dns keys when none are configured', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const result = await ipamPlugin.add(request(netConf(dataDir, { ranges: [[{ subnet: 'fd00:1::/120', rangeStart: 'fd00:1::80' }]] }), 'c'));
  t.deepEqual(result, { cniVersion: '1.1.0', ips: [{ address: 'fd00:1::80/120', gateway: 'fd00:1::1' }] });
});

test('the legacy single-range keys allocate like ranges', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { subnet: '10.9.0.0/24', rangeStart: '10.9.0.100', gateway: '10.9.0.254' });
  const result = await ipamPlugin.add(request(config, 'c'));
  t.deepEqual(result.ips, [{ address: '10.9.0.100/24', gateway: '10.9.0.254' }]);
});

test('ADD is idempotent per containerID+ifname; another ifname gets another address', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [V4, V6] });
  const first = await addresses(config, 'ctr1');
  t.deepEqual(await addresses(config, 'ctr1'), first);
  t.deepEqual(await addresses(config, 'ctr1', 'eth1'), ['10.244.1.3/24', 'fd00:10:244:1::3/64']);
  t.deepEqual(addressFiles(dataDir), {
    '10.244.1.2': 'ctr1\r\neth0',
    '10.244.1.3': 'ctr1\r\neth1',
    'fd00:10:244:1::2': 'ctr1\r\neth0',
    'fd00:10:244:1::3': 'ctr1\r\neth1',
  });
});

test('a repeated ADD completes a partial allocation (a range set added to the config)', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  await addresses(netConf(dataDir, { ranges: [V4] }), 'ctr1');
  t.deepEqual(await addresses(netConf(dataDir, { ranges: [V4, V6] }), 'ctr1'), ['10.244.1.2/24', 'fd00:10:244:1::2/64']);
});

test('DEL releases only its attachment; DEL twice and DEL of an unknown container succeed', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [V4, V6] });
  await addresses(config, 'a');
  await addresses(config, 'b');
  await ipamPlugin.del(request(config, 'a'));
  t.deepEqual(addressFiles(dataDir), { '10.244.1.3': 'b\r\neth0', 'fd00:10:244:1::3': 'b\r\neth0' });
  await ipamPlugin.del(request(config, 'a'));
  await ipamPlugin.del(request(config, 'never-added'));
  await ipamPlugin.del(request(config, 'b', 'eth1'));
  t.deepEqual(Object.keys(addressFiles(dataDir)), ['10.244.1.3', 'fd00:10:244:1::3']);
});

test('DEL with a data directory that does not exist succeeds and creates nothing', async (t) => {
  const dataDir = path.join(tempDir(t, 'ipam'), 'missing');
  await ipamPlugin.del(request(netConf(dataDir, { ranges: [V4] }), 'a'));
  t.false(fs.existsSync(dataDir));
});

test('DEL releases a file written by old host-local (container ID only) when nothing matches exactly', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [V4] });
  await addresses(config, 'other');
  fs.writeFileSync(path.join(dataDir, 'net1', '10.244.1.77'), 'old\n');
  await ipamPlugin.del(request(config, 'old'));
  t.deepEqual(Object.keys(addressFiles(dataDir)), ['10.244.1.2']);
});

test('round-robin: a released address is not reused until the range has been walked', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [[{ subnet: '10.0.0.0/29' }]] });
  t.deepEqual(await addresses(config, 'a'), ['10.0.0.2/29']);
  t.deepEqual(await addresses(config, 'b'), ['10.0.0.3/29']);
  await ipamPlugin.del(request(config, 'a'));
  t.deepEqual(await addresses(config, 'c'), ['10.0.0.4/29']);
  t.deepEqual(await addresses(config, 'd'), ['10.0.0.5/29']);
  t.deepEqual(await addresses(config, 'e'), ['10.0.0.6/29']);
  t.deepEqual(await addresses(config, 'f'), ['10.0.0.2/29'], 'wraps around to the released address');
});

test('allocation continues after a last_reserved_ip written by someone else', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  fs.mkdirSync(path.join(dataDir, 'net1'));
  fs.writeFileSync(path.join(dataDir, 'net1', 'last_reserved_ip.0'), '10.244.1.41');
  fs.writeFileSync(path.join(dataDir, 'net1', 'last_reserved_ip.1'), 'garbage');
  t.deepEqual(await addresses(netConf(dataDir, { ranges: [V4, V6] }), 'a'), ['10.244.1.42/24', 'fd00:10:244:1::2/64']);
});

test('an exhausted range set fails with code 11 and host-local\'s message', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [[{ subnet: '10.0.0.0/30' }]] });
  t.deepEqual(await addresses(config, 'a'), ['10.0.0.2/30']);
  await rejects(t, ipamPlugin.add(request(config, 'b')), ErrorCode.TryAgainLater, 'failed to allocate for range 0: no IP addresses available in range set: 10.0.0.1-10.0.0.2');
  t.deepEqual(addressFiles(dataDir), { '10.0.0.2': 'a\r\neth0' });
});

test('a failed dual-stack ADD releases the address it already took from the other range set', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [V6, [{ subnet: '10.0.0.0/30' }]] });
  await addresses(config, 'a');
  await rejects(t, ipamPlugin.add(request(config, 'b')), ErrorCode.TryAgainLater, /range 1: no IP addresses available/);
  t.deepEqual(Object.values(addressFiles(dataDir)), ['a\r\neth0', 'a\r\neth0']);
});

test('requested addresses through runtimeConfig.ips, CNI_ARGS IP= and args.cni.ips', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const base = netConf(dataDir, { ranges: [V4, V6] });
  const withIps = (ips: string[]) => ({ ...base, runtimeConfig: { ips } });
  t.deepEqual(await addresses(withIps(['10.244.1.50', 'fd00:10:244:1::50/64']), 'a'), ['10.244.1.50/24', 'fd00:10:244:1::50/64']);
  t.deepEqual(await addresses(base, 'b', 'eth0', { IP: '10.244.1.60,fd00:10:244:1::60' }), ['10.244.1.60/24', 'fd00:10:244:1::60/64']);
  t.deepEqual(await addresses({ ...base, args: { cni: { ips: ['10.244.1.70'] } } }, 'c'), ['10.244.1.70/24', 'fd00:10:244:1::61/64']);
  t.deepEqual(await addresses(withIps(['10.244.1.50']), 'a'), ['10.244.1.50/24', 'fd00:10:244:1::50/64'], 'a repeated ADD with the same request');
});

test('requested addresses that cannot be served fail and leave nothing behind', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const base = netConf(dataDir, { ranges: [V4, V6] });
  const withIps = (ips: string[]) => ({ ...base, runtimeConfig: { ips } });
  await addresses(withIps(['10.244.1.50']), 'holder');
  const before = addressFiles(dataDir);
  await rejects(
    t,
    ipamPlugin.add(request(withIps(['fd00:10:244:1::9', '10.244.1.50']), 'x')),
    ErrorCode.TryAgainLater,
    'failed to allocate for range 0: requested IP address 10.244.1.50 is not available in range set 10.244.1.1-10.244.1.254',
  );
  await rejects(t, ipamPlugin.add(request(withIps(['10.244.1.1']), 'x')), ErrorCode.InvalidNetworkConfig, "failed to allocate for range 0: requested ip 10.244.1.1 is subnet's gateway");
  await rejects(t, ipamPlugin.add(request(withIps(['192.168.0.1']), 'x')), ErrorCode.InvalidNetworkConfig, 'failed to allocate all requested IPs: 192.168.0.1');
  await rejects(t, ipamPlugin.add(request(withIps(['10.244.1.5', '10.244.1.6']), 'x')), ErrorCode.InvalidNetworkConfig, 'failed to allocate all requested IPs: 10.244.1.6');
  await rejects(t, ipamPlugin.add(request(withIps(['10.244.1.51']), 'holder')), ErrorCode.InvalidNetworkConfig, /holder\/eth0 already holds 10.244.1.50, not the requested 10.244.1.51/);
  await rejects(t, ipamPlugin.add(request(base, 'x', 'eth0', { IP: 'nope' })), ErrorCode.InvalidEnvironment, /nope/);
  t.deepEqual(addressFiles(dataDir), before);
});

test('CHECK: passes while the allocation exists and matches prevResult, code 100 otherwise', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [V4, V6] });
  const result = await ipamPlugin.add(request(config, 'a'));
  await t.notThrowsAsync(ipamPlugin.check(request({ ...config, prevResult: result }, 'a')));
  const wrong = { ...result, ips: [{ address: '10.244.1.99/24' }] };
  await rejects(t, ipamPlugin.check(request({ ...config, prevResult: wrong }, 'a')), ALLOCATION_MISMATCH, 'weft-ipam: 10.244.1.99/24 is not allocated to a/eth0');
  await rejects(t, ipamPlugin.check(request(config, 'a', 'eth1')), ALLOCATION_MISMATCH, /no address of range set 0 \(10.244.1.1-10.244.1.254\) is allocated to a\/eth1/);
  await ipamPlugin.del(request(config, 'a'));
  await rejects(t, ipamPlugin.check(request(config, 'a')), ALLOCATION_MISMATCH, /range set 0/);
});

test('GC releases every address whose attachment is not valid, including ownerless files', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [V4] });
  await addresses(config, 'keep');
  await addresses(config, 'keep', 'eth1');
  await addresses(config, 'gone');
  const dir = path.join(dataDir, 'net1');
  fs.writeFileSync(path.join(dir, '10.244.1.100'), ''); // a writer killed between create and write
  fs.writeFileSync(path.join(dir, '10.244.1.101'), 'keep'); // old host-local: container ID only
  fs.writeFileSync(path.join(dir, '10.244.1.102'), 'gone');
  const gcRequest = { path: [], config, rawConfig: Buffer.from('{}'), validAttachments: [{ containerID: 'keep', ifname: 'eth0' }] };
  await ipamPlugin.gc?.(gcRequest);
  t.deepEqual(addressFiles(dataDir), { '10.244.1.101': 'keep', '10.244.1.2': 'keep\r\neth0' });
  t.true(fs.existsSync(path.join(dir, 'lock')) && fs.existsSync(path.join(dir, 'last_reserved_ip.0')), 'bookkeeping files stay');
});

test('GC with a missing data directory succeeds', async (t) => {
  const dataDir = path.join(tempDir(t, 'ipam'), 'missing');
  const config = netConf(dataDir, { ranges: [V4] });
  await t.notThrowsAsync(ipamPlugin.gc?.({ path: [], config, rawConfig: Buffer.from('{}'), validAttachments: [] }) ?? Promise.resolve());
  t.false(fs.existsSync(dataDir));
});

test('STATUS: ready with a writable store, code 50 when the data directory cannot exist', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const status = (config: NetConf) => ipamPlugin.status?.({ path: [], config, rawConfig: Buffer.from('{}') }) ?? Promise.resolve();
  await t.notThrowsAsync(status(netConf(path.join(dataDir, 'fresh'), { ranges: [V4] })));
  fs.writeFileSync(path.join(dataDir, 'a-file'), '');
  await rejects(t, status(netConf(path.join(dataDir, 'a-file'), { ranges: [V4] })), ErrorCode.PluginNotAvailable, /IPAM store is not usable: .*a-file/);
  await rejects(t, status(netConf(dataDir, {})), ErrorCode.InvalidNetworkConfig, 'no IP ranges specified');
});

test('STATUS stays ready when a range set is exhausted (exhaustion fails ADDs only)', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [[{ subnet: '10.0.0.0/30' }]] });
  await addresses(config, 'a');
  await t.notThrowsAsync(ipamPlugin.status?.({ path: [], config, rawConfig: Buffer.from('{}') }) ?? Promise.resolve());
});

test('resolvConf becomes the result dns; an unreadable one is code 5 and allocates nothing', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const resolvConf = path.join(dataDir, 'resolv.conf');
  fs.writeFileSync(resolvConf, 'nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5\n');
  const result = await ipamPlugin.add(request(netConf(dataDir, { ranges: [V4], resolvConf }), 'a'));
  t.deepEqual(result.dns, { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] });
  await rejects(t, ipamPlugin.add(request(netConf(dataDir, { ranges: [V4], resolvConf: `${resolvConf}.missing` }), 'b')), ErrorCode.IOFailure, /cannot read resolvConf/);
  t.deepEqual(Object.keys(addressFiles(dataDir)), ['10.244.1.2']);
});

test('invalid configuration is code 7 on every verb', async (t) => {
  const dataDir = tempDir(t, 'ipam');
  const config = netConf(dataDir, { ranges: [[{ subnet: '10.0.0.0/33' }]] });
  for (const verb of ['add', 'del', 'check'] as const) {
    await rejects(t, ipamPlugin[verb](request(config, 'a')), ErrorCode.InvalidNetworkConfig, 'invalid range set 0: invalid CIDR address: 10.0.0.0/33');
  }
});

test('library API: allocate, release and gc in-process', (t) => {
  const dataDir = tempDir(t, 'ipam');
  const conf = parseIpamConfig(netConf(dataDir, { ranges: [V4, V6], routes: [{ dst: '0.0.0.0/0' }] }));
  const a = allocate(conf, 'a', 'eth0');
  t.deepEqual(a, {
    ips: [
      { address: '10.244.1.2/24', gateway: '10.244.1.1' },
      { address: 'fd00:10:244:1::2/64', gateway: 'fd00:10:244:1::1' },
    ],
    routes: [{ dst: '0.0.0.0/0' }],
  });
  allocate(conf, 'b', 'eth0');
  t.deepEqual(release(conf, 'a', 'eth0'), ['10.244.1.2', 'fd00:10:244:1::2']);
  t.deepEqual(release(conf, 'a', 'eth0'), []);
  t.deepEqual(gc(conf, []), ['10.244.1.3', 'fd00:10:244:1::3']);
  t.deepEqual(addressFiles(dataDir), {});
});

test('a lock held elsewhere makes ADD give up with code 11 after the timeout; then it succeeds', (t) => {
  const dataDir = tempDir(t, 'ipam');
  const conf = parseIpamConfig(netConf(dataDir, { ranges: [V4] }));
  allocate(conf, 'first', 'eth0');
  // A second open file description conflicts with flock even inside one process.
  const fd = fs.openSync(path.join(dataDir, 'net1', 'lock'), 'r');
  t.teardown(() => fs.closeSync(fd));
  t.true(native().flock(fd, true, true));
  const err = t.throws(() => allocate(conf, 'second', 'eth0', [], { lockTimeoutMs: 30 }), { instanceOf: CniError }) as CniError;
  t.is(err.code, ErrorCode.TryAgainLater);
  t.regex(err.message, /stayed locked for 30 ms/);
  native().funlock(fd);
  t.deepEqual(allocate(conf, 'second', 'eth0', [], { lockTimeoutMs: 30 }).ips, [{ address: '10.244.1.3/24', gateway: '10.244.1.1' }]);
});
