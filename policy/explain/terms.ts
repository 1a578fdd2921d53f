/**
 * NetworkPolicy pieces in the words of a manifest: selectors as `{app: web, tier in (a,b)}`,
 * peers by the field that names them (podSelector, namespaceSelector, ipBlock), ports as
 * `80/TCP` or `http/TCP`, rules by their number in spec.ingress / spec.egress (counted from 1).
 */
import type { Direction, Peer, PortEntry, Rule } from '../parse';
import type { Requirement, Selector } from '../selector';
import { formatCidrBlock } from '../address';
import type { Action, ClusterPeer, ClusterRule, ParsedClusterPolicy, Tier } from '../cluster-policy/parse';

function requirementText(r: Requirement): string {
  switch (r.operator) {
    case 'In':
      return r.values.length === 1 ? `${r.key}: ${r.values[0]}` : `${r.key} in (${r.values.join(',')})`;
    case 'NotIn':
      return `${r.key} notin (${r.values.join(',')})`;
    case 'Exists':
      return `${r.key} exists`;
    case 'DoesNotExist':
      return `!${r.key}`;
  }
}

/** `{}` for the empty selector (everything). */
export function selectorText(selector: Selector): string {
  return `{${selector.requirements.map(requirementText).join(', ')}}`;
}

export function peerText(peer: Peer): string {
  if (peer.kind === 'ipBlock') {
    const except = peer.except.map(formatCidrBlock);
    return `ipBlock ${formatCidrBlock(peer.cidr)}${except.length ? ` except ${except.join(', ')}` : ''}`;
  }
  const pods = `podSelector ${selectorText(peer.podSelector)}`;
  if (peer.namespace !== undefined) return `${pods} (namespace ${peer.namespace})`;
  const namespaces = `namespaceSelector ${selectorText(peer.namespaceSelector!)}${peer.namespaceSelector!.requirements.length === 0 ? ' (every namespace)' : ''}`;
  return peer.podSelector.requirements.length === 0 ? namespaces : `${namespaces} and ${pods}`;
}

export function portEntryText(entry: PortEntry): string {
  const protocol = entry.protocol.toUpperCase();
  if (entry.kind === 'all') return `any ${protocol} port`;
  if (entry.kind === 'named') return `${entry.name}/${protocol}`;
  return entry.first === entry.last ? `${entry.first}/${protocol}` : `${entry.first}-${entry.last}/${protocol}`;
}

/** "ingress rule 1". */
export function ruleName(direction: Direction, rule: Pick<Rule, 'index'>): string {
  return `${direction} rule ${rule.index + 1}`;
}

/** The rule as a sentence: "from podSelector {app: web} (namespace shop) on 80/TCP". */
export function ruleText(direction: Direction, rule: Rule): string {
  const word = direction === 'ingress' ? 'from' : 'to';
  const peers = rule.peers === null ? `${word} anywhere` : `${word} ${rule.peers.map(peerText).join(' or ')}`;
  const ports = rule.ports === null ? 'on any port' : `on ${rule.ports.map(portEntryText).join(', ')}`;
  return `${peers} ${ports}`;
}

// ---------------------------------------------------------------------------------------------
// ClusterNetworkPolicy, in the words of its manifest: `namespaces {...}`, `pods ...`, `networks`,
// `nodes`, `protocols` ("80/TCP", "named port web").

/** Which ClusterNetworkPolicy rule, as reports name it. */
export interface ClusterRuleHeading {
  tier: Tier;
  policy: string;
  priority: number;
  /** Counted from 1, in spec.ingress or spec.egress. */
  rule: number;
  name?: string;
  action: Action;
}

export function clusterRuleHeading(policy: Pick<ParsedClusterPolicy, 'tier' | 'name' | 'priority'>, rule: Pick<ClusterRule, 'index' | 'name' | 'action'>): ClusterRuleHeading {
  return { tier: policy.tier, policy: policy.name, priority: policy.priority, rule: rule.index + 1, ...(rule.name ? { name: rule.name } : {}), action: rule.action };
}

const everyNamespace = (selector: Selector): string => `${selectorText(selector)}${selector.requirements.length === 0 ? ' (every namespace)' : ''}`;

export function clusterPeerText(peer: ClusterPeer): string {
  if (peer.kind === 'networks') return `networks ${peer.cidrs.map(formatCidrBlock).join(', ')}`;
  if (peer.kind === 'nodes') return `nodes ${selectorText(peer.selector)}${peer.selector.requirements.length === 0 ? ' (every node)' : ''}`;
  if (peer.field === 'namespaces') return `namespaces ${everyNamespace(peer.namespaceSelector)}`;
  return `pods namespaceSelector ${everyNamespace(peer.namespaceSelector)} podSelector ${selectorText(peer.podSelector)}`;
}

/** "Admin ClusterNetworkPolicy deny-z (priority 10)". */
export function clusterPolicyText(policy: Pick<ParsedClusterPolicy, 'tier' | 'name' | 'priority'>): string {
  return `${policy.tier} ClusterNetworkPolicy ${policy.name} (priority ${policy.priority})`;
}

/** "ingress rule 2 (deny-from-z)". */
export function clusterRuleName(direction: Direction, rule: Pick<ClusterRule, 'index' | 'name'>): string {
  return `${direction} rule ${rule.index + 1}${rule.name ? ` (${rule.name})` : ''}`;
}

/** The rule as a sentence: "Deny from namespaces {ns: z} on 80/TCP". */
export function clusterRuleText(direction: Direction, rule: ClusterRule): string {
  const word = direction === 'ingress' ? 'from' : 'to';
  const peers = rule.peers === null ? `${word} anywhere` : rule.peers.length === 0 ? `${word} nothing` : `${word} ${rule.peers.map(clusterPeerText).join(' or ')}`;
  const ports = rule.protocols === null ? 'on any port' : `on ${rule.protocols.map((p) => p.text).join(', ')}`;
  return `${rule.action} ${peers} ${ports}${rule.failClosed ? ' (fail closed)' : ''}`;
}
