import test from 'ava';
import net from 'node:net';
import {
  formatAddress,
  lastAddress,
  networkAddress,
  parseAddress,
  parseCidr,
  subnetContains,
} from '../../ipam/address';

const roundTrip = (text: string) => {
  const address = parseAddress(text);
  return address ? formatAddress(address) : undefined;
};

test('IPv4 parses to a number and prints back as a dotted quad', (t) => {
  t.deepEqual(parseAddress('10.1.2.3'), { family: 4, value: 0x0a010203n });
  t.is(roundTrip('0.0.0.0'), '0.0.0.0');
  t.is(roundTrip('255.255.255.255'), '255.255.255.255');
});

test('IPv6 prints like Go net.IP.String (the names host-local gives address files)', (t) => {
  t.is(roundTrip('FD00:10:244:8::3'), 'fd00:10:244:8::3');
  t.is(roundTrip('fd00:0:0:1:0:0:0:5'), 'fd00:0:0:1::5', 'the longest zero run is compressed');
  t.is(roundTrip('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
  t.is(roundTrip('1:0:0:2:0:0:3:4'), '1::2:0:0:3:4', 'the first of two equally long runs');
  t.is(roundTrip('1:2:3:4:5:6:0:8'), '1:2:3:4:5:6:0:8', 'a single zero group is not compressed');
  t.is(roundTrip('0:0:1::'), '0:0:1::');
  t.is(roundTrip('::'), '::');
  t.is(roundTrip('::1'), '::1');
  t.is(roundTrip('2001:db8::1.2.3.4'), '2001:db8::102:304');
  t.deepEqual(parseAddress('fd00::1'), { family: 6, value: (0xfd00n << 112n) | 1n });
});

test('IPv6: canonical text (read by its shape) and every other form (read by node:net) give the same number', (t) => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < 2000; i++) {
    // Groups with many zeros, so that "::" falls everywhere, at either end too.
    const groups = Array.from({ length: 8 }, () => (next() % 3 === 0 ? 0 : next() % 65536));
    const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
    const hex = groups.map((g) => g.toString(16));
    const canonical = formatAddress({ family: 6, value });
    const written = [canonical, canonical.toUpperCase(), hex.join(':'), groups.map((g) => g.toString(16).padStart(4, '0')).join(':')];
    for (const text of written) t.deepEqual(parseAddress(text), { family: 6, value }, text);
  }
  const refused = ['1::2::3', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2:3:4:5:6:7:8', '12345::', 'g::1', '::1%eth0', ':::', '1:::2', 'fd00::/64', ' ::1'];
  for (const text of refused) {
    t.is(parseAddress(text), undefined, text);
    t.false(net.isIPv6(text) && !text.includes('%'), `node:net agrees on ${text}`);
  }
  t.deepEqual(parseAddress('::ffff:10.1.2.3'), { family: 6, value: 0xffff0a010203n });
});

test('anything that is not a plain address is refused', (t) => {
  for (const text of ['', '10.0.0', '10.0.0.256', '010.0.0.1', ' 10.0.0.1', '10.0.0.1/24', 'fe80::1%eth0', 'fd00:::1', 'x']) {
    t.is(parseAddress(text), undefined, text);
  }
});

test('CIDRs: prefix within the family, host bits kept for the caller to judge', (t) => {
  t.deepEqual(parseCidr('10.0.0.5/24'), { address: { family: 4, value: 0x0a000005n }, prefix: 24 });
  t.is(parseCidr('fd00::/64')?.prefix, 64);
  for (const text of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/+8', 'fd00::/129', '/24', '10.0.0.0/24/1']) {
    t.is(parseCidr(text), undefined, text);
  }
});

test('network, last address and containment of a subnet', (t) => {
  const cidr = parseCidr('10.0.0.77/26')!;
  t.is(formatAddress(networkAddress(cidr)), '10.0.0.64');
  t.is(formatAddress(lastAddress(cidr)), '10.0.0.127');
  t.true(subnetContains(cidr, parseAddress('10.0.0.100')!));
  t.false(subnetContains(cidr, parseAddress('10.0.0.128')!));
  t.false(subnetContains(cidr, parseAddress('::a00:64')!), 'another family never matches');
  const v6 = parseCidr('fd00:1::/112')!;
  t.is(formatAddress(lastAddress(v6)), 'fd00:1::ffff');
});
