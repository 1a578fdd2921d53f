import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRtNetlink } from 'netlink';
import { NetnsError, inNetns, netnsId } from '../../kernel/netns';
import {
  NetlinkClosedError,
  NetlinkError,
  type NetlinkHandle,
  decodeLinkInfo,
  encodeLinkInfo,
  openNetlink,
  withNetlink,
} from '../../kernel/netlink';
import { tempNetns } from '../helpers/netns';

/** A handle on the namespace, closed when the test ends. */
async function handleIn(t: ExecutionContext, ns: string): Promise<NetlinkHandle> {
  const nl = await openNetlink(ns);
  t.teardown(() => nl.close());
  return nl;
}

const names = async (nl: NetlinkHandle) => (await nl.links.list()).map((l) => l.name).sort();

/** IFLA_LINKINFO exactly as the kernel dumps it, read with the package alone. */
async function rawLinkInfo(ns: string, name: string): Promise<Buffer> {
  const sock = inNetns(ns, () => createRtNetlink());
  try {
    const [msg] = await sock.getLink({}, { ifname: name });
    if (!msg.attrs.linkinfo) throw new Error(`${name} has no IFLA_LINKINFO`);
    return msg.attrs.linkinfo;
  } finally {
    sock.socket.close();
  }
}

test('a veth pair spans two namespaces; both ends read back with name, MTU, MAC and peer', async (t) => {
  const a = tempNetns(t, 'veth-a');
  const b = tempNetns(t, 'veth-b');
  const na = await handleIn(t, a);
  const nb = await handleIn(t, b);

  const host = await na.links.createVeth({
    name: 'veth-host',
    mtu: 1400,
    mac: '02:00:00:00:aa:01',
    peer: { name: 'eth0', mac: '02:00:00:00:bb:01', netns: b },
  });
  const pod = await nb.links.get('eth0');

  t.like(host, { name: 'veth-host', mtu: 1400, mac: '02:00:00:00:aa:01', kind: 'veth', up: false });
  t.like(pod, { name: 'eth0', mtu: 1400, mac: '02:00:00:00:bb:01', kind: 'veth' });
  t.is(host.peerIndex, pod.index);
  t.is(pod.peerIndex, host.index);
  t.not(host.parentNetnsId, undefined, 'the peer is in another namespace');
  t.deepEqual(await names(na), ['lo', 'veth-host']);
  t.deepEqual(await names(nb), ['eth0', 'lo']);
  t.deepEqual(await na.links.get(host.index), host, 'by index as by name');
});

test('a bridge takes a port; hairpin and learning are set through IFLA_PROTINFO and read back', async (t) => {
  const ns = tempNetns(t, 'bridge');
  const nl = await handleIn(t, ns);
  const br = await nl.links.createBridge({ name: 'cni0', mtu: 1450, mac: '02:00:00:00:00:0b', vlanFiltering: false });
  t.like(br, { name: 'cni0', kind: 'bridge', mtu: 1450, mac: '02:00:00:00:00:0b' });
  t.is(br.info?.bridge?.vlanFiltering, false);

  await nl.links.createVeth({ name: 'vport', peer: { name: 'vpeer' } });
  await nl.links.setMaster('vport', 'cni0');
  const before = await nl.links.get('vport');
  t.is(before.masterIndex, br.index);
  t.is(before.info?.slaveKind, 'bridge');
  t.like(before.info?.bridgePort, { hairpin: false, learning: true });

  await nl.links.setBridgePort('vport', { hairpin: true, learning: false });
  t.like((await nl.links.get('vport')).info?.bridgePort, { hairpin: true, learning: false });
  await nl.links.setBridgePort('vport', { hairpin: false });
  t.like((await nl.links.get('vport')).info?.bridgePort, { hairpin: false, learning: false });

  await nl.links.releaseMaster('vport');
  const released = await nl.links.get('vport');
  t.is(released.masterIndex, undefined);
  t.is(released.info?.bridgePort, undefined);
  const notAPort = await t.throwsAsync(nl.links.setBridgePort('vport', { hairpin: true }), { instanceOf: NetlinkError });
  t.is(notAPort?.code, 'EOPNOTSUPP');
});

test('a vxlan device reads back its VNI, port, local address, underlay device and settings', async (t) => {
  const ns = tempNetns(t, 'vxlan');
  const nl = await handleIn(t, ns);
  const underlay = await nl.links.createVeth({ name: 'uplink', peer: { name: 'uplink-p' } });
  const vx = await nl.links.createVxlan({
    name: 'weft.1',
    vni: 4097,
    local: '192.0.2.10',
    port: 4789,
    dev: 'uplink',
    learning: false,
    ttl: 64,
    udpCsum: false,
    mtu: 1450,
  });
  t.like(vx, { name: 'weft.1', kind: 'vxlan', mtu: 1450 });
  t.like(vx.info?.vxlan, { id: 4097, port: 4789, local: '192.0.2.10', link: underlay.index, learning: false, ttl: 64, udpCsum: false });

  const vx6 = await nl.links.createVxlan({ name: 'weft6', vni: 7, local: 'fd00::10', port: 4790, udpZeroCsum6Tx: true });
  t.like(vx6.info?.vxlan, { id: 7, local6: 'fd00::10', port: 4790, udpZeroCsum6Tx: true, learning: true });
  t.is(vx6.info?.vxlan?.local, undefined);
});

test('a macvlan made on a veth in one namespace lands in another with its mode and MTU', async (t) => {
  const a = tempNetns(t, 'mv-a');
  const b = tempNetns(t, 'mv-b');
  const na = await handleIn(t, a);
  const nb = await handleIn(t, b);
  await na.links.createVeth({ name: 'parent', mtu: 1500, peer: { name: 'parent-p' } });

  const created = await na.links.createMacvlan({ name: 'mv0', master: 'parent', mode: 'bridge', mtu: 1400, netns: b });
  t.is(created, undefined, 'it is not visible from the namespace it was made in');
  t.deepEqual(await names(na), ['lo', 'parent', 'parent-p']);
  const mv = await nb.links.get('mv0');
  t.like(mv, { kind: 'macvlan', mtu: 1400 });
  t.is(mv.info?.macvlan?.mode, 'bridge');

  // The kernel's own bytes for it decode and encode back unchanged.
  const raw = await rawLinkInfo(b, 'mv0');
  t.deepEqual(encodeLinkInfo(decodeLinkInfo(raw)), raw);

  const local = await na.links.createMacvlan({ name: 'mv1', master: 'parent', mode: 'private' });
  t.like(local, { name: 'mv1', kind: 'macvlan' });
  t.is(local?.info?.macvlan?.mode, 'private');
  t.is(local?.parentIndex, (await na.links.get('parent')).index);
});

test('up/down, MTU, MAC, promiscuity, rename and delete', async (t) => {
  const ns = tempNetns(t, 'set');
  const nl = await handleIn(t, ns);
  await nl.links.createVeth({ name: 'v0', peer: { name: 'v1' } });

  await nl.links.setMtu('v0', 1300);
  await nl.links.setMac('v0', '02:12:34:56:78:9a');
  await nl.links.setPromisc('v0', true);
  await nl.links.setUp('v0');
  await nl.links.setUp('v1');
  t.like(await nl.links.get('v0'), { mtu: 1300, mac: '02:12:34:56:78:9a', promisc: true, up: true });

  await nl.links.setPromisc('v0', false);
  await nl.links.setDown('v0');
  await nl.links.rename('v0', 'v9');
  t.like(await nl.links.get('v9'), { promisc: false, up: false, mtu: 1300 });
  t.is(await nl.links.find('v0'), undefined);

  await nl.links.delete('v9');
  t.deepEqual(await names(nl), ['lo'], 'deleting one end of a veth removes both');
});

test('a link moves to another namespace under a new name', async (t) => {
  const a = tempNetns(t, 'mv-from');
  const b = tempNetns(t, 'mv-to');
  const na = await handleIn(t, a);
  const nb = await handleIn(t, b);
  await na.links.createVeth({ name: 'tmp-1234', mac: '02:00:00:00:00:42', peer: { name: 'host-1234' } });
  await na.links.moveToNetns('tmp-1234', b, { name: 'eth0' });
  t.is(await na.links.find('tmp-1234'), undefined);
  t.like(await nb.links.get('eth0'), { mac: '02:00:00:00:00:42', kind: 'veth' });
  t.not((await na.links.get('host-1234')).parentNetnsId, undefined);

  // By an fd the caller holds (and keeps: it is still open afterwards).
  const fd = fs.openSync(a, 'r');
  try {
    await nb.links.moveToNetns('eth0', fd);
    t.like(await na.links.get('eth0'), { mac: '02:00:00:00:00:42' });
    t.true(fs.fstatSync(fd).isFile());
  } finally {
    fs.closeSync(fd);
  }
});

test('errors name the errno, operation and namespace', async (t) => {
  const ns = tempNetns(t, 'err');
  const nl = await handleIn(t, ns);
  await nl.links.createBridge({ name: 'br0' });

  const exists = await t.throwsAsync(nl.links.createBridge({ name: 'br0' }), { instanceOf: NetlinkError });
  t.is(exists?.code, 'EEXIST');
  t.is(exists?.message.startsWith(`create bridge "br0" in netns ${ns}: EEXIST`), true, exists?.message);

  const peerExists = await t.throwsAsync(nl.links.createVeth({ name: 'x0', peer: { name: 'br0' } }), { instanceOf: NetlinkError });
  t.is(peerExists?.code, 'EEXIST');

  const missing = await t.throwsAsync(nl.links.setMtu('eth9', 1400), { instanceOf: NetlinkError });
  t.is(missing?.code, 'ENODEV');
  t.regex(missing?.message ?? '', /set mtu 1400 on link "eth9"/);
  t.is((await t.throwsAsync(nl.links.delete(999), { instanceOf: NetlinkError }))?.code, 'ENODEV');
  t.is((await t.throwsAsync(nl.links.get('eth9'), { instanceOf: NetlinkError }))?.code, 'ENODEV');
  t.is(await nl.links.find('eth9'), undefined);
  t.deepEqual(await names(nl), ['br0', 'lo'], 'failed requests changed nothing');
  await t.throwsAsync(openNetlink('/var/run/netns/weft-t-no-such-ns'), { instanceOf: NetnsError });
});

test('each handle sees only its own namespace, and the thread stays where it was', async (t) => {
  const before = fs.statSync('/proc/thread-self/ns/net').ino;
  const a = tempNetns(t, 'iso-a');
  const b = tempNetns(t, 'iso-b');
  const na = await handleIn(t, a);
  const nb = await handleIn(t, b);
  t.is(fs.statSync('/proc/thread-self/ns/net').ino, before);
  t.not(netnsId(a), netnsId(b));

  await nb.links.createBridge({ name: 'only-in-b' });
  t.deepEqual(await names(na), ['lo']);
  t.deepEqual(await names(nb), ['lo', 'only-in-b']);

  // The process's own namespace (read only): none of the test links are there.
  const own = await openNetlink();
  try {
    t.is(own.netns, 'current');
    const ownNames = await names(own);
    t.false(ownNames.includes('only-in-b'));
    t.deepEqual(ownNames, fs.readdirSync('/sys/class/net').sort());
  } finally {
    own.close();
  }
});

test('requests on one handle may overlap: they are queued, replies stay whole', async (t) => {
  const ns = tempNetns(t, 'queue');
  const nl = await handleIn(t, ns);
  const work: Promise<unknown>[] = [];
  for (let i = 0; i < 12; i++) {
    work.push(nl.links.createVeth({ name: `q${i}a`, peer: { name: `q${i}b` } }));
    work.push(nl.links.list());
  }
  await Promise.all(work);
  t.is((await nl.links.list()).length, 25);
});

test('a closed handle refuses requests', async (t) => {
  const ns = tempNetns(t, 'closed');
  const nl = await openNetlink(ns);
  const pending = nl.links.list();
  nl.close();
  nl.close();
  t.true(nl.closed);
  await t.throwsAsync(pending, { instanceOf: NetlinkClosedError });
  await t.throwsAsync(nl.links.list(), { instanceOf: NetlinkClosedError });
});

test('withNetlink closes its handle when the work ends or throws', async (t) => {
  const ns = tempNetns(t, 'with');
  let kept: NetlinkHandle | undefined;
  const count = await withNetlink(ns, async (nl) => {
    kept = nl;
    return (await nl.links.list()).length;
  });
  t.is(count, 1);
  t.true(kept?.closed);
  await t.throwsAsync(
    withNetlink(ns, async (nl) => {
      kept = nl;
      await nl.links.get('missing0');
    }),
    { instanceOf: NetlinkError },
  );
  t.true(kept?.closed);
});

test('a process that leaves a handle open still exits', (t) => {
  const ns = tempNetns(t, 'exit');
  const modulePath = path.join(__dirname, '..', '..', 'kernel', 'netlink');
  const script = `require(${JSON.stringify(modulePath)}).openNetlink(${JSON.stringify(ns)})
    .then((nl) => nl.links.list()).then((links) => console.log(links.length));`;
  // The timeout only guards the suite against a hang; the assertion is on how it ended.
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  t.is(out.signal, null, 'it exited by itself');
  t.is(out.status, 0, out.stderr);
  t.is(out.stdout.trim(), '1');
});
