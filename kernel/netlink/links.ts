/**
 * Network devices (RTM_*LINK): read them back with their kind-specific settings, create the kinds
 * weft needs (veth, bridge, vxlan, macvlan), and change them (up/down, MTU, MAC, master, name,
 * namespace, promiscuity, bridge-port options).
 */
import fs from 'node:fs';
import { AttrStream, getU32, ifla, putU32, rt } from './pkg';
import { encodeAttr } from './attrs';
import type { NetlinkConnection } from './connection';
import {
  AF_BRIDGE,
  AF_UNSPEC,
  IF_OPER_STATES,
  IFF_LOWER_UP,
  IFF_PROMISC,
  IFF_RUNNING,
  IFF_UP,
  IFLA_PROTINFO,
  NLM_F_CREATE,
  NLM_F_EXCL,
  type OperState,
} from './constants';
import { isNetlinkError } from './errors';
import { familyOf, bytesToMac, macToBytes } from './ip';
import {
  type BridgeData,
  type BridgePortData,
  type LinkInfo,
  type MacvlanMode,
  type VxlanData,
  decodeLinkInfo,
  encodeBridgePortProtinfo,
  encodeLinkInfo,
} from './linkinfo';

/** A link by name or by ifindex. */
export type LinkRef = string | number;

/** A network namespace by path (/var/run/netns/x, /proc/PID/ns/net) or by an fd the caller holds open. */
export type NetnsRef = string | number;

export interface Link {
  index: number;
  name: string;
  mtu: number;
  /** Hardware address, lowercase "aa:bb:cc:dd:ee:ff". */
  mac?: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** The driver reports carrier (IFF_LOWER_UP). */
  lowerUp: boolean;
  /** IFF_RUNNING. */
  running: boolean;
  operState: OperState | number;
  promisc: boolean;
  /** Index of the bridge (or other master) this link is enslaved to. */
  masterIndex?: number;
  /**
   * IFLA_LINK: for a veth its peer's index, for a macvlan/vxlan its lower device; in the
   * namespace `parentNetnsId` names when that is set (the peer lives in another namespace).
   */
  parentIndex?: number;
  parentNetnsId?: number;
  /** For a veth: its peer's ifindex (same as parentIndex). */
  peerIndex?: number;
  kind?: string;
  /** Decoded IFLA_LINKINFO: kind data (`info.vxlan`, ...) and bridge-port data (`info.bridgePort`). */
  info?: LinkInfo;
}

function deviceFlagsToNumber(flags: rt.DeviceFlags | undefined): number {
  return flags ? rt.formatDeviceFlags(flags) : 0;
}

export function linkFromMessage(msg: rt.LinkMessage): Link {
  const { data, attrs } = msg;
  const flags = deviceFlagsToNumber(data.flags);
  const operState = attrs.operstate ?? 0;
  const link: Link = {
    index: data.index ?? 0,
    name: attrs.ifname ?? '',
    mtu: attrs.mtu ?? 0,
    up: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    running: (flags & IFF_RUNNING) !== 0,
    operState: IF_OPER_STATES[operState] ?? operState,
    promisc: (flags & IFF_PROMISC) !== 0,
  };
  if (attrs.address && attrs.address.length > 0) link.mac = bytesToMac(attrs.address);
  if (attrs.master) link.masterIndex = attrs.master;
  if (attrs.link && attrs.link.length === 4) link.parentIndex = getU32(attrs.link);
  if (attrs.linkNetnsid !== undefined) link.parentNetnsId = attrs.linkNetnsid;
  if (attrs.linkinfo) {
    link.info = decodeLinkInfo(attrs.linkinfo);
    if (link.info.kind) link.kind = link.info.kind;
  }
  if (link.kind === 'veth' && link.parentIndex !== undefined) link.peerIndex = link.parentIndex;
  return link;
}

/** Settings every created link may take. */
export interface CreateLinkOptions {
  name: string;
  mtu?: number;
  mac?: string;
  /** Bring the link up as part of creating it. */
  up?: boolean;
}

export interface VethOptions extends CreateLinkOptions {
  peer: {
    name: string;
    /** Defaults to the first end's MTU. */
    mtu?: number;
    mac?: string;
    /** Namespace to create the peer in; defaults to the handle's own. */
    netns?: NetnsRef;
  };
}

export interface BridgeOptions extends CreateLinkOptions {
  vlanFiltering?: boolean;
  /** Any other IFLA_BR_* settings. */
  bridge?: Omit<BridgeData, 'vlanFiltering'>;
}

export interface VxlanOptions
  extends CreateLinkOptions,
    Omit<VxlanData, 'id' | 'local' | 'local6' | 'group' | 'group6' | 'link'> {
  vni: number;
  /** Source address, IPv4 or IPv6. */
  local?: string;
  /** Remote VTEP or multicast group, IPv4 or IPv6 (none for an FDB-driven device). */
  remote?: string;
  /** Underlying device. */
  dev?: LinkRef;
}

export interface MacvlanOptions extends CreateLinkOptions {
  master: LinkRef;
  mode: MacvlanMode;
  /** Create it here (where `master` is) but place it in this namespace. */
  netns?: NetnsRef;
}

/** Runs `fn` with fds for the namespaces; paths are opened for the request only, given fds kept. */
async function withNetnsFd<T>(ns: NetnsRef | undefined, fn: (fd: number | undefined) => Promise<T>): Promise<T> {
  if (typeof ns !== 'string') return fn(ns);
  const fd = fs.openSync(ns, fs.constants.O_RDONLY);
  try {
    return await fn(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const describeNetns = (ns: NetnsRef) => (typeof ns === 'number' ? `netns fd ${ns}` : `netns ${ns}`);

function linkPayload(data: rt.Link, attrs: ifla.LinkAttrs, extra: Buffer[] = []): Uint8Array[] {
  const out = new AttrStream();
  rt.formatLinkMessage({ kind: 'link', data, attrs }, out);
  if (extra.length === 0) return out.bufs;
  // Raw attributes the package cannot express (it drops NLA_F_NESTED), aligned after the rest.
  const base = Buffer.concat(out.bufs);
  return [base, Buffer.alloc((4 - (base.length % 4)) % 4), ...extra];
}

/** 'link "eth0"' or 'link #3', for messages. */
export const describeLink = (ref: LinkRef): string => (typeof ref === 'number' ? `link #${ref}` : `link ${JSON.stringify(ref)}`);

export class Links {
  constructor(private readonly conn: NetlinkConnection) {}

  async list(): Promise<Link[]> {
    const replies = await this.conn.dump(rt.MessageType.GETLINK, linkPayload({ family: AF_UNSPEC }, {}), 'list links');
    return replies.filter((m): m is rt.LinkMessage => m.kind === 'link').map(linkFromMessage);
  }

  /** The link, or NetlinkError ENODEV. */
  async get(ref: LinkRef, operation = `get ${describeLink(ref)}`): Promise<Link> {
    const payload =
      typeof ref === 'number'
        ? linkPayload({ family: AF_UNSPEC, index: ref }, {})
        : linkPayload({ family: AF_UNSPEC }, { ifname: ref });
    const replies = await this.conn.get(rt.MessageType.GETLINK, payload, operation);
    const msg = replies.find((m): m is rt.LinkMessage => m.kind === 'link');
    if (!msg) throw new Error(`${operation}: the kernel sent no link`);
    return linkFromMessage(msg);
  }

  /** The link, or undefined when there is none by that name or index. */
  async find(ref: LinkRef): Promise<Link | undefined> {
    try {
      return await this.get(ref);
    } catch (err) {
      if (isNetlinkError(err, 'ENODEV')) return undefined;
      throw err;
    }
  }

  /** Resolves a name to an ifindex; errors name the operation that needed it. */
  async indexOf(ref: LinkRef, operation: string): Promise<number> {
    return typeof ref === 'number' ? ref : (await this.get(ref, operation)).index;
  }

  async createVeth(opts: VethOptions): Promise<Link> {
    const where = opts.peer.netns === undefined ? '' : ` in ${describeNetns(opts.peer.netns)}`;
    const operation = `create veth ${JSON.stringify(opts.name)} with peer ${JSON.stringify(opts.peer.name)}${where}`;
    await withNetnsFd(opts.peer.netns, (peerNetnsFd) =>
      this.create(operation, opts, {
        kind: 'veth',
        veth: {
          peer: { name: opts.peer.name, mtu: opts.peer.mtu ?? opts.mtu, mac: opts.peer.mac, netnsFd: peerNetnsFd },
        },
      }),
    );
    return this.get(opts.name, operation);
  }

  async createBridge(opts: BridgeOptions): Promise<Link> {
    const operation = `create bridge ${JSON.stringify(opts.name)}`;
    // Off is the default, and a kernel built without CONFIG_BRIDGE_VLAN_FILTERING refuses the
    // attribute whatever its value (EOPNOTSUPP): send it only to turn filtering on.
    const bridge: BridgeData = { ...opts.bridge, vlanFiltering: opts.vlanFiltering ? true : undefined };
    await this.create(operation, opts, { kind: 'bridge', bridge });
    return this.get(opts.name, operation);
  }

  async createVxlan(opts: VxlanOptions): Promise<Link> {
    const operation = `create vxlan ${JSON.stringify(opts.name)} (vni ${opts.vni})`;
    const { name: _n, mtu: _m, mac: _a, up: _u, vni, local, remote, dev, ...settings } = opts;
    const vxlan: VxlanData = { id: vni, ...settings };
    if (local !== undefined) vxlan[familyOf(local) === 4 ? 'local' : 'local6'] = local;
    if (remote !== undefined) vxlan[familyOf(remote) === 4 ? 'group' : 'group6'] = remote;
    if (dev !== undefined) vxlan.link = await this.indexOf(dev, operation);
    await this.create(operation, opts, { kind: 'vxlan', vxlan });
    return this.get(opts.name, operation);
  }

  /**
   * Creates a macvlan on `master`. With `netns` the kernel creates it here and moves it there in
   * the same request; it then resolves undefined (read it back through a handle in that namespace).
   */
  async createMacvlan(opts: MacvlanOptions): Promise<Link | undefined> {
    const where = opts.netns === undefined ? '' : ` into ${describeNetns(opts.netns)}`;
    const operation = `create macvlan ${JSON.stringify(opts.name)} on ${describeLink(opts.master)}${where}`;
    const masterIndex = await this.indexOf(opts.master, operation);
    await withNetnsFd(opts.netns, (netnsFd) =>
      this.create(
        operation,
        opts,
        { kind: 'macvlan', macvlan: { mode: opts.mode } },
        { link: putU32(masterIndex), netNsFd: netnsFd },
      ),
    );
    return opts.netns === undefined ? this.get(opts.name, operation) : undefined;
  }

  async setUp(ref: LinkRef): Promise<void> {
    await this.setFlags(ref, `set ${describeLink(ref)} up`, { up: true }, { up: true });
  }

  async setDown(ref: LinkRef): Promise<void> {
    await this.setFlags(ref, `set ${describeLink(ref)} down`, {}, { up: true });
  }

  async setPromisc(ref: LinkRef, on: boolean): Promise<void> {
    const operation = `set promisc ${on ? 'on' : 'off'} on ${describeLink(ref)}`;
    await this.setFlags(ref, operation, on ? { promisc: true } : {}, { promisc: true });
  }

  async setMtu(ref: LinkRef, mtu: number): Promise<void> {
    await this.set(ref, `set mtu ${mtu} on ${describeLink(ref)}`, { mtu });
  }

  async setMac(ref: LinkRef, mac: string): Promise<void> {
    await this.set(ref, `set address ${mac} on ${describeLink(ref)}`, { address: macToBytes(mac) });
  }

  /** Enslaves the link to a bridge (or other master). */
  async setMaster(ref: LinkRef, master: LinkRef): Promise<void> {
    const operation = `set master of ${describeLink(ref)} to ${describeLink(master)}`;
    await this.set(ref, operation, { master: await this.indexOf(master, operation) });
  }

  /** Releases the link from its master (no-op when it has none). */
  async releaseMaster(ref: LinkRef): Promise<void> {
    await this.set(ref, `release ${describeLink(ref)} from its master`, { master: 0 });
  }

  /** Renames a link (kernels before 6.2 refuse to rename one that is up: EBUSY). */
  async rename(ref: LinkRef, newName: string): Promise<void> {
    await this.set(ref, `rename ${describeLink(ref)} to ${JSON.stringify(newName)}`, { ifname: newName });
  }

  /** Moves the link to another namespace, optionally renaming it on the way. */
  async moveToNetns(ref: LinkRef, netns: NetnsRef, opts: { name?: string } = {}): Promise<void> {
    const operation = `move ${describeLink(ref)} to ${describeNetns(netns)}${opts.name ? ` as ${JSON.stringify(opts.name)}` : ''}`;
    await withNetnsFd(netns, (fd) => this.set(ref, operation, { netNsFd: fd, ifname: opts.name }));
  }

  async delete(ref: LinkRef): Promise<void> {
    const operation = `delete ${describeLink(ref)}`;
    const index = await this.indexOf(ref, operation);
    await this.conn.change(rt.MessageType.DELLINK, linkPayload({ family: AF_UNSPEC, index }, {}), 0, operation);
  }

  /**
   * Changes options of an existing bridge; read them back as `link.info.bridge`. The kernel
   * applies kind data to an existing link only through RTM_NEWLINK (without NLM_F_CREATE), as
   * `ip link set DEV type bridge ...` does: RTM_SETLINK ignores IFLA_LINKINFO.
   */
  async setBridgeOptions(ref: LinkRef, bridge: Omit<BridgeData, 'vlanFiltering'>): Promise<void> {
    const operation = `set bridge options ${JSON.stringify(bridge)} on ${describeLink(ref)}`;
    const index = await this.indexOf(ref, operation);
    const payload = linkPayload({ family: AF_UNSPEC, index }, { linkinfo: encodeLinkInfo({ kind: 'bridge', bridge }) });
    await this.conn.change(rt.MessageType.NEWLINK, payload, 0, operation);
  }

  /**
   * Sets bridge-port options of an enslaved link (AF_BRIDGE RTM_SETLINK with a nested
   * IFLA_PROTINFO); read them back as `link.info.bridgePort`.
   */
  async setBridgePort(ref: LinkRef, port: BridgePortData): Promise<void> {
    const operation = `set bridge port options ${JSON.stringify(port)} on ${describeLink(ref)}`;
    const index = await this.indexOf(ref, operation);
    const protinfo = encodeAttr(IFLA_PROTINFO, encodeBridgePortProtinfo(port), true);
    const payload = linkPayload({ family: AF_BRIDGE, index }, {}, [protinfo]);
    await this.conn.change(rt.MessageType.SETLINK, payload, 0, operation);
  }

  private async create(
    operation: string,
    opts: CreateLinkOptions,
    info: LinkInfo,
    attrs: ifla.LinkAttrs = {},
  ): Promise<void> {
    const data: rt.Link = opts.up ? { family: AF_UNSPEC, flags: { up: true }, change: { up: true } } : { family: AF_UNSPEC };
    const payload = linkPayload(data, {
      ...attrs,
      ifname: opts.name,
      mtu: opts.mtu,
      address: opts.mac === undefined ? undefined : macToBytes(opts.mac),
      linkinfo: encodeLinkInfo(info),
    });
    await this.conn.change(rt.MessageType.NEWLINK, payload, NLM_F_CREATE | NLM_F_EXCL, operation);
  }

  private async set(ref: LinkRef, operation: string, attrs: ifla.LinkAttrs): Promise<void> {
    const index = await this.indexOf(ref, operation);
    await this.conn.change(rt.MessageType.SETLINK, linkPayload({ family: AF_UNSPEC, index }, attrs), 0, operation);
  }

  private async setFlags(ref: LinkRef, operation: string, flags: rt.DeviceFlags, change: rt.DeviceFlags): Promise<void> {
    const index = await this.indexOf(ref, operation);
    await this.conn.change(rt.MessageType.SETLINK, linkPayload({ family: AF_UNSPEC, index, flags, change }, {}), 0, operation);
  }
}
