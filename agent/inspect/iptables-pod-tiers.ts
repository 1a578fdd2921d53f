/**
 * A pod in the ClusterNetworkPolicy tiers of weft's iptables chains and ipsets (weftctl rules
 * --pod), in Kubernetes words, from the roles backend/iptables/render-cluster-policy.ts gives
 * them: the tier's subjects (`sub`), its port verdict sets (`acc`, `drp`, `pas`: local, port,
 * peer CIDR), the subjects whose own chain decides the rest (`oth`), and that own chain's rules,
 * each with a set of peer CIDRs. ipset elements carry no comment, so the rule deciding an element
 * is looked up in the tiers the agent applied (tier-words.ts), for a peer address of it.
 */
import type { SavedIpset } from '../../kernel/ipset';
import type { SavedRule } from '../../kernel/iptables';
import { formatIp } from '../../policy/address';
import type { TierVerdict } from '../dataplane/policy-state';
import type { DropTier } from '../drops/log-rules';
import type { IptablesNames, Tier } from '../backend/iptables/names';
import { containsOneOf, coveredRange, isOneOf, type Direction, type PodWords } from './pod-words';
import { ACTION_OF, TIER_NAME, tierDecision, tierPoliciesOf, tierRuleWords } from './tier-words';

const TIER_SET = /^([ab])([ei])-(sub|acc|drp|pas|oth)$/;
const TIER_OF: Record<Tier, DropTier> = { a: 'admin', b: 'baseline' };
const SET_VERDICT: Record<string, TierVerdict> = { acc: 'accept', drp: 'drop', pas: 'pass' };

const WORDS: Record<string, { direction: Direction; from: string; peer: string }> = {
  i: { direction: 'ingress', from: 'from', peer: 'source' },
  e: { direction: 'egress', from: 'to', peer: 'destination' },
};

/** "tcp:80" -> "TCP 80" */
const portText = (part: string) => part.replace(/^(\w+):(.*)$/, (_m, proto: string, port: string) => `${proto.toUpperCase()} ${port}`);

/** The first address of an element part (an address or CIDR). */
function firstAddress(text: string): string | undefined {
  const r = coveredRange(text);
  return r && formatIp(r.family, r.first);
}

interface Looked {
  tier: DropTier;
  direction: Direction;
  local: string;
  /** An address of the peer CIDR the kernel object holds. */
  peer: string | undefined;
  protocol?: string;
  port?: number;
}

/**
 * The rule deciding a packet in the applied tier, in words, when its verdict is one the kernel
 * object can give (`fits`); else the tier and `otherwise` alone (the objects changed since).
 */
function ruleWords(words: PodWords, p: Looked, fits: (v: TierVerdict) => boolean, otherwise: string): string {
  const decided = p.peer === undefined ? undefined : tierDecision(words.tierPolicies, { tier: p.tier, direction: p.direction, local: p.local, peer: p.peer, protocol: p.protocol ?? '', ...(p.port !== undefined && Number.isInteger(p.port) ? { port: p.port } : {}) }, fits);
  return decided ? tierRuleWords(words.model, decided.rule, decided.verdict).words : `${TIER_NAME[p.tier]} tier: ${otherwise}`;
}

/**
 * What one element of a tier set says about the pod; undefined when the set is not a tier's
 * (`kind`: the name after the prefix, without the family digit) or the element does not concern it.
 */
export function tierSetElementMeaning(kind: string, element: string, names: IptablesNames, words: PodWords): string | undefined {
  const m = TIER_SET.exec(kind);
  if (!m) return undefined;
  const tier = TIER_OF[m[1] as Tier];
  const w = WORDS[m[2]];
  const parts = element.split(',');
  const mine = (i: number) => parts[i] !== undefined && isOneOf(parts[i], words.addresses);
  if (m[3] === 'sub') return mine(0) ? `${words.pod} is a subject the ${TIER_NAME[tier]} tier decides ${w.direction} for: ${tierPoliciesOf(words, tier, w.direction)}` : undefined;
  if (m[3] === 'oth') return mine(0) ? `the ${TIER_NAME[tier]} tier decides the rest of ${w.direction} of ${words.pod} in its own chain ${names.tierLocalChain(m[1] as Tier, m[2] as 'e' | 'i', parts[0])}` : undefined;
  const verdict = SET_VERDICT[m[3]];
  const [protocol, port] = (parts[1] ?? '').split(':');
  const rule = (local: string) => ruleWords(words, { tier, direction: w.direction, local, peer: firstAddress(parts[2] ?? ''), protocol, port: Number(port) }, (v) => v === verdict, ACTION_OF[verdict]);
  if (mine(0)) return `${rule(parts[0])} ${w.direction} of ${words.pod} ${w.from} ${words.peer(parts[2])} on ${portText(parts[1])}`;
  if (parts[2] !== undefined && containsOneOf(parts[2], words.addresses)) return `${rule(parts[0])} ${w.direction} of ${words.peer(parts[0])} ${w.from} ${words.pod} (in ${parts[2]}) on ${portText(parts[1])}`;
  return undefined;
}

/** The pod's own chains of the tiers (what the sets cannot decide for it), by name. */
export function tierOwnChains(names: IptablesNames, words: PodWords): Map<string, { tier: Tier; d: 'e' | 'i'; local: string }> {
  const out = new Map<string, { tier: Tier; d: 'e' | 'i'; local: string }>();
  for (const local of words.addresses) for (const tier of ['a', 'b'] as const) for (const d of ['e', 'i'] as const) out.set(names.tierLocalChain(tier, d, local), { tier, d, local });
  return out;
}

const argAfter = (r: SavedRule, flag: string) => {
  const i = r.args.indexOf(flag);
  return i >= 0 ? r.args[i + 1] : undefined;
};

/**
 * A rule of the pod's own tier chain, in words: the rule deciding it (looked up for its first
 * peer CIDR and port) and its peers; undefined for a rule without a peer set (the chain's pass).
 */
export function tierOwnRuleMeaning(rule: SavedRule, own: { tier: Tier; d: 'e' | 'i'; local: string }, sets: ReadonlyMap<string, SavedIpset>, names: IptablesNames, words: PodWords): string | undefined {
  const tier = TIER_OF[own.tier];
  const w = WORDS[own.d];
  const set = argAfter(rule, '--match-set');
  if (set === undefined) return `what no rule of the ${TIER_NAME[tier]} tier decides for ${w.direction} of ${words.pod} passes the tier`;
  const peers = sets.get(set)?.elements;
  if (!peers) return undefined;
  // A drop goes to the tier's drop chain; accept and pass both return (after Baseline) or go on.
  const drops = rule.target === names.tierDropChain(own.tier, own.d);
  const protocol = argAfter(rule, '-p');
  const dport = argAfter(rule, '--dport');
  const first = dport === undefined ? undefined : Number(dport.split(':')[0]);
  const shown = peers.slice(0, 3).map((p) => words.peer(p)).join(', ') + (peers.length > 3 ? ` and ${peers.length - 3} more` : '');
  const ports = dport === undefined ? 'on every other port and protocol' : `on ${(protocol ?? '').toUpperCase()} ${dport.replace(':', '-')}`;
  const looked = { tier, direction: w.direction, local: own.local, peer: firstAddress(peers[0] ?? ''), ...(protocol !== undefined ? { protocol } : {}), ...(first !== undefined ? { port: first } : {}) };
  const decided = ruleWords(words, looked, (v) => (v === 'drop') === drops, drops ? ACTION_OF.drop : `${ACTION_OF.accept} or ${ACTION_OF.pass}`);
  return `${decided} ${w.direction} of ${words.pod} ${w.from} ${shown} ${ports}`;
}

/**
 * A rule of a tier's chain that decides nothing (no comment): the tier's pass, in words
 * (render-cluster-policy.ts: on to NetworkPolicy and Baseline after Admin, allowed after Baseline).
 */
export function tierPassMeaning(rule: SavedRule, names: IptablesNames): string | undefined {
  if (rule.comment !== undefined) return undefined;
  for (const tier of ['a', 'b'] as const) {
    for (const d of ['e', 'i'] as const) {
      if (rule.chain !== names.tierChain(tier, d)) continue;
      return `what the ${TIER_NAME[TIER_OF[tier]]} tier does not decide for ${WORDS[d].direction} passes it${rule.target?.endsWith('-PASSED') ? ': on to NetworkPolicy and the Baseline tier' : ''}`;
    }
  }
  return undefined;
}
