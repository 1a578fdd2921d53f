/**
 * How the policy drop rules report what they drop (weftctl policy drops): both backends log
 * the packets NetworkPolicy and the ClusterNetworkPolicy tiers deny to one NFLOG group, with a
 * prefix that says the direction (and the tier), through a rate limit per rule, so that a flood
 * of denied packets costs the node at most DROP_LOG_RATE log messages a second per rule (packets
 * over the limit are dropped all the same, just not logged). The agent reads the group
 * (agent/drops/).
 *
 * NFLOG groups belong to a network namespace, and each agent has its node's namespace to itself,
 * so one fixed group serves every agent. It is an unusual number, to keep clear of the small
 * groups log daemons (ulogd) listen on.
 */
export const DROP_LOG_GROUP = 22342;

/** Log messages per second per rule (one rule per stage, direction and family). */
export const DROP_LOG_RATE = 100;

export type DropDirection = 'ingress' | 'egress';

export const DROP_LOG_PREFIX: Readonly<Record<DropDirection, string>> = { ingress: 'weft-drop ingress', egress: 'weft-drop egress' };

/** A ClusterNetworkPolicy tier, as the drop rules name it. */
export type DropTier = 'admin' | 'baseline';

/**
 * The prefixes of packets a ClusterNetworkPolicy tier denies (one rule per tier and direction):
 * the drop log tells them from NetworkPolicy's drops and names the tier's deciding rule.
 */
export const CLUSTER_DROP_LOG_PREFIX: Readonly<Record<DropTier, Readonly<Record<DropDirection, string>>>> = {
  admin: { ingress: 'weft-drop admin ingress', egress: 'weft-drop admin egress' },
  baseline: { ingress: 'weft-drop baseline ingress', egress: 'weft-drop baseline egress' },
};

/** Which rule dropped a logged packet: a direction's NetworkPolicy drop (no tier), or a tier's. */
export interface DropOrigin {
  direction: DropDirection;
  tier?: DropTier;
}

const ORIGINS = new Map<string, DropOrigin>([
  ...(['ingress', 'egress'] as const).map((direction): [string, DropOrigin] => [DROP_LOG_PREFIX[direction], { direction }]),
  ...(['admin', 'baseline'] as const).flatMap((tier) => (['ingress', 'egress'] as const).map((direction): [string, DropOrigin] => [CLUSTER_DROP_LOG_PREFIX[tier][direction], { direction, tier }])),
]);

/** The origin of a logged packet, from its prefix; undefined for a prefix weft does not write. */
export function dropOriginOf(prefix: string): DropOrigin | undefined {
  return ORIGINS.get(prefix);
}

/** The direction a logged packet was denied in, from its prefix; undefined for another prefix. */
export function dropDirectionOf(prefix: string): DropDirection | undefined {
  return dropOriginOf(prefix)?.direction;
}
