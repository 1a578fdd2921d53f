/**
 * Makes one node's kernel match an OverlayState through netlink: the VXLAN devices, and per
 * peer node the FDB entry (its VTEP MAC -> its underlay address), the neighbour entry (its VTEP
 * IP -> its VTEP MAC) and the route to its pod subnet. Only differences are written, entry by
 * entry, so a node joining or leaving touches only that node's entries and traffic to the
 * others never notices. Order keeps paths whole: for a new peer FDB, then neighbour, then
 * route; for a gone peer the route goes first.
 *
 * weft's routes carry their own protocol number, so the ones it no longer wants are found and
 * removed without touching anyone else's.
 */
import type { NetlinkHandle } from '../kernel/netlink';
import type { FdbEntry, NeighbourEntry } from '../kernel/netlink/neighbours';
import type { RouteEntry, RouteSpec } from '../kernel/netlink/routes';
import type { OverlayState, PeerRoute, VxlanDevice } from './compile';

/** RTPROT value marking weft's routes ("W"); unassigned in the kernel's rtnetlink.h. */
export const WEFT_ROUTE_PROTOCOL = 87;

const MAIN_TABLE = 254;

export interface OverlayApplyOptions {
  /** Every device name weft may own: those not in the desired state are removed. */
  managedDevices: readonly string[];
}

function hostPrefix(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

function deviceMatches(link: { kind?: string; info?: { vxlan?: { id?: number; port?: number; local?: string; local6?: string; learning?: boolean } } }, d: VxlanDevice): boolean {
  const v = link.info?.vxlan;
  const local = d.family === 4 ? v?.local : v?.local6;
  return link.kind === 'vxlan' && v?.id === d.vni && (v?.port ?? 8472) === d.port && local === d.local;
}

async function ensureDevice(nl: NetlinkHandle, d: VxlanDevice): Promise<number> {
  let changes = 0;
  let link = await nl.links.find(d.name);
  if (link && !deviceMatches(link, d)) {
    // VNI, port and source address cannot be changed on a live device.
    await nl.links.delete(d.name);
    link = undefined;
    changes++;
  }
  if (!link) {
    // learning off: the FDB is programmed, never learnt from (possibly spoofed) traffic.
    link = await nl.links.createVxlan({ name: d.name, vni: d.vni, local: d.local, port: d.port, learning: false, mac: d.mac, mtu: d.mtu });
    changes++;
  }
  if (link.mtu !== d.mtu) {
    await nl.links.setMtu(d.name, d.mtu);
    changes++;
  }
  if (link.mac !== d.mac) {
    await nl.links.setMac(d.name, d.mac);
    changes++;
  }
  const want = hostPrefix(d.vtepIp);
  const family = d.family;
  const addresses = await nl.addresses.list({ link: d.name, family });
  for (const a of addresses) {
    if (a.cidr !== want && !a.address.startsWith('fe80:')) {
      await nl.addresses.delete(d.name, a.cidr);
      changes++;
    }
  }
  if (!addresses.some((a) => a.cidr === want)) {
    await nl.addresses.add(d.name, want, { noDad: true });
    changes++;
  }
  if (!link.up) {
    await nl.links.setUp(d.name);
    changes++;
  }
  return changes;
}

function routeSpec(r: PeerRoute): RouteSpec {
  return r.via === 'vxlan'
    ? { dst: r.dst, gateway: r.vtepIp, dev: r.device, onLink: true, protocol: WEFT_ROUTE_PROTOCOL }
    : { dst: r.dst, gateway: r.gateway, protocol: WEFT_ROUTE_PROTOCOL };
}

function routeMatches(have: RouteEntry, want: PeerRoute, deviceIndex: Map<string, number>): boolean {
  if (want.via === 'vxlan') return have.gateway === want.vtepIp && have.oif === deviceIndex.get(want.device) && have.onLink;
  return have.gateway === want.gateway && !have.onLink;
}

export async function applyOverlay(nl: NetlinkHandle, desired: OverlayState, options: OverlayApplyOptions): Promise<{ changes: number }> {
  let changes = 0;
  for (const d of desired.devices) changes += await ensureDevice(nl, d);
  const deviceIndex = new Map<string, number>();
  for (const d of desired.devices) deviceIndex.set(d.name, (await nl.links.get(d.name)).index);

  // Routes that are no longer wanted, or wrong, go first: nothing then points at entries removed
  // below. A wrong one is deleted and added again rather than replaced: IPv6 refuses an on-link
  // next hop that its current route sends out of another device (a host-gw -> vxlan switch).
  const wanted = new Map(desired.routes.map((r) => [r.dst, r]));
  const have = (await nl.routes.list({ table: MAIN_TABLE })).filter((r) => r.protocol === WEFT_ROUTE_PROTOCOL);
  const keep = new Set<string>();
  for (const r of have) {
    const want = wanted.get(r.dst);
    if (want && routeMatches(r, want, deviceIndex)) keep.add(r.dst);
    else {
      await nl.routes.delete({ dst: r.dst, table: MAIN_TABLE, protocol: WEFT_ROUTE_PROTOCOL });
      changes++;
    }
  }

  // Per device: FDB and neighbour entries for the peers reached through it.
  for (const d of desired.devices) {
    const peers = desired.routes.filter((r): r is Extract<PeerRoute, { via: 'vxlan' }> => r.via === 'vxlan' && r.device === d.name);
    const fdb = (await nl.fdb.list({ link: d.name })).filter((e: FdbEntry) => e.self && e.dst !== undefined && e.mac !== '00:00:00:00:00:00');
    for (const e of fdb) {
      if (!peers.some((p) => p.vtepMac === e.mac && p.underlayIp === e.dst)) {
        await nl.fdb.delete({ link: d.name, mac: e.mac, dst: e.dst });
        changes++;
      }
    }
    for (const p of peers) {
      if (!fdb.some((e) => e.mac === p.vtepMac && e.dst === p.underlayIp)) {
        await nl.fdb.replace({ link: d.name, mac: p.vtepMac, dst: p.underlayIp });
        changes++;
      }
    }
    const neighbours = (await nl.neighbours.list({ link: d.name, family: d.family })).filter((n: NeighbourEntry) => n.state.includes('permanent'));
    for (const n of neighbours) {
      if (!peers.some((p) => p.vtepIp === n.ip && p.vtepMac === n.mac)) {
        await nl.neighbours.delete({ link: d.name, ip: n.ip });
        changes++;
      }
    }
    for (const p of peers) {
      if (!neighbours.some((n) => n.ip === p.vtepIp && n.mac === p.vtepMac)) {
        await nl.neighbours.replace({ link: d.name, ip: p.vtepIp, mac: p.vtepMac });
        changes++;
      }
    }
  }

  // Routes last: the path behind each is complete by now.
  for (const r of desired.routes) {
    if (keep.has(r.dst)) continue;
    await nl.routes.replace(routeSpec(r));
    changes++;
  }

  // Devices weft owned and no longer wants (switching to host-gw, a family gone).
  const desiredNames = new Set(desired.devices.map((d) => d.name));
  for (const name of options.managedDevices) {
    if (desiredNames.has(name)) continue;
    if (await nl.links.find(name)) {
      await nl.links.delete(name);
      changes++;
    }
  }
  return { changes };
}
