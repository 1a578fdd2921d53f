/**
 * How an attachment plugin (weft-bridge, weft-macvlan, ...) runs its IPAM section. weft-ipam is
 * called in-process (the same plugin object its executable serves, so behaviour is identical and
 * no second Node.js start sits on the pod's critical path); any other type is executed from
 * CNI_PATH exactly as the reference plugins delegate (cni/delegate.ts).
 */
import type { AttachmentRequest, CniPlugin } from '../plugin';
import { CniError, ErrorCode, type DNS, type IPConfig, type Result, type Route } from '../types';
import { delegateIpam } from '../delegate';
import type { Rollback } from './rollback';

/** IPAM plugins weft serves without a process. Lazy, so a plugin without IPAM never loads them. */
const IN_PROCESS: Readonly<Record<string, () => CniPlugin>> = {
  'weft-ipam': () => (require('../../ipam/plugin') as typeof import('../../ipam/plugin')).ipamPlugin,
};

function ipamType(req: AttachmentRequest): string | undefined {
  const type = req.config.ipam?.type;
  if (type === undefined) return undefined;
  if (typeof type !== 'string' || type === '') throw new CniError(ErrorCode.InvalidNetworkConfig, 'ipam.type must be a non-empty string');
  return type;
}

/** True when the config has an IPAM section (an empty one, `{}`, makes the attachment L2-only). */
export function hasIpam(req: AttachmentRequest): boolean {
  return ipamType(req) !== undefined;
}

/** Allocates addresses; the result is in the current version's form, with no interfaces. */
export async function ipamAdd(req: AttachmentRequest): Promise<Result> {
  const type = ipamType(req);
  if (type === undefined) throw new CniError(ErrorCode.InvalidNetworkConfig, 'no IPAM configured');
  const local = IN_PROCESS[type];
  return local ? local().add(req) : delegateIpam('ADD', req);
}

/** Releases what ADD allocated; succeeds when nothing is allocated. */
export async function ipamDel(req: AttachmentRequest): Promise<void> {
  const type = ipamType(req);
  if (type === undefined) return;
  const local = IN_PROCESS[type];
  if (local) await local().del(req);
  else await delegateIpam('DEL', req);
}

export async function ipamCheck(req: AttachmentRequest): Promise<void> {
  const type = ipamType(req);
  if (type === undefined) return;
  const local = IN_PROCESS[type];
  if (local) await local().check(req);
  else await delegateIpam('CHECK', req);
}

/** What an attachment plugin puts on its container interface and in its result. */
export interface InterfaceAddressing {
  /** The IPAM result's addresses, naming the interface at `interfaceIndex`; empty without IPAM. */
  ips: IPConfig[];
  routes: Route[];
  dns: DNS;
}

function saysSomething(dns: DNS | undefined): dns is DNS {
  return !!dns && !!(dns.nameservers?.length || dns.domain || dns.search?.length || dns.options?.length);
}

/** The config's dns when it says anything (the reference plugins always report it), else IPAM's. */
export function resultDns(configDns: DNS | undefined, ipamDns: DNS | undefined): DNS {
  return saysSomething(configDns) ? configDns : ipamDns ?? {};
}

/**
 * Runs the IPAM section for one interface of an ADD and registers the release with `rollback`.
 * Without an IPAM section the attachment is L2 only: no addresses, no routes.
 */
export async function addressInterface(req: AttachmentRequest, rollback: Rollback, interfaceIndex: number): Promise<InterfaceAddressing> {
  if (!hasIpam(req)) return { ips: [], routes: [], dns: resultDns(req.config.dns, undefined) };
  const ipam = await ipamAdd(req);
  rollback.push('release the IPAM allocation', () => ipamDel(req));
  if (!ipam.ips?.length) throw new CniError(ErrorCode.InvalidNetworkConfig, `IPAM plugin ${req.config.ipam?.type} returned no IP addresses`);
  return {
    ips: ipam.ips.map((ip) => ({ ...ip, interface: interfaceIndex })),
    routes: ipam.routes ?? [],
    dns: resultDns(req.config.dns, ipam.dns),
  };
}
