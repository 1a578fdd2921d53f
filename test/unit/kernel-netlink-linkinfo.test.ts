import test from 'ava';
import { decodeAttrs, encodeAttr, encodeAttrs, flag, type AttrSchema, u32 } from '../../kernel/netlink/attrs';
import {
  type LinkInfo,
  bridgePortSchema,
  decodeLinkInfo,
  encodeBridgePortProtinfo,
  encodeLinkInfo,
} from '../../kernel/netlink/linkinfo';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// IFLA_LINKINFO payloads as kernel 6.18 dumped them (RTM_GETLINK) for links made with iproute2:
//   ip link add mv0 link va type macvlan mode bridge
//   ip link add vx0 type vxlan id 42 dstport 4789 local 10.0.0.1 nolearning
//   ip link add va type veth peer name vb
const KERNEL_MACVLAN_BRIDGE = hex(`
  0c000100 6d6163766c616e00
  2c000200 08000100 04000000 06000200 00000000 08000600 00000000 08000700 e8030000 08000800 e8030000`);
const KERNEL_VXLAN = hex(`
  0a000100 76786c616e000000
  d0000200 08000100 2a000000 08000400 0a000001 05000500 00000000 05001c00 00000000 05000600 00000000
  05001d00 00000000 08001a00 00000000 08002000 00000000 05000700 00000000 05000b00 00000000
  05000c00 00000000 05000d00 00000000 05000e00 00000000 05001900 00000000 08000800 2c010000
  08000900 00000000 06000f00 12b50000 05001200 01000000 05001300 00000000 05001400 00000000
  05001500 00000000 05001600 00000000 05001f00 01000000 08000a00 00000000 0c002100 f7ffffff 000000ff`);
const KERNEL_VETH = hex('09000100 76657468 00000000');

test('a veth kind encodes to the bytes the kernel dumps', (t) => {
  t.deepEqual(encodeLinkInfo({ kind: 'veth' }), KERNEL_VETH);
  t.deepEqual(decodeLinkInfo(KERNEL_VETH), { kind: 'veth' });
});

test('the kernel macvlan layout decodes, and encodes back byte for byte', (t) => {
  const info = decodeLinkInfo(KERNEL_MACVLAN_BRIDGE);
  t.deepEqual(info, {
    kind: 'macvlan',
    macvlan: { mode: 'bridge', flags: 0, macaddrCount: 0, bcQueueLen: 1000, bcQueueLenUsed: 1000 },
  });
  t.deepEqual(encodeLinkInfo(info), KERNEL_MACVLAN_BRIDGE);
});

test('the kernel vxlan layout decodes; attributes unknown to the schema are skipped', (t) => {
  const info = decodeLinkInfo(KERNEL_VXLAN);
  t.is(info.kind, 'vxlan');
  t.deepEqual(info.vxlan, {
    id: 42,
    local: '10.0.0.1',
    ttl: 0,
    // Dumped as a u8 0 although it is a flag on input.
    ttlInherit: false,
    tos: 0,
    df: 'unset',
    label: 0,
    learning: false,
    proxy: false,
    rsc: false,
    l2miss: false,
    l3miss: false,
    collectMetadata: false,
    ageing: 300,
    limit: 0,
    port: 4789,
    udpCsum: true,
    udpZeroCsum6Tx: false,
    udpZeroCsum6Rx: false,
    remcsumTx: false,
    remcsumRx: false,
    portRange: { low: 0, high: 0 },
  });
});

test('a vxlan request has the expected byte layout (VNI host order, port network order)', (t) => {
  const bytes = encodeLinkInfo({ kind: 'vxlan', vxlan: { id: 42, local: '10.0.0.1', learning: false, port: 4789 } });
  t.deepEqual(
    bytes,
    hex(`
      0a000100 76786c616e000000
      24000200 08000100 2a000000 08000400 0a000001 05000700 00000000 06000f00 12b50000`),
  );
});

test('IPv6 endpoints and flags round-trip', (t) => {
  const info: LinkInfo = {
    kind: 'vxlan',
    vxlan: {
      id: 0xabcdef,
      group6: 'fd00::2',
      local6: 'fd00::1',
      link: 7,
      ttl: 64,
      udpZeroCsum6Tx: true,
      udpZeroCsum6Rx: true,
      gbp: true,
      ttlInherit: true,
      df: 'inherit',
      portRange: { low: 32768, high: 61000 },
      label: 0x12345,
    },
  };
  t.deepEqual(decodeLinkInfo(encodeLinkInfo(info)), info);
});

test('a bridge with vlan_filtering has the expected layout and round-trips', (t) => {
  const info: LinkInfo = { kind: 'bridge', bridge: { vlanFiltering: true } };
  const bytes = encodeLinkInfo(info);
  t.deepEqual(bytes, hex('0b000100 62726964 67650000 0c000200 05000700 01000000'));
  t.deepEqual(decodeLinkInfo(bytes), info);
});

test('a veth peer is an ifinfomsg followed by IFLA attributes', (t) => {
  const info: LinkInfo = {
    kind: 'veth',
    veth: { peer: { name: 'eth0', mtu: 1400, mac: '02:00:00:00:00:01', netnsFd: 7 } },
  };
  const bytes = encodeLinkInfo(info);
  t.deepEqual(
    bytes,
    hex(`
      09000100 76657468 00000000
      40000200
        3c000100
          00000000 00000000 00000000 00000000
          09000300 65746830 00000000
          08000400 78050000
          0a000100 02000000 00010000
          08001c00 07000000`),
  );
  t.deepEqual(decodeLinkInfo(bytes), info);
});

test('macvlan modes encode by name', (t) => {
  for (const [mode, value] of [['private', 1], ['vepa', 2], ['bridge', 4], ['passthru', 8], ['source', 16]] as const) {
    const bytes = encodeLinkInfo({ kind: 'macvlan', macvlan: { mode } });
    t.is(bytes.readUInt32LE(bytes.length - 4), value, mode);
    t.is(decodeLinkInfo(bytes).macvlan?.mode, mode);
  }
});

test('bridge-port slave data decodes to bridgePort; other kinds keep raw bytes', (t) => {
  const info: LinkInfo = { kind: 'veth', slaveKind: 'bridge', bridgePort: { hairpin: true, learning: false, state: 3 } };
  t.deepEqual(decodeLinkInfo(encodeLinkInfo(info)), info);
  const other: LinkInfo = {
    kind: 'wireguard',
    data: Buffer.from([8, 0, 1, 0, 1, 0, 0, 0]),
    slaveKind: 'bond',
    slaveData: Buffer.from([5, 0, 1, 0, 1, 0, 0, 0]),
  };
  t.deepEqual(decodeLinkInfo(encodeLinkInfo(other)), other);
});

test('IFLA_PROTINFO bridge-port payload: IFLA_BRPORT_MODE (hairpin) and IFLA_BRPORT_LEARNING as u8', (t) => {
  t.deepEqual(encodeBridgePortProtinfo({ hairpin: true, learning: false }), hex('05000400 01000000 05000800 00000000'));
  t.deepEqual(decodeAttrs(bridgePortSchema, hex('05000800 00000000 05000400 01000000')), { hairpin: true, learning: false });
});

test('encodeAttr pads to 4 bytes and can mark an attribute nested', (t) => {
  t.deepEqual(encodeAttr(3, Buffer.from('ab')), hex('06000300 61620000'));
  t.deepEqual(encodeAttr(12, Buffer.alloc(0), true), hex('04000c80'));
});

test('schemas skip undefined fields and flags that are false', (t) => {
  interface Sample {
    a?: number;
    b?: boolean;
  }
  const schema: AttrSchema<Sample> = { a: { type: 1, codec: u32 }, b: { type: 2, codec: flag } };
  t.deepEqual(encodeAttrs(schema, { b: false }), Buffer.alloc(0));
  t.deepEqual(encodeAttrs(schema, { a: 1, b: true }), hex('08000100 01000000 04000200'));
  t.deepEqual(decodeAttrs(schema, hex('04000200 08000100 01000000')), { a: 1, b: true });
});
