/**
 * IFLA_LINKINFO, the nested attribute that says what kind a link is and carries its kind-specific
 * settings. The `netlink` package passes it through as raw bytes; this module gives it types for
 * the kinds weft creates (veth, bridge, vxlan, macvlan) and for bridge ports (the "slave" data a
 * bridge keeps about each enslaved link). Attribute numbers are named as in <linux/if_link.h> and
 * <linux/veth.h>; values not listed here are skipped when decoding.
 */
import { AttrStream, ifla, rt } from './pkg';
import {
  type AttrSchema,
  type Codec,
  be16,
  be32,
  bool8,
  cstring,
  decodeAttrs,
  encodeAttr,
  encodeAttrs,
  flag,
  ipAddress,
  named,
  splitAttrs,
  u16,
  u32,
  u8,
} from './attrs';
import { bytesToMac, macToBytes } from './ip';

// IFLA_INFO_* --------------------------------------------------------------------------------
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_INFO_XSTATS = 3;
export const IFLA_INFO_SLAVE_KIND = 4;
export const IFLA_INFO_SLAVE_DATA = 5;

// <linux/veth.h>
export const VETH_INFO_PEER = 1;

// IFLA_BR_* (bridge device)
export const IFLA_BR_FORWARD_DELAY = 1;
export const IFLA_BR_HELLO_TIME = 2;
export const IFLA_BR_MAX_AGE = 3;
export const IFLA_BR_AGEING_TIME = 4;
export const IFLA_BR_STP_STATE = 5;
export const IFLA_BR_PRIORITY = 6;
export const IFLA_BR_VLAN_FILTERING = 7;
export const IFLA_BR_VLAN_PROTOCOL = 8;
export const IFLA_BR_GROUP_FWD_MASK = 9;
export const IFLA_BR_MCAST_SNOOPING = 23;
export const IFLA_BR_NF_CALL_IPTABLES = 36;
export const IFLA_BR_NF_CALL_IP6TABLES = 37;
export const IFLA_BR_VLAN_DEFAULT_PVID = 39;

// IFLA_BRPORT_* (a link's settings as a bridge port)
export const IFLA_BRPORT_STATE = 1;
export const IFLA_BRPORT_PRIORITY = 2;
export const IFLA_BRPORT_COST = 3;
export const IFLA_BRPORT_MODE = 4;
export const IFLA_BRPORT_GUARD = 5;
export const IFLA_BRPORT_PROTECT = 6;
export const IFLA_BRPORT_FAST_LEAVE = 7;
export const IFLA_BRPORT_LEARNING = 8;
export const IFLA_BRPORT_UNICAST_FLOOD = 9;
export const IFLA_BRPORT_PROXYARP = 10;
export const IFLA_BRPORT_MCAST_FLOOD = 27;
export const IFLA_BRPORT_MCAST_TO_UCAST = 28;
export const IFLA_BRPORT_VLAN_TUNNEL = 29;
export const IFLA_BRPORT_BCAST_FLOOD = 30;
export const IFLA_BRPORT_NEIGH_SUPPRESS = 32;
export const IFLA_BRPORT_ISOLATED = 33;

// IFLA_VXLAN_*
export const IFLA_VXLAN_ID = 1;
export const IFLA_VXLAN_GROUP = 2;
export const IFLA_VXLAN_LINK = 3;
export const IFLA_VXLAN_LOCAL = 4;
export const IFLA_VXLAN_TTL = 5;
export const IFLA_VXLAN_TOS = 6;
export const IFLA_VXLAN_LEARNING = 7;
export const IFLA_VXLAN_AGEING = 8;
export const IFLA_VXLAN_LIMIT = 9;
export const IFLA_VXLAN_PORT_RANGE = 10;
export const IFLA_VXLAN_PROXY = 11;
export const IFLA_VXLAN_RSC = 12;
export const IFLA_VXLAN_L2MISS = 13;
export const IFLA_VXLAN_L3MISS = 14;
export const IFLA_VXLAN_PORT = 15;
export const IFLA_VXLAN_GROUP6 = 16;
export const IFLA_VXLAN_LOCAL6 = 17;
export const IFLA_VXLAN_UDP_CSUM = 18;
export const IFLA_VXLAN_UDP_ZERO_CSUM6_TX = 19;
export const IFLA_VXLAN_UDP_ZERO_CSUM6_RX = 20;
export const IFLA_VXLAN_REMCSUM_TX = 21;
export const IFLA_VXLAN_REMCSUM_RX = 22;
export const IFLA_VXLAN_GBP = 23;
export const IFLA_VXLAN_REMCSUM_NOPARTIAL = 24;
export const IFLA_VXLAN_COLLECT_METADATA = 25;
export const IFLA_VXLAN_LABEL = 26;
export const IFLA_VXLAN_GPE = 27;
export const IFLA_VXLAN_TTL_INHERIT = 28;
export const IFLA_VXLAN_DF = 29;

// IFLA_MACVLAN_* and MACVLAN_MODE_*
export const IFLA_MACVLAN_MODE = 1;
export const IFLA_MACVLAN_FLAGS = 2;
export const IFLA_MACVLAN_MACADDR_COUNT = 6;
export const IFLA_MACVLAN_BC_QUEUE_LEN = 7;
export const IFLA_MACVLAN_BC_QUEUE_LEN_USED = 8;
export const MACVLAN_MODE_PRIVATE = 1;
export const MACVLAN_MODE_VEPA = 2;
export const MACVLAN_MODE_BRIDGE = 4;
export const MACVLAN_MODE_PASSTHRU = 8;
export const MACVLAN_MODE_SOURCE = 16;

// Typed kind data ---------------------------------------------------------------------------

export interface BridgeData {
  forwardDelay?: number;
  helloTime?: number;
  maxAge?: number;
  ageingTime?: number;
  stpState?: number;
  priority?: number;
  vlanFiltering?: boolean;
  /** Ethertype in network order on the wire: 0x8100 (802.1Q) or 0x88a8 (802.1ad). */
  vlanProtocol?: number;
  groupFwdMask?: number;
  mcastSnooping?: boolean;
  nfCallIptables?: boolean;
  nfCallIp6tables?: boolean;
  vlanDefaultPvid?: number;
}

const bridgeSchema: AttrSchema<BridgeData> = {
  forwardDelay: { type: IFLA_BR_FORWARD_DELAY, codec: u32 },
  helloTime: { type: IFLA_BR_HELLO_TIME, codec: u32 },
  maxAge: { type: IFLA_BR_MAX_AGE, codec: u32 },
  ageingTime: { type: IFLA_BR_AGEING_TIME, codec: u32 },
  stpState: { type: IFLA_BR_STP_STATE, codec: u32 },
  priority: { type: IFLA_BR_PRIORITY, codec: u16 },
  vlanFiltering: { type: IFLA_BR_VLAN_FILTERING, codec: bool8 },
  vlanProtocol: { type: IFLA_BR_VLAN_PROTOCOL, codec: be16 },
  groupFwdMask: { type: IFLA_BR_GROUP_FWD_MASK, codec: u16 },
  mcastSnooping: { type: IFLA_BR_MCAST_SNOOPING, codec: bool8 },
  nfCallIptables: { type: IFLA_BR_NF_CALL_IPTABLES, codec: bool8 },
  nfCallIp6tables: { type: IFLA_BR_NF_CALL_IP6TABLES, codec: bool8 },
  vlanDefaultPvid: { type: IFLA_BR_VLAN_DEFAULT_PVID, codec: u16 },
};

export interface BridgePortData {
  /** STP port state (BR_STATE_*: 3 = forwarding). */
  state?: number;
  priority?: number;
  cost?: number;
  /** IFLA_BRPORT_MODE: send frames back out of the port they came in on. */
  hairpin?: boolean;
  guard?: boolean;
  protect?: boolean;
  fastLeave?: boolean;
  learning?: boolean;
  unicastFlood?: boolean;
  proxyarp?: boolean;
  mcastFlood?: boolean;
  mcastToUcast?: boolean;
  vlanTunnel?: boolean;
  bcastFlood?: boolean;
  neighSuppress?: boolean;
  isolated?: boolean;
}

export const bridgePortSchema: AttrSchema<BridgePortData> = {
  state: { type: IFLA_BRPORT_STATE, codec: u8 },
  priority: { type: IFLA_BRPORT_PRIORITY, codec: u16 },
  cost: { type: IFLA_BRPORT_COST, codec: u32 },
  hairpin: { type: IFLA_BRPORT_MODE, codec: bool8 },
  guard: { type: IFLA_BRPORT_GUARD, codec: bool8 },
  protect: { type: IFLA_BRPORT_PROTECT, codec: bool8 },
  fastLeave: { type: IFLA_BRPORT_FAST_LEAVE, codec: bool8 },
  learning: { type: IFLA_BRPORT_LEARNING, codec: bool8 },
  unicastFlood: { type: IFLA_BRPORT_UNICAST_FLOOD, codec: bool8 },
  proxyarp: { type: IFLA_BRPORT_PROXYARP, codec: bool8 },
  mcastFlood: { type: IFLA_BRPORT_MCAST_FLOOD, codec: bool8 },
  mcastToUcast: { type: IFLA_BRPORT_MCAST_TO_UCAST, codec: bool8 },
  vlanTunnel: { type: IFLA_BRPORT_VLAN_TUNNEL, codec: bool8 },
  bcastFlood: { type: IFLA_BRPORT_BCAST_FLOOD, codec: bool8 },
  neighSuppress: { type: IFLA_BRPORT_NEIGH_SUPPRESS, codec: bool8 },
  isolated: { type: IFLA_BRPORT_ISOLATED, codec: bool8 },
};

export type VxlanDf = 'unset' | 'set' | 'inherit';
const VXLAN_DF: Readonly<Record<VxlanDf, number>> = { unset: 0, set: 1, inherit: 2 };

/** UDP source port range (struct ifla_vxlan_port_range: two big-endian u16). */
export interface PortRange {
  low: number;
  high: number;
}

const portRange: Codec<PortRange> = {
  encode: (v) => {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(v.low, 0);
    b.writeUInt16BE(v.high, 2);
    return b;
  },
  decode: (b) => ({ low: b.readUInt16BE(0), high: b.readUInt16BE(2) }),
};

/**
 * VXLAN settings. The kernel keeps IPv4 and IPv6 endpoints in separate attributes (LOCAL vs
 * LOCAL6, GROUP vs GROUP6); so does this type.
 */
export interface VxlanData {
  /** VNI. */
  id?: number;
  /** IPv4 remote or multicast group. */
  group?: string;
  /** Index of the underlying device. */
  link?: number;
  /** IPv4 source address. */
  local?: string;
  /** 0 means "inherit from the inner packet" unless ttlInherit. */
  ttl?: number;
  tos?: number;
  learning?: boolean;
  /** FDB entry lifetime, seconds. */
  ageing?: number;
  limit?: number;
  portRange?: PortRange;
  proxy?: boolean;
  rsc?: boolean;
  l2miss?: boolean;
  l3miss?: boolean;
  /** UDP destination port (the kernel's default, 8472, is not IANA's 4789). */
  port?: number;
  group6?: string;
  local6?: string;
  udpCsum?: boolean;
  udpZeroCsum6Tx?: boolean;
  udpZeroCsum6Rx?: boolean;
  remcsumTx?: boolean;
  remcsumRx?: boolean;
  gbp?: boolean;
  remcsumNopartial?: boolean;
  collectMetadata?: boolean;
  label?: number;
  gpe?: boolean;
  ttlInherit?: boolean;
  df?: VxlanDf | number;
}

const vxlanSchema: AttrSchema<VxlanData> = {
  id: { type: IFLA_VXLAN_ID, codec: u32 },
  group: { type: IFLA_VXLAN_GROUP, codec: ipAddress },
  link: { type: IFLA_VXLAN_LINK, codec: u32 },
  local: { type: IFLA_VXLAN_LOCAL, codec: ipAddress },
  ttl: { type: IFLA_VXLAN_TTL, codec: u8 },
  tos: { type: IFLA_VXLAN_TOS, codec: u8 },
  learning: { type: IFLA_VXLAN_LEARNING, codec: bool8 },
  ageing: { type: IFLA_VXLAN_AGEING, codec: u32 },
  limit: { type: IFLA_VXLAN_LIMIT, codec: u32 },
  portRange: { type: IFLA_VXLAN_PORT_RANGE, codec: portRange },
  proxy: { type: IFLA_VXLAN_PROXY, codec: bool8 },
  rsc: { type: IFLA_VXLAN_RSC, codec: bool8 },
  l2miss: { type: IFLA_VXLAN_L2MISS, codec: bool8 },
  l3miss: { type: IFLA_VXLAN_L3MISS, codec: bool8 },
  port: { type: IFLA_VXLAN_PORT, codec: be16 },
  group6: { type: IFLA_VXLAN_GROUP6, codec: ipAddress },
  local6: { type: IFLA_VXLAN_LOCAL6, codec: ipAddress },
  udpCsum: { type: IFLA_VXLAN_UDP_CSUM, codec: bool8 },
  udpZeroCsum6Tx: { type: IFLA_VXLAN_UDP_ZERO_CSUM6_TX, codec: bool8 },
  udpZeroCsum6Rx: { type: IFLA_VXLAN_UDP_ZERO_CSUM6_RX, codec: bool8 },
  remcsumTx: { type: IFLA_VXLAN_REMCSUM_TX, codec: bool8 },
  remcsumRx: { type: IFLA_VXLAN_REMCSUM_RX, codec: bool8 },
  gbp: { type: IFLA_VXLAN_GBP, codec: flag },
  remcsumNopartial: { type: IFLA_VXLAN_REMCSUM_NOPARTIAL, codec: flag },
  collectMetadata: { type: IFLA_VXLAN_COLLECT_METADATA, codec: bool8 },
  label: { type: IFLA_VXLAN_LABEL, codec: be32 },
  gpe: { type: IFLA_VXLAN_GPE, codec: flag },
  ttlInherit: { type: IFLA_VXLAN_TTL_INHERIT, codec: flag },
  df: { type: IFLA_VXLAN_DF, codec: named(u8, VXLAN_DF) },
};

export type MacvlanMode = 'private' | 'vepa' | 'bridge' | 'passthru' | 'source';
export const MACVLAN_MODES: Readonly<Record<MacvlanMode, number>> = {
  private: MACVLAN_MODE_PRIVATE,
  vepa: MACVLAN_MODE_VEPA,
  bridge: MACVLAN_MODE_BRIDGE,
  passthru: MACVLAN_MODE_PASSTHRU,
  source: MACVLAN_MODE_SOURCE,
};

export interface MacvlanData {
  mode?: MacvlanMode | number;
  /** MACVLAN_FLAG_* (1 = nopromisc). */
  flags?: number;
  macaddrCount?: number;
  bcQueueLen?: number;
  bcQueueLenUsed?: number;
}

const macvlanSchema: AttrSchema<MacvlanData> = {
  mode: { type: IFLA_MACVLAN_MODE, codec: named(u32, MACVLAN_MODES) },
  flags: { type: IFLA_MACVLAN_FLAGS, codec: u16 },
  macaddrCount: { type: IFLA_MACVLAN_MACADDR_COUNT, codec: u32 },
  bcQueueLen: { type: IFLA_MACVLAN_BC_QUEUE_LEN, codec: u32 },
  bcQueueLenUsed: { type: IFLA_MACVLAN_BC_QUEUE_LEN_USED, codec: u32 },
};

/**
 * The other end of a veth pair as given at creation (VETH_INFO_PEER: a struct ifinfomsg then
 * IFLA_* attributes). The kernel never dumps it back; a veth's IFLA_LINK names its peer instead.
 */
export interface VethPeer {
  name?: string;
  mtu?: number;
  mac?: string;
  /** An open fd of the namespace to create the peer in. */
  netnsFd?: number;
}

export interface VethData {
  peer?: VethPeer;
}

function encodeVethPeer(peer: VethPeer): Buffer {
  const attrs: ifla.LinkAttrs = {
    ifname: peer.name,
    mtu: peer.mtu,
    address: peer.mac === undefined ? undefined : macToBytes(peer.mac),
    netNsFd: peer.netnsFd,
  };
  const out = new AttrStream();
  out.emit(rt.formatLink({}));
  out.emit(ifla.formatLinkAttrs(attrs));
  return Buffer.concat(out.bufs);
}

function decodeVethPeer(data: Buffer): VethPeer {
  const attrs = ifla.parseLinkAttrs(data.subarray(rt.__LENGTH_Link));
  const peer: VethPeer = {};
  if (attrs.ifname !== undefined) peer.name = attrs.ifname;
  if (attrs.mtu !== undefined) peer.mtu = attrs.mtu;
  if (attrs.address !== undefined) peer.mac = bytesToMac(attrs.address);
  if (attrs.netNsFd !== undefined) peer.netnsFd = attrs.netNsFd;
  return peer;
}

const vethPeer: Codec<VethPeer> = { encode: encodeVethPeer, decode: decodeVethPeer };
const vethSchema: AttrSchema<VethData> = { peer: { type: VETH_INFO_PEER, codec: vethPeer } };

// IFLA_LINKINFO ------------------------------------------------------------------------------

/** A decoded IFLA_LINKINFO. At most one of the kind fields is set, matching `kind`. */
export interface LinkInfo {
  kind: string;
  veth?: VethData;
  bridge?: BridgeData;
  vxlan?: VxlanData;
  macvlan?: MacvlanData;
  /** IFLA_INFO_DATA of a kind this module does not decode. */
  data?: Buffer;
  /** Kind of the master this link is enslaved to ("bridge", "bond", ...). */
  slaveKind?: string;
  bridgePort?: BridgePortData;
  /** IFLA_INFO_SLAVE_DATA of a master kind this module does not decode. */
  slaveData?: Buffer;
}

function encodeKindData(info: LinkInfo): Buffer | undefined {
  switch (info.kind) {
    case 'veth':
      return info.veth && encodeAttrs(vethSchema, info.veth);
    case 'bridge':
      return info.bridge && encodeAttrs(bridgeSchema, info.bridge);
    case 'vxlan':
      return info.vxlan && encodeAttrs(vxlanSchema, info.vxlan);
    case 'macvlan':
      return info.macvlan && encodeAttrs(macvlanSchema, info.macvlan);
    default:
      return info.data;
  }
}

function decodeKindData(kind: string, data: Buffer): Partial<LinkInfo> {
  switch (kind) {
    case 'veth':
      return { veth: decodeAttrs(vethSchema, data) };
    case 'bridge':
      return { bridge: decodeAttrs(bridgeSchema, data) };
    case 'vxlan':
      return { vxlan: decodeAttrs(vxlanSchema, data) };
    case 'macvlan':
      return { macvlan: decodeAttrs(macvlanSchema, data) };
    default:
      return { data: Buffer.from(data) };
  }
}

/** The payload of an IFLA_LINKINFO attribute. */
export function encodeLinkInfo(info: LinkInfo): Buffer {
  const parts = [encodeAttr(IFLA_INFO_KIND, cstring.encode(info.kind) as Buffer)];
  const data = encodeKindData(info);
  if (data !== undefined) parts.push(encodeAttr(IFLA_INFO_DATA, data));
  if (info.slaveKind !== undefined) {
    parts.push(encodeAttr(IFLA_INFO_SLAVE_KIND, cstring.encode(info.slaveKind) as Buffer));
    const slaveData = info.slaveKind === 'bridge' && info.bridgePort ? encodeAttrs(bridgePortSchema, info.bridgePort) : info.slaveData;
    if (slaveData !== undefined) parts.push(encodeAttr(IFLA_INFO_SLAVE_DATA, slaveData));
  }
  return Buffer.concat(parts);
}

/** Decodes an IFLA_LINKINFO payload; IFLA_INFO_DATA may precede IFLA_INFO_KIND on the wire. */
export function decodeLinkInfo(payload: Buffer): LinkInfo {
  const attrs = new Map(splitAttrs(payload));
  const kindBytes = attrs.get(IFLA_INFO_KIND);
  const info: LinkInfo = { kind: kindBytes ? cstring.decode(kindBytes) : '' };
  const data = attrs.get(IFLA_INFO_DATA);
  if (data) Object.assign(info, decodeKindData(info.kind, data));
  const slaveKind = attrs.get(IFLA_INFO_SLAVE_KIND);
  if (slaveKind) info.slaveKind = cstring.decode(slaveKind);
  const slaveData = attrs.get(IFLA_INFO_SLAVE_DATA);
  if (slaveData) {
    if (info.slaveKind === 'bridge') info.bridgePort = decodeAttrs(bridgePortSchema, slaveData);
    else info.slaveData = Buffer.from(slaveData);
  }
  return info;
}

/** The payload of IFLA_PROTINFO for an AF_BRIDGE RTM_SETLINK (bridge port settings). */
export function encodeBridgePortProtinfo(port: BridgePortData): Buffer {
  return encodeAttrs(bridgePortSchema, port);
}
