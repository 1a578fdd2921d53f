/**
 * The overlay's desired kernel state on one node, from the cluster's nodes: a VXLAN device per
 * pod-network family, and for every other node a route to its pod subnet, either through the
 * tunnel (with the neighbour and FDB entries that address the other node's VTEP) or, in
 * host-gw mode or where the other node is on the same L2 segment in hybrid mode, directly via
 * its underlay address. Pure: nodes and configuration in, desired state out.
 */
import { parseAddress, parseCidr, subnetContains } from '../ipam/address';
import { VXLAN_OVERHEAD, type OverlayMode } from './mtu';
import type { ClusterNode, IpFamily } from './nodes';
import { vtepAddress, vtepMac } from './vtep';

export interface UnderlayAddress {
  /** The node's own underlay address of this family (its InternalIP). */
  address: string;
  /** Prefix length of that address on its interface: peers inside it are on-link. */
  prefix: number;
  /** MTU of the interface carrying it. */
  mtu: number;
}

export interface OverlayConfig {
  mode: OverlayMode;
  vni: number;
  /** VXLAN UDP port (8472, flannel's, by default). */
  port: number;
  /** Device name per pod family, e.g. { 4: 'weft.1', 6: 'weft-v6.1' }. */
  deviceNames: { 4: string; 6: string };
  /** This node's underlay, per family. */
  underlay: { 4?: UnderlayAddress; 6?: UnderlayAddress };
}

export interface VxlanDevice {
  family: IpFamily;
  name: string;
  vni: number;
  port: number;
  /** Underlay source address. */
  local: string;
  mac: string;
  /** The VTEP address on the device (/32 or /128). */
  vtepIp: string;
  mtu: number;
}

interface PeerRouteBase {
  node: string;
  family: IpFamily;
  /** The peer's pod subnet. */
  dst: string;
}

export type PeerRoute =
  | (PeerRouteBase & { via: 'vxlan'; device: string; vtepIp: string; vtepMac: string; underlayIp: string })
  | (PeerRouteBase & { via: 'direct'; gateway: string });

export interface OverlayState {
  devices: VxlanDevice[];
  /** Sorted by node name, then family. */
  routes: PeerRoute[];
  /** Nodes (or families of them) that get no route, and why: shown in status and logs. */
  skipped: { node: string; reason: string }[];
}

function onLink(underlay: UnderlayAddress, peer: string): boolean {
  const cidr = parseCidr(`${underlay.address}/${underlay.prefix}`);
  const address = parseAddress(peer);
  return cidr !== undefined && address !== undefined && subnetContains(cidr, address);
}

export function compileOverlay(nodes: readonly ClusterNode[], self: string, config: OverlayConfig): OverlayState {
  const me = nodes.find((n) => n.name === self);
  const state: OverlayState = { devices: [], routes: [], skipped: [] };
  if (!me) {
    state.skipped.push({ node: self, reason: 'no Node object for this node yet' });
    return state;
  }
  const families = ([4, 6] as const).filter((f) => me.podCidrs[f] !== undefined);
  if (families.length === 0) state.skipped.push({ node: self, reason: 'this node has no pod subnet (spec.podCIDRs)' });
  for (const family of families) {
    const underlay = config.underlay[family];
    if (config.mode === 'host-gw' || !underlay) continue;
    state.devices.push({
      family,
      name: config.deviceNames[family],
      vni: config.vni,
      port: config.port,
      local: underlay.address,
      mac: vtepMac(underlay.address),
      vtepIp: vtepAddress(me.podCidrs[family]!),
      mtu: underlay.mtu - VXLAN_OVERHEAD[family],
    });
  }
  const peers = nodes.filter((n) => n.name !== self).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const peer of peers) {
    for (const family of families) {
      const dst = peer.podCidrs[family];
      const peerAddress = peer.addresses[family];
      const underlay = config.underlay[family];
      if (!dst) {
        state.skipped.push({ node: peer.name, reason: `no IPv${family} pod subnet` });
        continue;
      }
      if (!peerAddress || !underlay) {
        state.skipped.push({ node: peer.name, reason: `no IPv${family} underlay address ${peerAddress ? 'on this node' : 'on it (InternalIP)'}` });
        continue;
      }
      const direct = config.mode === 'host-gw' || (config.mode === 'hybrid' && onLink(underlay, peerAddress));
      if (config.mode === 'host-gw' && !onLink(underlay, peerAddress)) {
        state.skipped.push({ node: peer.name, reason: `host-gw needs the nodes on one L2 segment; ${peerAddress} is not within ${underlay.address}/${underlay.prefix}` });
        continue;
      }
      if (direct) {
        state.routes.push({ node: peer.name, family, dst, via: 'direct', gateway: peerAddress });
      } else {
        state.routes.push({ node: peer.name, family, dst, via: 'vxlan', device: config.deviceNames[family], vtepIp: vtepAddress(dst), vtepMac: vtepMac(peerAddress), underlayIp: peerAddress });
      }
    }
  }
  return state;
}
