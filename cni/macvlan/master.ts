/**
 * The parent ("master") of a pod's macvlan: named in the config, or the interface of the default
 * route in the namespace the master lives in (the host, or the pod with linkInContainer), IPv4
 * first, then IPv6, as the reference plugin picks it.
 */
import type { Link, NetlinkHandle } from '../../kernel/netlink';
import type { MacvlanConfig } from './config';

/** The main routing table, the one a default route is looked up in. */
const MAIN_TABLE = 254;

/** The interface of the default route in the handle's namespace, IPv4 first, then IPv6. */
export async function defaultRouteInterface(nl: NetlinkHandle): Promise<string | undefined> {
  for (const family of [4, 6] as const) {
    const anywhere = family === 4 ? '0.0.0.0/0' : '::/0';
    // A multipath default route has no single oif: it names no one master, so it is passed over.
    const route = (await nl.routes.list({ family, table: MAIN_TABLE })).find((r) => r.dst === anywhere && r.oif !== undefined);
    if (route?.oif !== undefined) return (await nl.links.find(route.oif))?.name;
  }
  return undefined;
}

export type MasterLookup =
  | { found: true; link: Link }
  /** `name` is undefined when no master was configured and there is no default route either. */
  | { found: false; name: string | undefined };

/** Finds the master without judging it: ADD reports a missing one as bad config, CHECK as drift. */
export async function findMaster(nl: NetlinkHandle, cfg: Pick<MacvlanConfig, 'master'>): Promise<MasterLookup> {
  const name = cfg.master ?? (await defaultRouteInterface(nl));
  const link = name === undefined ? undefined : await nl.links.find(name);
  return link ? { found: true, link } : { found: false, name };
}

/** Why a master lookup found nothing, in words that say what to fix. */
export function missingMasterMessage(lookup: { name: string | undefined }, netns: string): string {
  return lookup.name === undefined
    ? `no master given and no default route in ${netns} to take it from`
    : `master interface ${lookup.name} not found in ${netns}`;
}
