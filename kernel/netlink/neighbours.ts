/**
 * Neighbour entries (RTM_*NEIGH): the IPv4 ARP / IPv6 ND tables, and the bridge forwarding
 * database (family AF_BRIDGE), where a VXLAN device keeps MAC -> remote VTEP entries (NDA_DST).
 */
import { AttrStream, getU32, putU16be, putU32, rt } from './pkg';
import type { NetlinkConnection } from './connection';
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  NEIGHBOUR_STATES,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NTF_MASTER,
  NTF_SELF,
  NUD_NOARP,
  NUD_PERMANENT,
  type NeighbourState,
} from './constants';
import { type IpFamily, bytesToIp, bytesToMac, familyOf, ipToBytes, macToBytes } from './ip';
import { type LinkRef, type Links, describeLink } from './links';

function statesOf(state: number): NeighbourState[] {
  return (Object.entries(NEIGHBOUR_STATES) as [NeighbourState, number][]).filter(([, bit]) => state & bit).map(([name]) => name);
}

function stateBits(states: NeighbourState[]): number {
  return states.reduce((acc, s) => acc | NEIGHBOUR_STATES[s], 0);
}

function neighbourPayload(data: rt.Neighbor, attrs: rt.NeighborAttrs): Uint8Array[] {
  const out = new AttrStream();
  rt.formatNeighborMessage({ kind: 'neighbor', data, attrs }, out);
  return out.bufs;
}

const numberOfState = (s: rt.NeighborState | undefined) => (s ? rt.formatNeighborState(s) : 0);
const numberOfFlags = (f: rt.NeighborFlags | undefined) => (f ? rt.formatNeighborFlags(f) : 0);

// IP neighbours -----------------------------------------------------------------------------

export interface NeighbourSpec {
  link: LinkRef;
  ip: string;
  mac: string;
  /** Default ['permanent']. */
  state?: NeighbourState[];
}

export interface NeighbourEntry {
  index: number;
  family: IpFamily;
  ip: string;
  mac?: string;
  state: NeighbourState[];
}

export function neighbourFromMessage(msg: rt.NeighborMessage): NeighbourEntry | undefined {
  const { data, attrs } = msg;
  if ((data.family !== AF_INET && data.family !== AF_INET6) || !attrs.dst) return undefined;
  const entry: NeighbourEntry = {
    index: data.ifindex ?? 0,
    family: data.family === AF_INET ? 4 : 6,
    ip: bytesToIp(attrs.dst),
    state: statesOf(numberOfState(data.state)),
  };
  if (attrs.lladdr && attrs.lladdr.length > 0) entry.mac = bytesToMac(attrs.lladdr);
  return entry;
}

export class Neighbours {
  constructor(
    private readonly conn: NetlinkConnection,
    private readonly links: Links,
  ) {}

  /** Adds the entry or overwrites the one for the same IP on the link (ip neigh replace). */
  async replace(spec: NeighbourSpec): Promise<void> {
    await this.write(spec, NLM_F_CREATE | NLM_F_REPLACE, 'replace');
  }

  /** Adds the entry; NetlinkError EEXIST when there is one for that IP. */
  async add(spec: NeighbourSpec): Promise<void> {
    await this.write(spec, NLM_F_CREATE | NLM_F_EXCL, 'add');
  }

  /** Deletes the entry; NetlinkError ENOENT when there is none. */
  async delete(spec: { link: LinkRef; ip: string }): Promise<void> {
    const operation = `delete neighbour ${spec.ip} on ${describeLink(spec.link)}`;
    const ifindex = await this.links.indexOf(spec.link, operation);
    const family = familyOf(spec.ip) === 4 ? AF_INET : AF_INET6;
    await this.conn.change(rt.MessageType.DELNEIGH, neighbourPayload({ family, ifindex }, { dst: ipToBytes(spec.ip) }), 0, operation);
  }

  async list(filter: { link?: LinkRef; family?: IpFamily } = {}): Promise<NeighbourEntry[]> {
    const index = filter.link === undefined ? undefined : await this.links.indexOf(filter.link, 'list neighbours');
    const family = filter.family === undefined ? AF_UNSPEC : filter.family === 4 ? AF_INET : AF_INET6;
    const replies = await this.conn.dump(rt.MessageType.GETNEIGH, neighbourPayload({ family }, {}), 'list neighbours');
    return replies
      .filter((m): m is rt.NeighborMessage => m.kind === 'neighbor')
      .map(neighbourFromMessage)
      .filter((n): n is NeighbourEntry => n !== undefined)
      .filter((n) => (index === undefined || n.index === index) && (filter.family === undefined || n.family === filter.family));
  }

  private async write(spec: NeighbourSpec, flags: number, verb: string): Promise<void> {
    const operation = `${verb} neighbour ${spec.ip} lladdr ${spec.mac} on ${describeLink(spec.link)}`;
    const ifindex = await this.links.indexOf(spec.link, operation);
    const data: rt.Neighbor = {
      family: familyOf(spec.ip) === 4 ? AF_INET : AF_INET6,
      ifindex,
      state: rt.parseNeighborState(stateBits(spec.state ?? ['permanent'])),
    };
    const attrs: rt.NeighborAttrs = { dst: ipToBytes(spec.ip), lladdr: macToBytes(spec.mac) };
    await this.conn.change(rt.MessageType.NEWNEIGH, neighbourPayload(data, attrs), flags, operation);
  }
}

// Bridge FDB --------------------------------------------------------------------------------

export interface FdbSpec {
  /** The device the entry belongs to (a vxlan device, or a bridge port). */
  link: LinkRef;
  /** "00:00:00:00:00:00" on a vxlan device is the default destination for flooding. */
  mac: string;
  /** Remote VTEP (NDA_DST). */
  dst?: string;
  vni?: number;
  /** Remote UDP port. */
  port?: number;
  vlan?: number;
  /**
   * Where the entry lives: the device's own table (NTF_SELF, the default, what a vxlan device
   * uses) or its master bridge's (NTF_MASTER).
   */
  table?: 'self' | 'master';
}

export interface FdbEntry {
  index: number;
  mac: string;
  dst?: string;
  vni?: number;
  port?: number;
  vlan?: number;
  self: boolean;
  master: boolean;
  masterIndex?: number;
  state: NeighbourState[];
}

export function fdbFromMessage(msg: rt.NeighborMessage): FdbEntry | undefined {
  const { data, attrs } = msg;
  if (data.family !== AF_BRIDGE || !attrs.lladdr) return undefined;
  const flags = numberOfFlags(data.flags);
  const entry: FdbEntry = {
    index: data.ifindex ?? 0,
    mac: bytesToMac(attrs.lladdr),
    self: (flags & NTF_SELF) !== 0,
    master: (flags & NTF_MASTER) !== 0,
    state: statesOf(numberOfState(data.state)),
  };
  if (attrs.dst) entry.dst = bytesToIp(attrs.dst);
  if (attrs.vni) entry.vni = getU32(attrs.vni);
  if (attrs.port) entry.port = attrs.port.readUInt16BE(0);
  if (attrs.vlan !== undefined) entry.vlan = attrs.vlan;
  if (attrs.master !== undefined) entry.masterIndex = attrs.master;
  return entry;
}

function describeFdb(spec: FdbSpec): string {
  return `fdb entry ${spec.mac}${spec.dst ? ` dst ${spec.dst}` : ''} on ${describeLink(spec.link)}`;
}

export class Fdb {
  constructor(
    private readonly conn: NetlinkConnection,
    private readonly links: Links,
  ) {}

  /** Adds another entry for the MAC (how a vxlan device gets several flood destinations). */
  async append(spec: FdbSpec): Promise<void> {
    await this.write(spec, NLM_F_CREATE | NLM_F_APPEND, 'append');
  }

  /** Adds the entry or replaces the one for the MAC. */
  async replace(spec: FdbSpec): Promise<void> {
    await this.write(spec, NLM_F_CREATE | NLM_F_REPLACE, 'replace');
  }

  async add(spec: FdbSpec): Promise<void> {
    await this.write(spec, NLM_F_CREATE | NLM_F_EXCL, 'add');
  }

  /** Deletes the entry (with `dst`, only that destination of a multi-destination MAC). */
  async delete(spec: FdbSpec): Promise<void> {
    const operation = `delete ${describeFdb(spec)}`;
    const { data, attrs } = await this.message(spec, operation);
    await this.conn.change(rt.MessageType.DELNEIGH, neighbourPayload(data, attrs), 0, operation);
  }

  async list(filter: { link?: LinkRef } = {}): Promise<FdbEntry[]> {
    const index = filter.link === undefined ? undefined : await this.links.indexOf(filter.link, 'list fdb entries');
    const replies = await this.conn.dump(rt.MessageType.GETNEIGH, neighbourPayload({ family: AF_BRIDGE }, {}), 'list fdb entries');
    return replies
      .filter((m): m is rt.NeighborMessage => m.kind === 'neighbor')
      .map(fdbFromMessage)
      .filter((e): e is FdbEntry => e !== undefined)
      .filter((e) => index === undefined || e.index === index);
  }

  private async write(spec: FdbSpec, flags: number, verb: string): Promise<void> {
    const operation = `${verb} ${describeFdb(spec)}`;
    const { data, attrs } = await this.message(spec, operation);
    await this.conn.change(rt.MessageType.NEWNEIGH, neighbourPayload(data, attrs), flags, operation);
  }

  private async message(spec: FdbSpec, operation: string): Promise<{ data: rt.Neighbor; attrs: rt.NeighborAttrs }> {
    const ifindex = await this.links.indexOf(spec.link, operation);
    const data: rt.Neighbor = {
      family: AF_BRIDGE,
      ifindex,
      // What `bridge fdb add` sends: a static entry that is never resolved.
      state: rt.parseNeighborState(NUD_PERMANENT | NUD_NOARP),
      flags: rt.parseNeighborFlags(spec.table === 'master' ? NTF_MASTER : NTF_SELF),
    };
    const attrs: rt.NeighborAttrs = { lladdr: macToBytes(spec.mac) };
    if (spec.dst !== undefined) attrs.dst = ipToBytes(spec.dst);
    if (spec.vni !== undefined) attrs.vni = putU32(spec.vni);
    if (spec.port !== undefined) attrs.port = putU16be(spec.port);
    if (spec.vlan !== undefined) attrs.vlan = spec.vlan;
    return { data, attrs };
  }
}
