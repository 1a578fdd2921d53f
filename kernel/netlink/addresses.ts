/** Interface addresses (RTM_*ADDR), IPv4 and IPv6. */
import { AttrStream, rt } from './pkg';
import type { NetlinkConnection } from './connection';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFA_F_NODAD,
  IFA_F_NOPREFIXROUTE,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  SCOPES,
  type Scope,
  nameOf,
  valueOf,
} from './constants';
import { type IpFamily, bytesToIp, ipToBytes, ipv4Broadcast, parsePrefix } from './ip';
import { type LinkRef, type Links, describeLink } from './links';

export interface AddressOptions {
  /** IPv6: usable at once, without duplicate address detection (IFA_F_NODAD). */
  noDad?: boolean;
  /** Do not add the prefix route for the subnet (IFA_F_NOPREFIXROUTE). */
  noPrefixRoute?: boolean;
  /** Default: universe (global). */
  scope?: Scope | number;
  /**
   * IPv4 broadcast address. By default the subnet's last address for prefixes shorter than
   * /31 (as the Go netlink library the reference plugins use does); false for none.
   */
  broadcast?: string | false;
  /** IPv4 label (e.g. "eth0:1"). */
  label?: string;
}

export interface AddressEntry {
  index: number;
  family: IpFamily;
  address: string;
  prefixLength: number;
  /** "address/prefixLength". */
  cidr: string;
  scope: Scope | number;
  label?: string;
  broadcast?: string;
  noDad: boolean;
  noPrefixRoute: boolean;
  permanent: boolean;
  /** IPv6 duplicate address detection still running. */
  tentative: boolean;
  dadFailed: boolean;
}

const familyCode = (family: IpFamily) => (family === 4 ? AF_INET : AF_INET6);

function addressPayload(data: rt.Address, attrs: rt.AddressAttrs): Uint8Array[] {
  const out = new AttrStream();
  rt.formatAddressMessage({ kind: 'address', data, attrs }, out);
  return out.bufs;
}

export function addressFromMessage(msg: rt.AddressMessage): AddressEntry | undefined {
  const { data, attrs } = msg;
  const bytes = attrs.local ?? attrs.address;
  if (!bytes || (data.family !== AF_INET && data.family !== AF_INET6)) return undefined;
  // IFA_FLAGS (u32) supersedes the 8-bit ifa_flags when present.
  const flags = attrs.flags ?? data.flags ?? {};
  const address = bytesToIp(bytes);
  const prefixLength = data.prefixlen ?? 0;
  const entry: AddressEntry = {
    index: data.index ?? 0,
    family: data.family === AF_INET ? 4 : 6,
    address,
    prefixLength,
    cidr: `${address}/${prefixLength}`,
    scope: nameOf(SCOPES, data.scope ?? 0),
    noDad: Boolean(flags.nodad),
    noPrefixRoute: Boolean(flags.noprefixroute),
    permanent: Boolean(flags.permanent),
    tentative: Boolean(flags.tentative),
    dadFailed: Boolean(flags.dadfailed),
  };
  if (attrs.label !== undefined) entry.label = attrs.label;
  if (attrs.broadcast) entry.broadcast = bytesToIp(attrs.broadcast);
  return entry;
}

export class Addresses {
  constructor(
    private readonly conn: NetlinkConnection,
    private readonly links: Links,
  ) {}

  /** Adds "ADDRESS/LEN" to a link; NetlinkError EEXIST when it is already there. */
  async add(link: LinkRef, cidr: string, opts: AddressOptions = {}): Promise<void> {
    await this.write(link, cidr, opts, NLM_F_CREATE | NLM_F_EXCL, 'add');
  }

  /** Adds the address or updates its options when it is already there. */
  async replace(link: LinkRef, cidr: string, opts: AddressOptions = {}): Promise<void> {
    await this.write(link, cidr, opts, NLM_F_CREATE | NLM_F_REPLACE, 'replace');
  }

  /** Removes an address; NetlinkError EADDRNOTAVAIL when the link does not have it. */
  async delete(link: LinkRef, cidr: string): Promise<void> {
    const operation = `delete address ${cidr} from ${describeLink(link)}`;
    const prefix = parsePrefix(cidr);
    const index = await this.links.indexOf(link, operation);
    const bytes = ipToBytes(prefix.ip);
    const payload = addressPayload(
      { family: familyCode(prefix.family), prefixlen: prefix.length, index },
      { local: bytes, address: bytes },
    );
    await this.conn.change(rt.MessageType.DELADDR, payload, 0, operation);
  }

  async list(filter: { link?: LinkRef; family?: IpFamily } = {}): Promise<AddressEntry[]> {
    const index = filter.link === undefined ? undefined : await this.links.indexOf(filter.link, 'list addresses');
    const family = filter.family === undefined ? AF_UNSPEC : familyCode(filter.family);
    const replies = await this.conn.dump(rt.MessageType.GETADDR, addressPayload({ family }, {}), 'list addresses');
    return replies
      .filter((m): m is rt.AddressMessage => m.kind === 'address')
      .map(addressFromMessage)
      .filter((a): a is AddressEntry => a !== undefined)
      .filter((a) => (index === undefined || a.index === index) && (filter.family === undefined || a.family === filter.family));
  }

  private async write(link: LinkRef, cidr: string, opts: AddressOptions, flags: number, verb: string): Promise<void> {
    const operation = `${verb} address ${cidr} on ${describeLink(link)}`;
    const prefix = parsePrefix(cidr);
    const index = await this.links.indexOf(link, operation);
    const bytes = ipToBytes(prefix.ip);
    const attrs: rt.AddressAttrs = { local: bytes, address: bytes };
    if (prefix.family === 4) {
      const broadcast =
        opts.broadcast === undefined ? (prefix.length < 31 ? ipv4Broadcast(prefix.ip, prefix.length) : undefined) : opts.broadcast;
      if (broadcast) attrs.broadcast = ipToBytes(broadcast);
      if (opts.label !== undefined) attrs.label = opts.label;
    }
    const addrFlags = (opts.noDad ? IFA_F_NODAD : 0) | (opts.noPrefixRoute ? IFA_F_NOPREFIXROUTE : 0);
    // The header's ifa_flags is 8 bits wide; IFA_FLAGS carries the full set.
    if (addrFlags) attrs.flags = rt.parseAddressFlags(addrFlags);
    const data: rt.Address = {
      family: familyCode(prefix.family),
      prefixlen: prefix.length,
      scope: valueOf(SCOPES, opts.scope ?? 'universe'),
      index,
    };
    await this.conn.change(rt.MessageType.NEWADDR, addressPayload(data, attrs), flags, operation);
  }
}
