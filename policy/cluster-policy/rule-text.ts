/**
 * How a compiled tier names the rule behind a verdict (TierPortRange.rule, TierDecision.otherRule:
 * "Admin deny-z ingress rule 2 (from-z)"), and reading it back. The text travels into nftables
 * element comments and is all the kernel keeps of the rule; weftctl's policy drops, rules and
 * counters read the policy and rule out of it (agent/inspect/tier-words.ts), so writing and
 * reading live here together. Policy names are DNS subdomains (no spaces), so the text parses
 * unambiguously; a rule name, free text, comes last.
 */
import type { Direction } from '../parse';
import type { ClusterRule, ParsedClusterPolicy, Tier } from './parse';

export interface TierRuleRef {
  tier: Tier;
  /** The ClusterNetworkPolicy's metadata.name. */
  policy: string;
  direction: Direction;
  /** Index in spec.ingress or spec.egress (the text counts from 1). */
  index: number;
  ruleName?: string;
}

export function tierRuleText(policy: Pick<ParsedClusterPolicy, 'tier' | 'name'>, direction: Direction, rule: Pick<ClusterRule, 'index' | 'name'>): string {
  return `${policy.tier} ${policy.name} ${direction} rule ${rule.index + 1}${rule.name ? ` (${rule.name})` : ''}`;
}

const RULE_TEXT = /^(Admin|Baseline) (\S+) (ingress|egress) rule ([1-9]\d*)(?: \((.*)\))?$/;

/** The rule a text of tierRuleText names; undefined for any other text (a comment cut short, say). */
export function parseTierRuleText(text: string): TierRuleRef | undefined {
  const m = RULE_TEXT.exec(text);
  if (!m) return undefined;
  return { tier: m[1] as Tier, policy: m[2], direction: m[3] as Direction, index: Number(m[4]) - 1, ...(m[5] !== undefined ? { ruleName: m[5] } : {}) };
}
