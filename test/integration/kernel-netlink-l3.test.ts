import test, { type ExecutionContext } from 'ava';
import { NetlinkError, type NetlinkHandle, openNetlink } from '../../kernel/netlink';
import { tempNetns } from '../helpers/netns';

/** A namespace with an up veth pair (eth0 <-> peer0) to hang addresses, routes and neighbours on. */
async function setup(t: ExecutionContext, label: string): Promise<{ ns: string; nl: NetlinkHandle; eth0: number }> {
  const ns = tempNetns(t, label);
  const nl = await openNetlink(ns);
  t.teardown(() => nl.close());
  const eth0 = await nl.links.createVeth({ name: 'eth0', peer: { name: 'peer0' }, up: true });
  await nl.links.setUp('peer0');
  return { ns, nl, eth0: eth0.index };
}

test('IPv4 and IPv6 addresses are added, read back and deleted', async (t) => {
  const { nl, eth0 } = await setup(t, 'addr');
  await nl.addresses.add('eth0', '10.1.0.5/24');
  await nl.addresses.add('eth0', 'fd00:1::5/64', { noDad: true });
  await nl.addresses.add(eth0, '10.9.0.1/32', { scope: 'host', broadcast: false });

  const v4 = await nl.addresses.list({ link: 'eth0', family: 4 });
  t.deepEqual(
    v4.map((a) => [a.cidr, a.scope, a.broadcast, a.label]).sort(),
    [
      ['10.1.0.5/24', 'universe', '10.1.0.255', 'eth0'],
      ['10.9.0.1/32', 'host', undefined, 'eth0'],
    ],
  );
  const v6 = (await nl.addresses.list({ link: eth0, family: 6 })).find((a) => a.address === 'fd00:1::5');
  t.like(v6, { prefixLength: 64, scope: 'universe', noDad: true, tentative: false, permanent: true, index: eth0 });

  const again = await t.throwsAsync(nl.addresses.add('eth0', '10.1.0.5/24'), { instanceOf: NetlinkError });
  t.is(again?.code, 'EEXIST');
  await nl.addresses.replace('eth0', '10.1.0.5/24');

  await nl.addresses.delete('eth0', '10.1.0.5/24');
  await nl.addresses.delete('eth0', 'fd00:1::5/64');
  const left = (await nl.addresses.list({ link: 'eth0' })).map((a) => a.cidr);
  t.false(left.includes('10.1.0.5/24'));
  t.false(left.includes('fd00:1::5/64'));
  const gone = await t.throwsAsync(nl.addresses.delete('eth0', '10.1.0.5/24'), { instanceOf: NetlinkError });
  t.is(gone?.code, 'EADDRNOTAVAIL');
  const noLink = await t.throwsAsync(nl.addresses.add('eth7', '10.1.0.6/24'), { instanceOf: NetlinkError });
  t.is(noLink?.code, 'ENODEV');
});

test('route replace twice changes the gateway; add of an existing route is EEXIST', async (t) => {
  const { nl, eth0 } = await setup(t, 'replace');
  await nl.addresses.add('eth0', '10.1.0.5/24');
  await nl.routes.replace({ dst: '10.2.0.0/16', gateway: '10.1.0.1' });
  await nl.routes.replace({ dst: '10.2.0.0/16', gateway: '10.1.0.2', mtu: 1400, advmss: 1360 });
  const routes = (await nl.routes.list({ family: 4, table: 254 })).filter((r) => r.dst === '10.2.0.0/16');
  t.deepEqual(routes, [
    {
      family: 4,
      dst: '10.2.0.0/16',
      gateway: '10.1.0.2',
      oif: eth0,
      onLink: false,
      table: 254,
      scope: 'universe',
      protocol: 3,
      type: 'unicast',
      mtu: 1400,
      advmss: 1360,
    },
  ]);
  const dup = await t.throwsAsync(nl.routes.add({ dst: '10.2.0.0/16', gateway: '10.1.0.2' }), { instanceOf: NetlinkError });
  t.is(dup?.code, 'EEXIST');
  t.regex(dup?.message ?? '', /add route 10\.2\.0\.0\/16 via 10\.1\.0\.2/);

  await nl.routes.delete({ dst: '10.2.0.0/16' });
  t.false((await nl.routes.list({ family: 4 })).some((r) => r.dst === '10.2.0.0/16'));
  const none = await t.throwsAsync(nl.routes.delete({ dst: '10.2.0.0/16' }), { instanceOf: NetlinkError });
  t.is(none?.code, 'ESRCH');
});

test('an on-link default route through a gateway outside every subnet', async (t) => {
  const { nl, eth0 } = await setup(t, 'onlink');
  await nl.addresses.add('eth0', '10.1.0.5/32');
  const unreachable = await t.throwsAsync(nl.routes.add({ dst: 'default', gateway: '169.254.1.1', dev: 'eth0' }), {
    instanceOf: NetlinkError,
  });
  t.is(unreachable?.code, 'ENETUNREACH', 'without onlink the kernel refuses the gateway');
  await nl.routes.add({ dst: 'default', gateway: '169.254.1.1', dev: 'eth0', onLink: true });
  const def = (await nl.routes.list({ family: 4, table: 254 })).find((r) => r.dst === '0.0.0.0/0');
  t.like(def, { gateway: '169.254.1.1', oif: eth0, onLink: true, scope: 'universe' });
});

test('routes in other tables stay out of main; a device route has scope link', async (t) => {
  const { nl, eth0 } = await setup(t, 'tables');
  await nl.routes.add({ dst: '10.3.0.0/16', dev: 'eth0', table: 100, metric: 5 });
  await nl.routes.add({ dst: '10.4.0.0/16', dev: 'eth0', table: 1000, protocol: 4 });
  t.false((await nl.routes.list({ table: 254 })).some((r) => r.dst.startsWith('10.3.') || r.dst.startsWith('10.4.')));
  t.deepEqual(
    (await nl.routes.list({ table: 100 })).map((r) => [r.dst, r.scope, r.metric, r.oif]),
    [['10.3.0.0/16', 'link', 5, eth0]],
  );
  t.like((await nl.routes.list({ table: 1000 }))[0], { dst: '10.4.0.0/16', protocol: 4, table: 1000 });
  await nl.routes.delete({ dst: '10.4.0.0/16', table: 1000 });
  t.deepEqual(await nl.routes.list({ table: 1000 }), []);
});

test('IPv6 routes with gateway, metric and src read back', async (t) => {
  const { nl, eth0 } = await setup(t, 'route6');
  await nl.addresses.add('eth0', 'fd00:1::5/64', { noDad: true });
  await nl.routes.add({ dst: 'fd00:2::/64', gateway: 'fd00:1::1', metric: 10, src: 'fd00:1::5' });
  await nl.routes.replace({ dst: 'default', gateway: 'fd00:1::1', dev: 'eth0', mtu: 1380 });
  const mine = (await nl.routes.list({ family: 6, link: 'eth0' })).filter((r) => r.protocol === 3);
  t.deepEqual(
    mine.map((r) => [r.dst, r.gateway, r.metric, r.src, r.mtu, r.oif]),
    [
      ['fd00:2::/64', 'fd00:1::1', 10, 'fd00:1::5', undefined, eth0],
      ['::/0', 'fd00:1::1', 1024, undefined, 1380, eth0],
    ],
  );
});

test('permanent neighbours, IPv4 and IPv6: replace overwrites, delete removes', async (t) => {
  const { nl, eth0 } = await setup(t, 'neigh');
  await nl.neighbours.replace({ link: 'eth0', ip: '10.1.0.7', mac: '02:00:00:00:00:07' });
  await nl.neighbours.replace({ link: 'eth0', ip: '10.1.0.7', mac: '02:00:00:00:00:08' });
  await nl.neighbours.replace({ link: eth0, ip: 'fd00:1::7', mac: '02:00:00:00:00:07' });
  const mine = (await nl.neighbours.list({ link: 'eth0' })).filter((n) => n.state.includes('permanent'));
  t.deepEqual(
    mine.map((n) => [n.family, n.ip, n.mac, n.state]).sort(),
    [
      [4, '10.1.0.7', '02:00:00:00:00:08', ['permanent']],
      [6, 'fd00:1::7', '02:00:00:00:00:07', ['permanent']],
    ],
  );
  const dup = await t.throwsAsync(nl.neighbours.add({ link: 'eth0', ip: '10.1.0.7', mac: '02:00:00:00:00:09' }), {
    instanceOf: NetlinkError,
  });
  t.is(dup?.code, 'EEXIST');
  await nl.neighbours.delete({ link: 'eth0', ip: '10.1.0.7' });
  t.deepEqual(
    (await nl.neighbours.list({ link: 'eth0', family: 4 })).filter((n) => n.ip === '10.1.0.7'),
    [],
  );
});

test('vxlan FDB: flood entries to two remote VTEPs and a unicast entry, read back and deleted', async (t) => {
  const { nl } = await setup(t, 'fdb');
  const vx = await nl.links.createVxlan({ name: 'vxlan0', vni: 1, local: '192.0.2.1', port: 4789, learning: false, up: true });
  await nl.fdb.append({ link: 'vxlan0', mac: '00:00:00:00:00:00', dst: '192.0.2.2' });
  await nl.fdb.append({ link: 'vxlan0', mac: '00:00:00:00:00:00', dst: '192.0.2.3' });
  await nl.fdb.replace({ link: 'vxlan0', mac: '02:00:00:00:00:aa', dst: '192.0.2.2' });
  await nl.fdb.replace({ link: 'vxlan0', mac: '02:00:00:00:00:aa', dst: '192.0.2.3' });

  const entries = (await nl.fdb.list({ link: 'vxlan0' })).filter((e) => e.dst !== undefined);
  t.deepEqual(
    entries.map((e) => [e.mac, e.dst, e.self, e.index, e.state.includes('permanent')]).sort(),
    [
      ['00:00:00:00:00:00', '192.0.2.2', true, vx.index, true],
      ['00:00:00:00:00:00', '192.0.2.3', true, vx.index, true],
      ['02:00:00:00:00:aa', '192.0.2.3', true, vx.index, true],
    ],
  );

  await nl.fdb.delete({ link: 'vxlan0', mac: '00:00:00:00:00:00', dst: '192.0.2.2' });
  await nl.fdb.delete({ link: 'vxlan0', mac: '02:00:00:00:00:aa' });
  t.deepEqual(
    (await nl.fdb.list({ link: 'vxlan0' })).filter((e) => e.dst !== undefined).map((e) => [e.mac, e.dst]),
    [['00:00:00:00:00:00', '192.0.2.3']],
  );
  const gone = await t.throwsAsync(nl.fdb.delete({ link: 'vxlan0', mac: '02:00:00:00:00:aa' }), { instanceOf: NetlinkError });
  t.is(gone?.code, 'ENOENT');
});
