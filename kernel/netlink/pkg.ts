/**
 * The parts of the `netlink` package weft uses, loaded without the rest: its index also loads
 * the nl80211, generic-netlink and WireGuard modules (~16 ms of the ~40 ms the package costs to
 * load), which every CNI call through the Node.js entry would pay for nothing. The deep paths
 * follow the layout of netlink 0.3.x, pinned in package.json.
 */
export * from 'netlink/dist/structs';
export { createRtNetlink, type RtNetlinkSocket } from 'netlink/dist/rt/rt';
export * as rt from 'netlink/dist/rt/structs';
export * as ifla from 'netlink/dist/rt/ifla';
