/**
 * Puts an IPAM result onto the container's interface and verifies it later (CHECK): the
 * addresses of the IPs that name the interface, the link up, then the routes. A route without a
 * gateway goes through the first gateway of its family, as the reference plugins' ConfigureIface
 * does, and is on-link (device) scoped when there is none.
 */
import net from 'node:net';
import type { NetlinkHandle, RouteSpec } from '../../kernel/netlink';
import { netnsExists } from '../../kernel/netns';
import { CHECK_MISMATCH, CniError, ErrorCode, type IPConfig, type Result, type Route } from '../types';

/** ADD needs the pod's namespace: a clear code 4 before anything is made. */
export function requirePodNetns(netns: string): void {
  if (!netnsExists(netns)) throw new CniError(ErrorCode.InvalidEnvironment, `network namespace ${netns} does not exist`);
}

/** Address and routes result entries that belong to the interface at `index` in result.interfaces. */
export function ipsOfInterface(result: Result, index: number): IPConfig[] {
  return (result.ips ?? []).filter((ip) => ip.interface === index);
}

function familyOf(cidrOrIp: string): 4 | 6 {
  return net.isIP(cidrOrIp.split('/')[0]) === 6 ? 6 : 4;
}

/** The kernel route a result route means on `ifName` (gateway defaulted from the IPs). */
export function routeSpecFor(route: Route, ips: readonly IPConfig[], ifName: string): RouteSpec {
  const family = familyOf(route.dst);
  const gateway = route.gw ?? ips.find((ip) => ip.gateway !== undefined && familyOf(ip.address) === family)?.gateway;
  return {
    dst: route.dst,
    dev: ifName,
    ...(gateway !== undefined ? { gateway } : {}),
    ...(route.mtu !== undefined ? { mtu: route.mtu } : {}),
    ...(route.advmss !== undefined ? { advmss: route.advmss } : {}),
    ...(route.priority !== undefined ? { metric: route.priority } : {}),
    ...(route.table !== undefined ? { table: route.table } : {}),
    ...(route.scope !== undefined ? { scope: route.scope } : {}),
  };
}

export interface ConfigureOptions {
  /** IPv6 addresses usable at once (no duplicate address detection). */
  noDad?: boolean;
}

/** Adds the interface's addresses, brings it up and adds the result's routes, in the handle's netns. */
export async function configureInterface(
  nl: NetlinkHandle,
  ifName: string,
  ips: readonly IPConfig[],
  routes: readonly Route[],
  opts: ConfigureOptions = {},
): Promise<void> {
  for (const ip of ips) await nl.addresses.add(ifName, ip.address, { noDad: opts.noDad });
  await nl.links.setUp(ifName);
  for (const route of routes) await nl.routes.replace(routeSpecFor(route, ips, ifName));
}

function sameIp(a: string, b: string): boolean {
  return net.isIP(a) !== 0 && net.isIP(b) !== 0 && a.toLowerCase() === b.toLowerCase();
}

/**
 * CHECK: throws a CniError naming the first difference between the interface and what the
 * previous result says it should have (addresses, then routes).
 */
export async function checkInterface(
  nl: NetlinkHandle,
  ifName: string,
  ips: readonly IPConfig[],
  routes: readonly Route[],
): Promise<void> {
  const link = await nl.links.find(ifName);
  if (!link) throw new CniError(CHECK_MISMATCH, `interface ${ifName} not found in ${nl.netns}`);
  const present = await nl.addresses.list({ link: link.index });
  for (const ip of ips) {
    if (!present.some((a) => a.cidr === normaliseCidr(ip.address))) {
      throw new CniError(CHECK_MISMATCH, `interface ${ifName} lacks address ${ip.address}`, `has ${present.map((a) => a.cidr).join(', ') || 'none'}`);
    }
  }
  const kernelRoutes = await nl.routes.list({ link: link.index });
  for (const route of routes) {
    const want = routeSpecFor(route, ips, ifName);
    const dst = normaliseCidr(route.dst);
    const found = kernelRoutes.some(
      (r) => r.dst === dst && (want.gateway === undefined || (r.gateway !== undefined && sameIp(r.gateway, want.gateway))),
    );
    if (!found) {
      throw new CniError(
        CHECK_MISMATCH,
        `interface ${ifName} lacks route ${route.dst}${want.gateway ? ` via ${want.gateway}` : ''}`,
      );
    }
  }
}

/** "fd00:0::5/64" -> "fd00::5/64", as the kernel reports it. */
function normaliseCidr(cidr: string): string {
  const [ip, len] = cidr.split('/');
  if (net.isIPv6(ip)) {
    const sock = new net.SocketAddress({ address: ip, family: 'ipv6' });
    return `${sock.address}/${len}`;
  }
  return `${ip}/${len}`;
}
