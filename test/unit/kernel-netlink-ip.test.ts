import test from 'ava';
import {
  AddressFormatError,
  bytesToIp,
  bytesToMac,
  familyOf,
  ipToBytes,
  ipv4Broadcast,
  macToBytes,
  parsePrefix,
} from '../../kernel/netlink/ip';

test('IPv4 addresses convert to network-order bytes and back', (t) => {
  t.deepEqual(ipToBytes('10.0.0.1'), Buffer.from([10, 0, 0, 1]));
  t.is(bytesToIp(Buffer.from([192, 0, 2, 255])), '192.0.2.255');
});

test('IPv6 addresses convert to bytes and back in RFC 5952 form', (t) => {
  t.deepEqual(ipToBytes('fd00::1'), Buffer.from([0xfd, 0, ...Array(13).fill(0), 1]));
  const cases: Array<[string, string]> = [
    ['fd00::1', 'fd00::1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    // A single zero group is not compressed; the first of two equal runs is.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
  ];
  for (const [input, expected] of cases) t.is(bytesToIp(ipToBytes(input)), expected, input);
});

test('families and invalid addresses', (t) => {
  t.is(familyOf('10.0.0.1'), 4);
  t.is(familyOf('fe80::1'), 6);
  t.throws(() => ipToBytes('10.0.0'), { instanceOf: AddressFormatError });
  t.throws(() => ipToBytes('fe80::1%eth0'), { instanceOf: AddressFormatError });
  t.throws(() => bytesToIp(Buffer.alloc(5)), { instanceOf: AddressFormatError });
});

test('prefixes keep host bits and normalise the address', (t) => {
  t.deepEqual(parsePrefix('10.1.2.3/24'), { family: 4, ip: '10.1.2.3', length: 24 });
  t.deepEqual(parsePrefix('FD00:0::5/64'), { family: 6, ip: 'fd00::5', length: 64 });
  t.deepEqual(parsePrefix('0.0.0.0/0'), { family: 4, ip: '0.0.0.0', length: 0 });
  for (const bad of ['10.0.0.1', '10.0.0.1/33', 'fd00::/129', '10.0.0.1/x', '10.0.0.1/', 'default']) {
    t.throws(() => parsePrefix(bad), { instanceOf: AddressFormatError }, bad);
  }
});

test('IPv4 broadcast addresses', (t) => {
  t.is(ipv4Broadcast('10.1.0.5', 24), '10.1.0.255');
  t.is(ipv4Broadcast('10.1.0.5', 30), '10.1.0.7');
  t.is(ipv4Broadcast('10.1.0.5', 8), '10.255.255.255');
  t.is(ipv4Broadcast('10.1.0.5', 0), '255.255.255.255');
  t.is(ipv4Broadcast('10.1.0.5', 32), '10.1.0.5');
});

test('MAC addresses', (t) => {
  t.deepEqual(macToBytes('02:AB:00:00:00:01'), Buffer.from([2, 0xab, 0, 0, 0, 1]));
  t.is(bytesToMac(Buffer.from([2, 0xab, 0, 0, 0, 1])), '02:ab:00:00:00:01');
  for (const bad of ['02:ab:00:00:00', '02-ab-00-00-00-01', '02:ab:00:00:00:0g']) {
    t.throws(() => macToBytes(bad), { instanceOf: AddressFormatError }, bad);
  }
});
