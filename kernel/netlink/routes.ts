/**
 * Routes (RTM_*ROUTE), IPv4 and IPv6. Defaults follow `ip route`: protocol boot, type unicast,
 * scope link for a route without gateway and universe otherwise, table main. Deleting matches on
 * what the spec gives (destination and table always; gateway, device, metric when set).
 */
import { AttrStream, getU32, putU32, rt } from './pkg';
import type { NetlinkConnection } from './connection';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  ROUTE_TYPES,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTN_UNICAST,
  RTNH_F_ONLINK,
  RTPROT_BOOT,
  type RouteType,
  SCOPES,
  type Scope,
  nameOf,
  valueOf,
} from './constants';
import { AddressFormatError, type IpFamily, bytesToIp, familyOf, ipToBytes, parsePrefix } from './ip';
import type { LinkRef, Links } from './links';

export interface RouteSpec {
  /** "CIDR" or "default" (the family then comes from gateway, src or `family`). */
  dst: string;
  family?: IpFamily;
  gateway?: string;
  dev?: LinkRef;
  /** Treat the gateway as directly reachable on `dev` (RTNH_F_ONLINK). */
  onLink?: boolean;
  /** Routing table; default main (254). */
  table?: number;
  scope?: Scope | number;
  /** RTA_PRIORITY: lower wins. */
  metric?: number;
  /** RTAX_MTU route metric. */
  mtu?: number;
  /** RTAX_ADVMSS route metric. */
  advmss?: number;
  /** RTPROT_*; default boot (3), as `ip route` does. */
  protocol?: number;
  /** Preferred source address (RTA_PREFSRC). */
  src?: string;
  type?: RouteType;
}

export interface RouteEntry {
  family: IpFamily;
  /** Destination as CIDR ("0.0.0.0/0" / "::/0" for default). */
  dst: string;
  gateway?: string;
  /** Output device index. */
  oif?: number;
  onLink: boolean;
  table: number;
  scope: Scope | number;
  metric?: number;
  mtu?: number;
  advmss?: number;
  protocol: number;
  src?: string;
  type: RouteType | number;
}

const familyCode = (family: IpFamily) => (family === 4 ? AF_INET : AF_INET6);

function routeFamily(spec: RouteSpec): IpFamily {
  if (spec.dst !== 'default') return parsePrefix(spec.dst).family;
  const hint = spec.gateway ?? spec.src;
  if (hint !== undefined) return familyOf(hint);
  if (spec.family !== undefined) return spec.family;
  throw new AddressFormatError('a "default" route needs a gateway, a src or an explicit family');
}

/** rtmsg + attributes of a route message; `dev` already resolved to an index. */
export function routeMessage(spec: RouteSpec, oif: number | undefined, forDelete: boolean): rt.RouteMessage {
  const family = routeFamily(spec);
  const dst = spec.dst === 'default' ? undefined : parsePrefix(spec.dst);
  const table = spec.table ?? RT_TABLE_MAIN;
  const defaultScope = forDelete ? RT_SCOPE_NOWHERE : spec.gateway === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  const data: rt.Route = {
    family: familyCode(family),
    dstLen: dst?.length ?? 0,
    // rtm_table is 8 bits; RTA_TABLE carries the full id.
    table: table < 256 ? table : RT_TABLE_UNSPEC,
    protocol: spec.protocol ?? (forDelete ? 0 : RTPROT_BOOT),
    scope: spec.scope === undefined ? defaultScope : valueOf(SCOPES, spec.scope),
    type: spec.type === undefined ? (forDelete ? 0 : RTN_UNICAST) : valueOf(ROUTE_TYPES, spec.type),
    flags: spec.onLink ? { __unknown: RTNH_F_ONLINK } : {},
  };
  const attrs: rt.RouteAttrs = { table };
  if (dst) attrs.dst = ipToBytes(dst.ip);
  if (spec.gateway !== undefined) attrs.gateway = ipToBytes(spec.gateway);
  if (oif !== undefined) attrs.oif = oif;
  if (spec.metric !== undefined) attrs.priority = spec.metric;
  if (spec.src !== undefined) attrs.prefsrc = ipToBytes(spec.src);
  if (spec.mtu !== undefined || spec.advmss !== undefined) {
    attrs.metrics = {};
    if (spec.mtu !== undefined) attrs.metrics.mtu = putU32(spec.mtu);
    if (spec.advmss !== undefined) attrs.metrics.advmss = putU32(spec.advmss);
  }
  return { kind: 'route', data, attrs };
}

function numeric<T extends Record<string, number | string>>(table: T, value: number | keyof T | undefined): number {
  if (value === undefined) return 0;
  return typeof value === 'number' ? value : Number(table[value]);
}

export function routeFromMessage(msg: rt.RouteMessage): RouteEntry | undefined {
  const { data, attrs } = msg;
  if (data.family !== AF_INET && data.family !== AF_INET6) return undefined;
  const family: IpFamily = data.family === AF_INET ? 4 : 6;
  const dstLen = data.dstLen ?? 0;
  const dstIp = attrs.dst ? bytesToIp(attrs.dst) : family === 4 ? '0.0.0.0' : '::';
  const flags = data.flags ? rt.formatRouteFlags(data.flags) : 0;
  const entry: RouteEntry = {
    family,
    dst: `${dstIp}/${dstLen}`,
    onLink: (flags & RTNH_F_ONLINK) !== 0,
    table: attrs.table ?? data.table ?? 0,
    scope: nameOf(SCOPES, numeric(rt.RouteScope, data.scope)),
    protocol: numeric(rt.RouteProtocol, data.protocol),
    type: nameOf(ROUTE_TYPES, numeric(rt.RouteType, data.type)),
  };
  if (attrs.gateway) entry.gateway = bytesToIp(attrs.gateway);
  if (attrs.oif !== undefined) entry.oif = attrs.oif;
  if (attrs.priority !== undefined) entry.metric = attrs.priority;
  if (attrs.prefsrc) entry.src = bytesToIp(attrs.prefsrc);
  if (attrs.metrics?.mtu) entry.mtu = getU32(attrs.metrics.mtu);
  if (attrs.metrics?.advmss) entry.advmss = getU32(attrs.metrics.advmss);
  return entry;
}

function describeRoute(spec: RouteSpec): string {
  const parts = [spec.dst];
  if (spec.gateway !== undefined) parts.push(`via ${spec.gateway}`);
  if (spec.dev !== undefined) parts.push(`dev ${typeof spec.dev === 'number' ? `#${spec.dev}` : spec.dev}`);
  if (spec.table !== undefined) parts.push(`table ${spec.table}`);
  if (spec.metric !== undefined) parts.push(`metric ${spec.metric}`);
  return `route ${parts.join(' ')}`;
}

export class Routes {
  constructor(
    private readonly conn: NetlinkConnection,
    private readonly links: Links,
  ) {}

  /** Adds a route; NetlinkError EEXIST when the same route is there. */
  async add(spec: RouteSpec): Promise<void> {
    await this.write(spec, NLM_F_CREATE | NLM_F_EXCL, 'add');
  }

  /** Adds the route, or replaces the one with the same destination/table/metric (ip route replace). */
  async replace(spec: RouteSpec): Promise<void> {
    await this.write(spec, NLM_F_CREATE | NLM_F_REPLACE, 'replace');
  }

  /** Deletes a route; NetlinkError ESRCH when none matches. */
  async delete(spec: RouteSpec): Promise<void> {
    const operation = `delete ${describeRoute(spec)}`;
    const oif = spec.dev === undefined ? undefined : await this.links.indexOf(spec.dev, operation);
    const payload = this.payload(routeMessage(spec, oif, true));
    await this.conn.change(rt.MessageType.DELROUTE, payload, 0, operation);
  }

  /** Routes of every table unless filtered; the local table and IPv6 multicast routes included. */
  async list(filter: { family?: IpFamily; table?: number; link?: LinkRef } = {}): Promise<RouteEntry[]> {
    const oif = filter.link === undefined ? undefined : await this.links.indexOf(filter.link, 'list routes');
    const family = filter.family === undefined ? AF_UNSPEC : familyCode(filter.family);
    const out = new AttrStream();
    rt.formatRouteMessage({ kind: 'route', data: { family }, attrs: {} }, out);
    const replies = await this.conn.dump(rt.MessageType.GETROUTE, out.bufs, 'list routes');
    return replies
      .filter((m): m is rt.RouteMessage => m.kind === 'route')
      .map(routeFromMessage)
      .filter((r): r is RouteEntry => r !== undefined)
      .filter(
        (r) =>
          (filter.family === undefined || r.family === filter.family) &&
          (filter.table === undefined || r.table === filter.table) &&
          (oif === undefined || r.oif === oif),
      );
  }

  private async write(spec: RouteSpec, flags: number, verb: string): Promise<void> {
    const operation = `${verb} ${describeRoute(spec)}`;
    const oif = spec.dev === undefined ? undefined : await this.links.indexOf(spec.dev, operation);
    await this.conn.change(rt.MessageType.NEWROUTE, this.payload(routeMessage(spec, oif, false)), flags, operation);
  }

  private payload(msg: rt.RouteMessage): Uint8Array[] {
    const out = new AttrStream();
    rt.formatRouteMessage(msg, out);
    return out.bufs;
  }
}

