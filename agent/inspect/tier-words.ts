/**
 * ClusterNetworkPolicy tier rules in Kubernetes words, for weftctl policy drops and rules: the
 * rule text a compiled tier carries (policy/cluster-policy/rule-text.ts, also the nftables
 * elements' comments) with the policy's priority from the agent's objects and the action the
 * kernel takes; and the rule deciding a packet, from the tiers the agent applied (what the kernel
 * was told, looked up as the kernel does: policy/cluster-policy/model-verdict.ts).
 */
import type { NodePolicy, TierDirection, TierVerdict } from '../dataplane/policy-state';
import { canonicalIpText, parseIp } from '../../policy/address';
import { clusterMatchText } from '../../policy/cluster-policy/evaluate';
import { TierLookup } from '../../policy/cluster-policy/model-verdict';
import type { Action } from '../../policy/cluster-policy/parse';
import { parseTierRuleText } from '../../policy/cluster-policy/rule-text';
import type { PolicyModel } from '../../policy/explain/model';
import type { DropTier } from '../drops/log-rules';
import type { Direction, PodWords } from './pod-words';

export const ACTION_OF: Readonly<Record<TierVerdict, Action>> = { accept: 'Accept', drop: 'Deny', pass: 'Pass' };

/** The tier as ClusterNetworkPolicy's spec.tier spells it. */
export const TIER_NAME: Readonly<Record<DropTier, 'Admin' | 'Baseline'>> = { admin: 'Admin', baseline: 'Baseline' };

export interface TierRuleWords {
  /** "Admin priority 10 deny-z ingress rule 2 (from-z): Deny" */
  words: string;
  /** The ClusterNetworkPolicy's name, when the text names one. */
  policy?: string;
}

/**
 * A compiled rule text and the verdict the kernel gives, in words: with the policy's priority
 * when the agent's objects have the policy, else the text as it is (a policy deleted since, or
 * a comment nft cut short).
 */
export function tierRuleWords(model: PolicyModel, text: string, verdict: TierVerdict): TierRuleWords {
  const action = ACTION_OF[verdict];
  const ref = parseTierRuleText(text);
  if (!ref) return { words: `${text}: ${action}` };
  const policy = model.clusterPolicies.get(ref.policy);
  if (!policy || policy.tier !== ref.tier) return { words: `${text}: ${action}`, policy: ref.policy };
  const match = { tier: ref.tier, policy: ref.policy, priority: policy.priority, rule: ref.index, ...(ref.ruleName !== undefined ? { ruleName: ref.ruleName } : {}), action, ties: [] };
  return { words: clusterMatchText(match, ref.direction), policy: ref.policy };
}

/** A tier's lookups, built once per TierDirection object (the compile keeps unchanged ones). */
const lookups = new WeakMap<TierDirection, TierLookup>();

export interface TierPacket {
  tier: DropTier;
  direction: Direction;
  /** The address of this node's pod the direction protects: the destination for ingress, the source for egress. */
  local: string;
  peer: string;
  /** "tcp", "udp", "sctp", "icmp", ... */
  protocol: string;
  port?: number;
}

/**
 * What a tier decides for a packet, and by which rule: the first of `policies` (those the kernel
 * may hold, most likely first) whose verdict `fits` what the kernel did and that names a rule;
 * undefined when none does (the objects changed since) or the addresses are not addresses.
 */
export function tierDecision(policies: readonly NodePolicy[], p: TierPacket, fits: (verdict: TierVerdict) => boolean): { verdict: TierVerdict; rule: string } | undefined {
  const local = canonicalIpText(p.local);
  const peer = canonicalIpText(p.peer);
  if (!local || !peer) return undefined;
  for (const policy of policies) {
    const tier = policy[p.tier]?.[p.direction];
    if (!tier) continue;
    let lookup = lookups.get(tier);
    if (!lookup) lookups.set(tier, (lookup = new TierLookup(tier)));
    const answer = lookup.verdict(local, peer, p.protocol, p.port);
    if (fits(answer.verdict) && answer.rule !== undefined) return { verdict: answer.verdict, rule: answer.rule };
  }
  return undefined;
}

/** The tier's policies whose subject selects the pod and that have rules of the direction: "deny-z (priority 10), ...". */
export function tierPoliciesOf(words: PodWords, tier: DropTier, direction: Direction): string {
  const address = words.addresses.map((a) => parseIp(a)).find((a) => a !== undefined);
  const policies = address ? words.model.evaluator.clusterPoliciesSelecting(direction, address).filter((p) => p.tier === TIER_NAME[tier]) : [];
  return policies.map((p) => `${p.name} (priority ${p.priority})`).join(', ') || 'none known (the objects changed since)';
}
