/**
 * One tier of ClusterNetworkPolicy for one direction of one packet, directly (no classes, no
 * indexes): the policies of the tier in order (priority, then name), those whose subject
 * selects the protected pods and that have rules for the direction, and in each the first rule
 * whose peers and ports match. The first such rule of the tier decides for the tier: Accept and
 * Deny are final, Pass hands the packet to the next tier (policy/evaluate.ts composes the tiers
 * with NetworkPolicy). Part of the reference semantics the compiler is tested against.
 */
import type { Direction, PortEntry } from '../parse';
import type { Action, ClusterPeer, ClusterSubject, ParsedClusterPolicy, Tier } from './parse';

export interface ClusterTie {
  policy: string;
  rule: number;
  action: Action;
}

export interface ClusterMatch {
  tier: Tier;
  policy: string;
  priority: number;
  /** Index in the policy's spec.ingress or spec.egress. */
  rule: number;
  ruleName?: string;
  action: Action;
  /**
   * Other policies of the same tier and priority whose first matching rule does something
   * else: upstream leaves the choice among them to the implementation (weft takes the first by
   * name), so the verdict says it was a tie.
   */
  ties: ClusterTie[];
}

/** The packet as the tier sees it, from the end the direction protects. */
export interface TierQuestion {
  direction: Direction;
  /** Whether a subject selects the protected pods. */
  selects(subject: ClusterSubject): boolean;
  /** Whether a peer matches the other end. */
  peerMatches(peer: ClusterPeer): boolean;
  /** Whether a rule's ports (null: any) admit the packet's protocol and port. */
  portsMatch(entries: readonly PortEntry[] | null): boolean;
}

function matchingRule(policy: ParsedClusterPolicy, q: TierQuestion) {
  return policy[q.direction].find((rule) => (rule.peers === null || rule.peers.some((peer) => q.peerMatches(peer))) && q.portsMatch(rule.ports));
}

/** The tier's decision: its first matching rule, or undefined when none matches. */
export function firstMatch(policies: readonly ParsedClusterPolicy[], q: TierQuestion): ClusterMatch | undefined {
  let found: ClusterMatch | undefined;
  for (const policy of policies) {
    if (found && policy.priority !== found.priority) break;
    if (policy[q.direction].length === 0 || !q.selects(policy.subject)) continue;
    const rule = matchingRule(policy, q);
    if (!rule) continue;
    if (!found) {
      found = { tier: policy.tier, policy: policy.name, priority: policy.priority, rule: rule.index, ...(rule.name ? { ruleName: rule.name } : {}), action: rule.action, ties: [] };
    } else if (rule.action !== found.action) found.ties.push({ policy: policy.name, rule: rule.index, action: rule.action });
  }
  return found;
}

/** "Admin priority 10 deny-z ingress rule 2 (from-z): Deny", with any tie. */
export function clusterMatchText(m: ClusterMatch, direction: Direction): string {
  const rule = `${direction} rule ${m.rule + 1}${m.ruleName ? ` (${m.ruleName})` : ''}`;
  const ties = m.ties.length
    ? ` (a tie: ${m.ties.map((t) => `${t.policy} ${direction} rule ${t.rule + 1}: ${t.action}`).join(', ')} at the same priority; upstream leaves the order to the implementation, weft takes policies by name)`
    : '';
  return `${m.tier} priority ${m.priority} ${m.policy} ${rule}: ${m.action}${ties}`;
}
