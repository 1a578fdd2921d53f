import test from 'ava';
import { AttrStream, rt } from 'netlink';
import { addressFromMessage } from '../../kernel/netlink/addresses';
import { NetlinkError, describeErrno, isNetlinkError } from '../../kernel/netlink/errors';
import { AddressFormatError } from '../../kernel/netlink/ip';
import { fdbFromMessage, neighbourFromMessage } from '../../kernel/netlink/neighbours';
import { routeFromMessage, routeMessage } from '../../kernel/netlink/routes';

/** Serialises with the package and parses back, as a message travels to the kernel and back. */
function throughWire(msg: rt.RouteMessage): rt.RouteMessage {
  const out = new AttrStream();
  rt.formatRouteMessage(msg, out);
  return rt.parseRouteMessage(Buffer.concat(out.bufs));
}

test('a route without gateway defaults to scope link, protocol boot, unicast, table main', (t) => {
  const { data, attrs } = routeMessage({ dst: '10.1.0.0/16' }, 3, false);
  t.like(data, { family: 2, dstLen: 16, table: 254, protocol: 3, scope: 253, type: 1 });
  t.deepEqual(attrs.dst, Buffer.from([10, 1, 0, 0]));
  t.is(attrs.oif, 3);
  t.is(attrs.table, 254);
});

test('a route via a gateway has scope universe', (t) => {
  const { data, attrs } = routeMessage({ dst: '10.1.0.0/16', gateway: '10.0.0.1' }, undefined, false);
  t.is(data.scope, 0);
  t.deepEqual(attrs.gateway, Buffer.from([10, 0, 0, 1]));
  t.is(attrs.oif, undefined);
});

test('tables above 255 go in RTA_TABLE only', (t) => {
  const { data, attrs } = routeMessage({ dst: '10.1.0.0/16', table: 1000 }, 3, false);
  t.is(data.table, 0);
  t.is(attrs.table, 1000);
});

test('a delete matches loosely: scope nowhere, any protocol and type', (t) => {
  const { data } = routeMessage({ dst: '10.1.0.0/16' }, undefined, true);
  t.like(data, { scope: 255, protocol: 0, type: 0 });
});

test('"default" takes its family from the gateway, src or explicit family', (t) => {
  t.like(routeMessage({ dst: 'default', gateway: 'fd00::1' }, 2, false).data, { family: 10, dstLen: 0 });
  t.like(routeMessage({ dst: 'default', src: '10.0.0.2' }, 2, false).data, { family: 2 });
  t.like(routeMessage({ dst: 'default', family: 6 }, 2, false).data, { family: 10 });
  t.is(routeMessage({ dst: 'default', gateway: '10.0.0.1' }, 2, false).attrs.dst, undefined);
  t.throws(() => routeMessage({ dst: 'default' }, 2, false), { instanceOf: AddressFormatError });
});

test('every route field survives the wire and reads back', (t) => {
  const msg = routeMessage(
    {
      dst: 'fd01::/64',
      gateway: 'fd00::2',
      onLink: true,
      table: 100,
      metric: 10,
      mtu: 1400,
      advmss: 1340,
      protocol: 4,
      src: 'fd00::1',
      scope: 'universe',
      type: 'unicast',
    },
    5,
    false,
  );
  t.deepEqual(routeFromMessage(throughWire(msg)), {
    family: 6,
    dst: 'fd01::/64',
    gateway: 'fd00::2',
    oif: 5,
    onLink: true,
    table: 100,
    scope: 'universe',
    metric: 10,
    mtu: 1400,
    advmss: 1340,
    protocol: 4,
    src: 'fd00::1',
    type: 'unicast',
  });
});

test('a default route reads back as 0.0.0.0/0', (t) => {
  const entry = routeFromMessage(throughWire(routeMessage({ dst: 'default', gateway: '10.0.0.1', type: 'blackhole' }, undefined, false)));
  t.like(entry, { dst: '0.0.0.0/0', gateway: '10.0.0.1', type: 'blackhole', onLink: false });
});

test('addresses: IFA_FLAGS wins over the 8-bit header flags; IFA_LOCAL over IFA_ADDRESS', (t) => {
  const entry = addressFromMessage({
    kind: 'address',
    data: { family: 10, prefixlen: 64, flags: {}, scope: 253, index: 4 },
    attrs: { address: Buffer.from('fd000000000000000000000000000009', 'hex'), flags: { nodad: true, permanent: true } },
  });
  t.deepEqual(entry, {
    index: 4,
    family: 6,
    address: 'fd00::9',
    prefixLength: 64,
    cidr: 'fd00::9/64',
    scope: 'link',
    noDad: true,
    noPrefixRoute: false,
    permanent: true,
    tentative: false,
    dadFailed: false,
  });
  const v4 = addressFromMessage({
    kind: 'address',
    data: { family: 2, prefixlen: 32, index: 1, scope: 0 },
    attrs: { local: Buffer.from([10, 0, 0, 1]), address: Buffer.from([10, 0, 0, 2]) },
  });
  t.is(v4?.address, '10.0.0.1');
});

test('neighbour and FDB entries are told apart by family', (t) => {
  const ipEntry: rt.NeighborMessage = {
    kind: 'neighbor',
    data: { family: 2, ifindex: 3, state: { permanent: true } },
    attrs: { dst: Buffer.from([10, 0, 0, 7]), lladdr: Buffer.from([2, 0, 0, 0, 0, 7]) },
  };
  t.deepEqual(neighbourFromMessage(ipEntry), { index: 3, family: 4, ip: '10.0.0.7', mac: '02:00:00:00:00:07', state: ['permanent'] });
  t.is(fdbFromMessage(ipEntry), undefined);

  const fdbEntry: rt.NeighborMessage = {
    kind: 'neighbor',
    data: { family: 7, ifindex: 6, state: { permanent: true, noarp: true }, flags: { self: true } },
    attrs: { lladdr: Buffer.alloc(6), dst: Buffer.from([192, 0, 2, 2]), port: Buffer.from([0x12, 0xb5]) },
  };
  t.deepEqual(fdbFromMessage(fdbEntry), {
    index: 6,
    mac: '00:00:00:00:00:00',
    dst: '192.0.2.2',
    port: 4789,
    self: true,
    master: false,
    state: ['noarp', 'permanent'],
  });
  t.is(neighbourFromMessage(fdbEntry), undefined);
});

test('NetlinkError names the errno, the operation and the namespace', (t) => {
  const err = new NetlinkError(17, 'create veth "eth0"', '/var/run/netns/x');
  t.is(err.code, 'EEXIST');
  t.is(err.errno, 17);
  t.regex(err.message, /^create veth "eth0" in netns \/var\/run\/netns\/x: EEXIST \(/);
  t.true(isNetlinkError(err, 'EEXIST', 'ENODEV'));
  t.false(isNetlinkError(err, 'ENODEV'));
  t.false(isNetlinkError(new Error('x')));
});

test('errno names follow Linux, including EOPNOTSUPP', (t) => {
  t.is(describeErrno(19).code, 'ENODEV');
  t.is(describeErrno(95).code, 'EOPNOTSUPP');
  t.is(describeErrno(3).code, 'ESRCH');
  // The kernel's internal ENOTSUPP sometimes leaks out; libuv's own codes must not be matched.
  t.is(describeErrno(524).code, 'E524');
  t.is(describeErrno(4095).code, 'E4095');
});
