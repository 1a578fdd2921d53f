/**
 * A pod in the ClusterNetworkPolicy tiers of weft's nftables table (weftctl rules --pod), in
 * Kubernetes words, from the roles backend/nftables/render-cluster-policy.ts gives the tier
 * objects: the subjects set, the class maps (the pod as a peer of this node's subjects), and the
 * class chains' verdict maps, whose elements (counted) say in their comment which rule decides
 * them. The verdict is the element's: accept, a goto to the stage's drop chain, or return (pass).
 */
import type { ElementInfo, SetInfo } from '../../kernel/nft';
import type { DropTier } from '../drops/log-rules';
import type { Direction, PodWords } from './pod-words';
import { TIER_NAME, tierPoliciesOf, tierRuleWords } from './tier-words';
import type { TierVerdict } from '../dataplane/policy-state';

const TIER_SET = /^cnp-(admin|baseline)-(in|out)-(subjects|hosts|ranges|c([0-9a-f]+)-(ports|other))-v([46])$/;

/** The maps from a peer address to its class chain ("cnp-admin-in-c1a2b3c4d5e"). */
export const TIER_CLASS_MAP = /^cnp-(admin|baseline)-(in|out)-(hosts|ranges)-v[46]$/;

const WORDS: Record<string, { direction: Direction; from: string; peer: string }> = {
  in: { direction: 'ingress', from: 'from', peer: 'source' },
  out: { direction: 'egress', from: 'to', peer: 'destination' },
};

/** What a class chain's verdict map element does: accept, goto the stage's drop chain, return. */
function verdictOf(e: ElementInfo): TierVerdict | undefined {
  const v = e.value?.[0] ?? '';
  return v === 'accept' ? 'accept' : v === 'return' ? 'pass' : /^goto cnp-\w+-(in|out)-drop$/.test(v) ? 'drop' : undefined;
}

/**
 * The meaning of an element of a tier set or map that holds one of the pod's addresses (or, for
 * a class map, a range containing one); undefined for a set that is not a tier's. `peers`: the
 * peer ranges of each class chain, from the class maps.
 */
export function tierElementMeaning(set: SetInfo, e: ElementInfo, words: PodWords, peers: ReadonlyMap<string, string[]>): { meaning: string; shared: boolean } | undefined {
  if (/^cnp-out-np-isolated-v[46]$/.test(set.name)) {
    return { meaning: `${words.pod} is isolated for egress by NetworkPolicy, which always allows its own node: between the tiers, reaching its node is allowed`, shared: false };
  }
  const m = TIER_SET.exec(set.name);
  if (!m) return undefined;
  const tier = m[1] as DropTier;
  const w = WORDS[m[2]];
  const tierWords = `the ${TIER_NAME[tier]} tier`;
  if (m[3] === 'subjects') return { meaning: `${words.pod} is a subject of ${tierWords} for ${w.direction}: ${tierPoliciesOf(words, tier, w.direction)}`, shared: false };
  if (m[3] === 'hosts' || m[3] === 'ranges') {
    const cls = /^(?:jump|goto) cnp-\w+-(?:in|out)-c([0-9a-f]+)$/.exec(e.value?.[0] ?? '')?.[1] ?? '?';
    const role = w.direction === 'ingress' ? `a source of ingress to this node's pods ${tierWords} selects` : `a destination of egress from this node's pods ${tierWords} selects`;
    return { meaning: `${words.pod} as ${role} is in ${w.peer} class ${cls}`, shared: true };
  }
  const cls = m[4];
  const family = m[6] === '6' ? 6 : 4;
  const ranges = (peers.get(`cnp-${m[1]}-${m[2]}-c${cls}`) ?? []).filter((r) => r.includes(':') === (family === 6)).map((r) => words.peer(r)).join(', ') || 'no range';
  const ports = m[5] === 'ports' ? `on ${e.key[1].toUpperCase()} ${e.key[2]}` : 'on every other port and protocol';
  const verdict = verdictOf(e);
  const rule = verdict === undefined ? `${TIER_NAME[tier]} tier: ${e.value?.[0] ?? '?'}` : e.comment ? tierRuleWords(words.model, e.comment, verdict).words : `${TIER_NAME[tier]} tier: ${verdict}`;
  return { meaning: `${rule} ${w.direction} of ${words.pod} ${w.from} ${w.peer} class ${cls} (${ranges}) ${ports}`, shared: false };
}

/** The chain an element sends the pod's packets to (a tier's drop chain), whose rules then apply to it. */
export function tierChainEntered(set: SetInfo, e: ElementInfo): string | undefined {
  if (!TIER_SET.test(set.name)) return undefined;
  return /^goto (cnp-\w+-(?:in|out)-drop)$/.exec(e.value?.[0] ?? '')?.[1];
}
