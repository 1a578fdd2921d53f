/**
 * rtnetlink numbers weft uses outside the link-kind attributes (those live in linkinfo.ts), named
 * as in the kernel's uapi headers so that a reader can grep them there. The `netlink` package has
 * most of them as camel-cased enum members; spelling them out once here keeps call sites readable
 * and free of bare numbers.
 */

// <linux/socket.h>
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

// <linux/netlink.h>
export const NLM_F_REQUEST = 0x01;
export const NLM_F_ACK = 0x04;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** Set in nla_type when the attribute's payload is itself a list of attributes. */
export const NLA_F_NESTED = 0x8000;
export const NLMSG_ERROR = 2;

// <linux/if.h>
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
export const IFF_PROMISC = 0x100;
export const IFF_LOWER_UP = 0x10000;

// <linux/if_link.h>, top-level IFLA_* attributes the package's LinkAttrs cannot express well
export const IFLA_PROTINFO = 12;

/** RFC 2863 operational states (IF_OPER_*), indexed by value. */
export const IF_OPER_STATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
export type OperState = (typeof IF_OPER_STATES)[number];

// <linux/rtnetlink.h>
export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

export const RTPROT_UNSPEC = 0;
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;

export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_ANYCAST = 4;
export const RTN_MULTICAST = 5;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_PROHIBIT = 8;
export const RTN_THROW = 9;

/** rtm_flags bit: the gateway is on the link even if no address says so. */
export const RTNH_F_ONLINK = 0x4;

// <linux/if_addr.h>
export const IFA_F_NODAD = 0x02;
export const IFA_F_NOPREFIXROUTE = 0x200;

// <linux/neighbour.h>
export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_DELAY = 0x08;
export const NUD_PROBE = 0x10;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;

export const NTF_SELF = 0x02;
export const NTF_MASTER = 0x04;

/** Scope names as `ip` prints them. */
export type Scope = 'universe' | 'site' | 'link' | 'host' | 'nowhere';
export const SCOPES: Readonly<Record<Scope, number>> = {
  universe: RT_SCOPE_UNIVERSE,
  site: RT_SCOPE_SITE,
  link: RT_SCOPE_LINK,
  host: RT_SCOPE_HOST,
  nowhere: RT_SCOPE_NOWHERE,
};

/** Route types (RTN_*) weft may add or meet when listing. */
export type RouteType =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'anycast'
  | 'multicast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'throw';
export const ROUTE_TYPES: Readonly<Record<RouteType, number>> = {
  unicast: RTN_UNICAST,
  local: RTN_LOCAL,
  broadcast: RTN_BROADCAST,
  anycast: RTN_ANYCAST,
  multicast: RTN_MULTICAST,
  blackhole: RTN_BLACKHOLE,
  unreachable: RTN_UNREACHABLE,
  prohibit: RTN_PROHIBIT,
  throw: RTN_THROW,
};

/** Neighbour states (NUD_*), each a bit. */
export type NeighbourState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed' | 'noarp' | 'permanent';
export const NEIGHBOUR_STATES: Readonly<Record<NeighbourState, number>> = {
  incomplete: NUD_INCOMPLETE,
  reachable: NUD_REACHABLE,
  stale: NUD_STALE,
  delay: NUD_DELAY,
  probe: NUD_PROBE,
  failed: NUD_FAILED,
  noarp: NUD_NOARP,
  permanent: NUD_PERMANENT,
};

/** Name of a value in one of the tables above, or the number itself when it has none. */
export function nameOf<N extends string>(table: Readonly<Record<N, number>>, value: number): N | number {
  for (const [name, v] of Object.entries(table) as [N, number][]) if (v === value) return name;
  return value;
}

/** Value of a name (or a number passed through). */
export function valueOf<N extends string>(table: Readonly<Record<N, number>>, nameOrValue: N | number): number {
  return typeof nameOrValue === 'number' ? nameOrValue : table[nameOrValue];
}
