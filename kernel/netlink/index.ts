/**
 * Typed rtnetlink for weft: links (veth, bridge, vxlan, macvlan), addresses, routes, neighbours
 * and bridge FDB entries in a given network namespace. Nothing here runs `ip` or `bridge`.
 */
export { NetlinkHandle, openNetlink, withNetlink } from './handle';
export { NetlinkError, NetlinkClosedError, isNetlinkError, describeErrno } from './errors';
export type {
  Links,
  Link,
  LinkRef,
  NetnsRef,
  CreateLinkOptions,
  VethOptions,
  BridgeOptions,
  VxlanOptions,
  MacvlanOptions,
} from './links';
export type { Addresses, AddressEntry, AddressOptions } from './addresses';
export type { Routes, RouteEntry, RouteSpec } from './routes';
export type { Neighbours, NeighbourEntry, NeighbourSpec, Fdb, FdbEntry, FdbSpec } from './neighbours';
export type {
  LinkInfo,
  BridgeData,
  BridgePortData,
  VxlanData,
  VxlanDf,
  PortRange,
  MacvlanData,
  MacvlanMode,
  VethData,
  VethPeer,
} from './linkinfo';
export { encodeLinkInfo, decodeLinkInfo } from './linkinfo';
export { AddressFormatError, type IpFamily } from './ip';
export {
  RT_TABLE_MAIN,
  RT_TABLE_LOCAL,
  RTPROT_BOOT,
  RTPROT_STATIC,
  RTPROT_KERNEL,
  type Scope,
  type RouteType,
  type NeighbourState,
  type OperState,
} from './constants';
