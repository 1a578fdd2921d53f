/**
 * The in-process IPAM API: what weft's attachment plugins call directly (no process spawned),
 * and what the weft-ipam plugin wraps. All functions are synchronous because everything they
 * do happens under the store's flock (see store.ts).
 *
 * Differences from host-local, on purpose:
 * - ADD is idempotent: an ADD for a containerID+ifname that already holds an address in a range
 *   set gets that address back (host-local fails with "duplicate allocation is not allowed").
 *   A runtime that retries an ADD whose answer it lost thus gets a consistent result instead of
 *   an error it must clean up after.
 * - One lock for the whole ADD (host-local locks per range set), so a dual-stack ADD is atomic:
 *   on any failure every address reserved by this call is released.
 * - Spec error codes instead of 999 (errors.ts), STATUS and GC.
 */
import { type Attachment, CniError, type DNS, ErrorCode, type IPConfig, type Route } from '../cni/types';
import { type Address, addressKey, formatAddress, parseCidr, sameAddress } from './address';
import { type IpamConfig } from './config';
import { crashPoint } from './crash-hook';
import { ALLOCATION_MISMATCH, configError, tryAgainError } from './errors';
import { type Range, reservedReason } from './range';
import { type RangeSet, candidates, rangeFor, rangeSetToString } from './rangeset';
import { readResolvConf } from './resolv-conf';
import { type LockedStore, type LockOptions, type Owner, type StoredAllocation, Store } from './store';

/** What an ADD hands back: the 1.1.0 result's ips, routes and dns (IPAM results name no interface). */
export interface IpamResult {
  ips: IPConfig[];
  routes: Route[];
  dns?: DNS;
}

function ownedBy(owner: Owner, containerId: string, ifName: string): boolean {
  return owner.containerId === containerId.trim() && owner.ifName === ifName;
}

function ipConfig(range: Range, address: Address): IPConfig {
  return { address: `${formatAddress(address)}/${range.subnet.prefix}`, gateway: formatAddress(range.gateway) };
}

/** Removes and returns the first requested address that belongs to the set. */
function takeRequested(pending: Map<string, Address>, set: RangeSet): Address | undefined {
  for (const [key, address] of pending) {
    if (rangeFor(set, address)) {
      pending.delete(key);
      return address;
    }
  }
  return undefined;
}

interface SetContext {
  store: LockedStore;
  set: RangeSet;
  index: number;
  containerId: string;
  ifName: string;
}

function reserveRequested(ctx: SetContext, address: Address): Range {
  const range = rangeFor(ctx.set, address) as Range; // takeRequested only returns contained addresses
  const reason = reservedReason(range, address);
  if (reason) throw configError(`failed to allocate for range ${ctx.index}: requested ip ${formatAddress(address)} is ${reason}`);
  if (!ctx.store.reserve(address, ctx.containerId, ctx.ifName, ctx.index)) {
    throw tryAgainError(
      `failed to allocate for range ${ctx.index}: requested IP address ${formatAddress(address)} is not available in range set ${rangeSetToString(ctx.set)}`,
    );
  }
  return range;
}

function reserveNext(ctx: SetContext, taken: ReadonlySet<string>): { range: Range; address: Address } {
  for (const candidate of candidates(ctx.set, ctx.store.lastReserved(ctx.index))) {
    if (taken.has(addressKey(candidate.address))) continue;
    if (ctx.store.reserve(candidate.address, ctx.containerId, ctx.ifName, ctx.index)) return candidate;
  }
  throw tryAgainError(`failed to allocate for range ${ctx.index}: no IP addresses available in range set: ${rangeSetToString(ctx.set)}`);
}

function allocateLocked(store: LockedStore, conf: IpamConfig, containerId: string, ifName: string, requested: readonly Address[]): IPConfig[] {
  const existing = store.allocations();
  const taken = new Set(existing.map((a) => addressKey(a.address)));
  const mine = existing.filter((a) => ownedBy(a.owner, containerId, ifName));
  const pending = new Map(requested.map((a) => [addressKey(a), a]));
  const reservedNow: Address[] = [];
  try {
    const ips = conf.rangeSets.map((set, index) => {
      const ctx: SetContext = { store, set, index, containerId, ifName };
      const wanted = takeRequested(pending, set);
      const held = mine.find((a) => rangeFor(set, a.address));
      if (held) {
        if (wanted && !sameAddress(wanted, held.address)) {
          throw configError(
            `failed to allocate for range ${index}: ${containerId}/${ifName} already holds ${formatAddress(held.address)}, not the requested ${formatAddress(wanted)}`,
          );
        }
        return ipConfig(rangeFor(set, held.address) as Range, held.address);
      }
      if (wanted) {
        const range = reserveRequested(ctx, wanted);
        reservedNow.push(wanted);
        crashPoint('reserve');
        return ipConfig(range, wanted);
      }
      const { range, address } = reserveNext(ctx, taken);
      reservedNow.push(address);
      crashPoint('reserve');
      return ipConfig(range, address);
    });
    if (pending.size > 0) {
      throw configError(`failed to allocate all requested IPs: ${[...pending.values()].map(formatAddress).join(' ')}`);
    }
    return ips;
  } catch (err) {
    for (const address of reservedNow) store.release(formatAddress(address));
    throw err;
  }
}

/**
 * Allocates one address from each range set for containerId/ifName (or returns the ones it
 * already holds), honouring requested addresses (at most one per range set).
 */
export function allocate(
  conf: IpamConfig,
  containerId: string,
  ifName: string,
  requested: readonly Address[] = [],
  options: LockOptions = {},
): IpamResult {
  // Read before touching the store, so that a bad resolvConf leaves nothing behind.
  const dns = conf.resolvConf !== undefined ? readResolvConf(conf.resolvConf) : undefined;
  const store = Store.open(conf.dataDir, conf.network, true);
  const ips = store.withLock((locked) => allocateLocked(locked, conf, containerId, ifName, requested), options);
  return { ips, routes: [...conf.routes], ...(dns ? { dns } : {}) };
}

/** Releases with the lock held whatever `doomed` selects; returns the released addresses. */
function releaseWhere(conf: IpamConfig, options: LockOptions, doomed: (all: StoredAllocation[]) => StoredAllocation[]): string[] {
  const store = Store.open(conf.dataDir, conf.network, false);
  if (!store) return []; // no store at all: nothing was ever allocated here
  return store.withLock((locked) => {
    const released = doomed(locked.allocations());
    for (const allocation of released) locked.release(allocation.file);
    return released.map((a) => formatAddress(a.address));
  }, options);
}

/**
 * Releases every address held by containerId/ifName, in any range (also ranges no longer in
 * the configuration). When there is none, releases files that name only the container ID
 * (written by old host-local versions), as host-local does. Nothing to release is success.
 */
export function release(conf: IpamConfig, containerId: string, ifName: string, options: LockOptions = {}): string[] {
  return releaseWhere(conf, options, (all) => {
    const exact = all.filter((a) => ownedBy(a.owner, containerId, ifName));
    if (exact.length > 0) return exact;
    return all.filter((a) => a.owner.ifName === undefined && a.owner.containerId === containerId.trim());
  });
}

/**
 * Releases every address whose owner is not among the valid attachments. A file naming only a
 * container ID is kept when any valid attachment has that container; an empty file (a writer
 * killed between creating and writing it) names nobody and is released.
 */
export function gc(conf: IpamConfig, validAttachments: readonly Attachment[], options: LockOptions = {}): string[] {
  const valid = new Set(validAttachments.map((a) => `${a.containerID}\n${a.ifname}`));
  const validContainers = new Set(validAttachments.map((a) => a.containerID));
  const isValid = (owner: Owner) =>
    owner.ifName === undefined ? validContainers.has(owner.containerId) : valid.has(`${owner.containerId}\n${owner.ifName}`);
  return releaseWhere(conf, options, (all) => all.filter((a) => !isValid(a.owner)));
}

/**
 * CHECK: every range set holds an address for containerId/ifName, and every address of
 * `expected` (the prevResult's ips) that lies in this network's ranges is one of them.
 * Throws CniError(ALLOCATION_MISMATCH) naming the first difference.
 */
export function checkAllocation(
  conf: IpamConfig,
  containerId: string,
  ifName: string,
  expected: readonly IPConfig[] = [],
  options: LockOptions = {},
): void {
  const who = `${containerId}/${ifName}`;
  const store = Store.open(conf.dataDir, conf.network, false);
  const mine = store ? store.withLock((locked) => locked.allocations(), options).filter((a) => ownedBy(a.owner, containerId, ifName)) : [];
  conf.rangeSets.forEach((set, index) => {
    if (!mine.some((a) => rangeFor(set, a.address))) {
      throw new CniError(ALLOCATION_MISMATCH, `weft-ipam: no address of range set ${index} (${rangeSetToString(set)}) is allocated to ${who}`);
    }
  });
  const held = new Set(mine.map((a) => addressKey(a.address)));
  for (const ip of expected) {
    const address = parseCidr(ip.address)?.address;
    if (!address || !conf.rangeSets.some((set) => rangeFor(set, address))) continue;
    if (!held.has(addressKey(address))) throw new CniError(ALLOCATION_MISMATCH, `weft-ipam: ${ip.address} is not allocated to ${who}`);
  }
}

/**
 * STATUS: throws CniError(50) when the store cannot serve ADDs because it cannot be created or
 * written (a read-only or misconfigured dataDir).
 *
 * An exhausted range set is deliberately NOT reported here: runtimes turn a failing STATUS into
 * "network not ready" for the whole node (containerd/kubelet mark the node NotReady), which
 * would evict pods that are running fine; exhaustion fails only the ADDs it affects (code 11)
 * and clears when pods are deleted.
 */
export function storeStatus(conf: IpamConfig): void {
  try {
    Store.open(conf.dataDir, conf.network, true).probeWritable();
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new CniError(ErrorCode.PluginNotAvailable, `IPAM store is not usable: ${detail}`, undefined, { cause: err });
  }
}
