/**
 * How the policy drop rules report what they drop (weftctl policy drops): both backends log
 * the packets a NetworkPolicy denies to one NFLOG group, with a prefix that says the direction,
 * through a rate limit per rule, so that a flood of denied packets costs the node at most
 * DROP_LOG_RATE log messages a second per direction and family (packets over the limit are
 * dropped all the same, just not logged). The agent reads the group (agent/drops/).
 *
 * NFLOG groups belong to a network namespace, and each agent has its node's namespace to itself,
 * so one fixed group serves every agent. It is an unusual number, to keep clear of the small
 * groups log daemons (ulogd) listen on.
 */
export const DROP_LOG_GROUP = 22342;

/** Log messages per second per rule (one rule per direction and family). */
export const DROP_LOG_RATE = 100;

export type DropDirection = 'ingress' | 'egress';

export const DROP_LOG_PREFIX: Readonly<Record<DropDirection, string>> = { ingress: 'weft-drop ingress', egress: 'weft-drop egress' };

/**
 * The prefixes of packets a ClusterNetworkPolicy tier denies (one rule per tier and direction).
 * dropDirectionOf does not know them: the drop log does not name tier rules yet, and reports
 * only NetworkPolicy's drops.
 */
export const CLUSTER_DROP_LOG_PREFIX: Readonly<Record<'admin' | 'baseline', Readonly<Record<DropDirection, string>>>> = {
  admin: { ingress: 'weft-drop admin ingress', egress: 'weft-drop admin egress' },
  baseline: { ingress: 'weft-drop baseline ingress', egress: 'weft-drop baseline egress' },
};

/** The direction a logged packet was denied in, from its prefix; undefined for another prefix. */
export function dropDirectionOf(prefix: string): DropDirection | undefined {
  return prefix === DROP_LOG_PREFIX.ingress ? 'ingress' : prefix === DROP_LOG_PREFIX.egress ? 'egress' : undefined;
}
