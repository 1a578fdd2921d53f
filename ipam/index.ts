/**
 * weft-ipam's in-process API, for weft's attachment plugins (no process spawned):
 *
 *   const conf = parseIpamConfig(netConf);
 *   const { ips, routes, dns } = allocate(conf, containerId, ifName, requestedAddresses(netConf, args));
 *   release(conf, containerId, ifName);
 *
 * The same operations as a CNI plugin are `ipamPlugin` (plugin.ts).
 */
export { type Address, type Cidr, formatAddress, parseAddress, parseCidr } from './address';
export { type IpamResult, allocate, checkAllocation, gc, release, storeStatus } from './allocator';
export { DEFAULT_DATA_DIR, type IpamConfig, parseIpamConfig, requestedAddresses } from './config';
export { ALLOCATION_MISMATCH } from './errors';
export { ipamPlugin } from './plugin';
export { parseResolvConf } from './resolv-conf';
export { type LockOptions, DEFAULT_LOCK_TIMEOUT_MS } from './store';
