/** kernel/nflog: packet headers and NFLOG messages decoded from bytes as the kernel writes them. */
import test from 'ava';
import { parseNflogMessage, parsePacketHeaders } from '../../kernel/nflog';
import { encodeAttr } from '../../kernel/netlink/attrs';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// IPv4 TCP SYN 10.244.1.3:40000 -> 10.244.0.2:80 (20-byte IP header, TCP header start).
const TCP4 = hex('4500 003c 1c46 4000 4006 0000 0af4 0103 0af4 0002  9c40 0050 0000 0001 0000 0000 a002 faf0');
// IPv6 UDP fd00::3:5353 -> fd00::2:53 behind a hop-by-hop header (8 bytes).
const UDP6 = hex('6000 0000 0010 0040 fd00 0000 0000 0000 0000 0000 0000 0003 fd00 0000 0000 0000 0000 0000 0000 0002  1100 0000 0000 0000  14e9 0035 0008 0000');

test('IPv4 TCP: addresses, ports, flags, length', (t) => {
  t.deepEqual(parsePacketHeaders(TCP4), { family: 4, source: '10.244.1.3', destination: '10.244.0.2', protocol: 'tcp', sourcePort: 40000, destinationPort: 80, tcpFlags: 'SYN', length: 60 });
});

test('IPv6 UDP behind an extension header', (t) => {
  t.deepEqual(parsePacketHeaders(UDP6), { family: 6, source: 'fd00::3', destination: 'fd00::2', protocol: 'udp', sourcePort: 5353, destinationPort: 53, length: 56 });
});

test('a later IPv4 fragment has no ports; ICMP has a type; short or non-IP bytes give nothing', (t) => {
  const fragment = Buffer.from(TCP4);
  fragment.writeUInt16BE(0x00b9, 6);
  t.deepEqual(parsePacketHeaders(fragment), { family: 4, source: '10.244.1.3', destination: '10.244.0.2', protocol: 'tcp', length: 60 });
  const icmp = Buffer.from(TCP4.subarray(0, 24));
  icmp[9] = 1;
  icmp[20] = 8;
  t.like(parsePacketHeaders(icmp), { protocol: 'icmp', icmpType: 8 });
  t.is(parsePacketHeaders(TCP4.subarray(0, 19)), undefined);
  t.is(parsePacketHeaders(hex('00')), undefined);
});

test('an NFLOG PACKET message: family, prefix, interfaces, payload; other messages are not packets', (t) => {
  const ifindex = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const data = Buffer.concat([hex('02 00 0007'), encodeAttr(4, ifindex(3)), encodeAttr(10, Buffer.from('weft-drop ingress\0')), encodeAttr(9, TCP4)]);
  const p = parseNflogMessage({ type: (4 << 8) | 0, data }, 1234);
  t.deepEqual(p, { prefix: 'weft-drop ingress', family: 'ipv4', inInterface: 3, payload: TCP4, receivedAt: 1234 });
  t.is(parseNflogMessage({ type: (4 << 8) | 1, data }), undefined);
});
