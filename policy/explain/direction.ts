/**
 * One direction of one connection in words: the reference evaluator decides (verdict, the
 * isolating policies, the admitting rules, the ClusterNetworkPolicy tiers); this adds which
 * peer and which port entry of each deciding rule matched, and for a NetworkPolicy denial what
 * each rule of the isolating policies lacks.
 */
import type { PolicyProtocol } from '../../agent/dataplane/policy-state';
import { parseIp } from '../address';
import type { PodRecord } from '../cluster';
import type { ClusterMatch } from '../cluster-policy/evaluate';
import type { ClusterPeer, ClusterProtocol } from '../cluster-policy/parse';
import { podPeerMatchesAny, type DecidedBy, type DirectionVerdict } from '../evaluate';
import type { Direction, ParsedPolicy, Peer, PortEntry, Rule } from '../parse';
import { portsAllow, resolvePorts } from '../ports';
import { selectorMatches } from '../selector';
import type { ModelPod, PolicyModel } from './model';
import { clusterPeerText, clusterPolicyText, clusterRuleHeading, clusterRuleName, peerText, portEntryText, ruleText, type ClusterRuleHeading } from './terms';

/** An end of a connection: a pod, or an address no pod holds. */
export interface End {
  pod?: ModelPod;
  /** The address the evaluator is asked with (a pod's own, or its placeholder). */
  address: string;
}

export function endName(end: End): string {
  return end.pod ? end.pod.id : end.address;
}

export interface RuleMatch {
  policy: string;
  /** Counted from 1, in spec.ingress or spec.egress. */
  rule: number;
  /** The peer that matched, in manifest terms ("any peer" for a rule without from/to). */
  peer: string;
  port: string;
}

export interface RuleMiss {
  policy: string;
  rule: number;
  /** What the rule admits, and what of it the connection lacks. */
  admits: string;
  missing: 'peer' | 'port' | 'peer and port';
}

/** A ClusterNetworkPolicy rule that matched: the Admin tier's, then the Baseline tier's. */
export interface ClusterRuleMatch extends ClusterRuleHeading {
  peer: string;
  port: string;
  /** "Admin ClusterNetworkPolicy deny-z (priority 10) ingress rule 1 (from-z): Deny, peer ..., port ...". */
  text: string;
}

export interface DirectionExplanation {
  direction: Direction;
  /** The end this direction protects: the destination (ingress), the source (egress). */
  subject: string;
  isolated: boolean;
  allowed: boolean;
  /** Policies selecting the subject for this direction, sorted. */
  policies: string[];
  /** Of those, the ones without a single rule for this direction (they allow nothing). */
  withoutRules: string[];
  allowedBy: RuleMatch[];
  /** When NetworkPolicy denied: every rule of the isolating policies and what it lacks. */
  notAllowedBy: RuleMiss[];
  /** Which tier decided (evaluate.ts DecidedBy). */
  decidedBy: DecidedBy;
  /** The ClusterNetworkPolicy rules that matched (Admin, then Baseline); empty without any. */
  cluster: ClusterRuleMatch[];
  notes: string[];
  /** The whole explanation in one line. */
  text: string;
}

interface Context {
  model: PolicyModel;
  direction: Direction;
  local: End;
  peer: End;
  peerPods: readonly PodRecord[];
  protocol: PolicyProtocol;
  port: number;
}

function peerMatches(c: Context, peer: Peer): boolean {
  if (peer.kind === 'ipBlock') {
    const a = parseIp(c.peer.address);
    return !!a && a.family === peer.family && peer.ranges.some((r) => r.first <= a.value && a.value <= r.last);
  }
  return podPeerMatchesAny(peer, c.peerPods, c.model);
}

/** Named ports resolve on the destination: the protected pod for ingress, the peer for egress. */
function namedPortsOf(c: Context): (key: string) => readonly number[] | undefined {
  if (c.direction === 'ingress') return (key) => c.local.pod?.record.namedPorts.get(key);
  return (key) => c.peerPods.flatMap((p) => p.namedPorts.get(key) ?? []);
}

function portMatch(c: Context, entry: PortEntry): boolean {
  return portsAllow(resolvePorts([entry], namedPortsOf(c)), c.protocol, c.port);
}

function portMatchText(c: Context, entry: PortEntry): string {
  if (entry.kind !== 'named') return portEntryText(entry);
  const destination = c.direction === 'ingress' ? endName(c.local) : endName(c.peer);
  return `${portEntryText(entry)} (${c.port} on ${destination})`;
}

export const UNATTRIBUTED = '(not attributed)';

/** The evaluator found the rule admits the packet: which of its peers and ports did. */
function attribute(c: Context, policy: ParsedPolicy, rule: Rule): RuleMatch {
  const peer = rule.peers === null ? undefined : rule.peers.find((p) => peerMatches(c, p));
  const entry = rule.ports === null ? undefined : rule.ports.find((e) => portMatch(c, e));
  return {
    policy: policy.id,
    rule: rule.index + 1,
    // Not found cannot happen while this agrees with the evaluator (tested); said, not hidden.
    peer: rule.peers === null ? 'any peer' : peer ? peerText(peer) : UNATTRIBUTED,
    port: rule.ports === null ? 'any port' : entry ? portMatchText(c, entry) : UNATTRIBUTED,
  };
}

function miss(c: Context, policy: ParsedPolicy, rule: Rule): RuleMiss {
  const peerOk = rule.peers === null || rule.peers.some((p) => peerMatches(c, p));
  const portOk = rule.ports === null || rule.ports.some((e) => portMatch(c, e));
  const missing = !peerOk && !portOk ? 'peer and port' : !peerOk ? 'peer' : 'port';
  return { policy: policy.id, rule: rule.index + 1, admits: ruleText(c.direction, rule), missing };
}

const portText = (c: Context): string => `${c.port}/${c.protocol.toUpperCase()}`;

/** "node node-0" for a Node's address (what `nodes` peers match), else undefined. */
function nodeWords(model: PolicyModel, address: string): string | undefined {
  const a = parseIp(address);
  const nodes = a ? model.evaluator.nodesAt(a).map((n) => `node ${n.name}`) : [];
  return nodes.length > 0 ? nodes.join(', ') : undefined;
}

function notApplicable(model: PolicyModel, local: End): string {
  const node = local.pod ? undefined : nodeWords(model, local.address);
  if (!local.pod) return `${local.address} is ${node ? `${node}'s address, ` : ''}not a pod: no NetworkPolicy applies`;
  return `${local.pod.id} is not a pod NetworkPolicy applies to (hostNetwork, or finished)`;
}

function clusterPeerMatches(c: Context, peer: ClusterPeer): boolean {
  const a = parseIp(c.peer.address);
  if (peer.kind === 'networks') return !!a && peer.cidrs.some((b) => b.family === a.family && b.first <= a.value && a.value <= b.last);
  if (peer.kind === 'nodes') return !!a && c.model.evaluator.nodesAt(a).some((n) => selectorMatches(peer.selector, n.labels));
  return peerMatches(c, peer);
}

function protocolMatchText(c: Context, protocol: ClusterProtocol): string {
  const named = protocol.entries.find((e) => e.kind === 'named');
  if (!named) return protocol.text;
  const destination = c.direction === 'ingress' ? endName(c.local) : endName(c.peer);
  return `${protocol.text} (${c.port}/${c.protocol.toUpperCase()} on ${destination})`;
}

/** The evaluator found the tier's rule matches: which of its peers and protocols did. */
function attributeCluster(c: Context, m: ClusterMatch): ClusterRuleMatch {
  const rule = c.model.clusterPolicies.get(m.policy)?.[c.direction].find((r) => r.index === m.rule);
  const peer = rule?.peers?.find((p) => clusterPeerMatches(c, p));
  const protocol = rule?.protocols?.find((p) => p.entries.some((e) => portMatch(c, e)));
  // A nodes peer says which node the address is (its selector alone does not).
  const node = peer?.kind === 'nodes' ? nodeWords(c.model, c.peer.address) : undefined;
  const peerWords = !rule ? UNATTRIBUTED : rule.peers === null ? 'any peer (the rule fails closed)' : peer ? `${clusterPeerText(peer)}${node ? ` matching ${node}` : ''}` : UNATTRIBUTED;
  const portWords = !rule ? UNATTRIBUTED : rule.protocols === null ? 'any port' : protocol ? protocolMatchText(c, protocol) : UNATTRIBUTED;
  const policy = { tier: m.tier, name: m.policy, priority: m.priority };
  const ruleRef = { index: m.rule, ...(m.ruleName ? { name: m.ruleName } : {}), action: m.action };
  return {
    ...clusterRuleHeading(policy, ruleRef),
    peer: peerWords,
    port: portWords,
    text: `${clusterPolicyText(policy)} ${clusterRuleName(c.direction, ruleRef)}: ${m.action}, peer ${peerWords}, port ${portWords}`,
  };
}

function tieNote(direction: Direction, m: ClusterMatch): string[] {
  if (m.ties.length === 0) return [];
  const others = m.ties.map((t) => `${t.policy} ${direction} rule ${t.rule + 1} (${t.action})`).join(', ');
  return [`${others} also matched at ${m.tier} priority ${m.priority}: upstream leaves the order among equal priorities to the implementation; weft takes ${m.policy} first (by name)`];
}

/** Words for the evaluator's verdict on one direction. */
export function explainDirection(model: PolicyModel, verdict: DirectionVerdict, local: End, peer: End, protocol: PolicyProtocol, port: number): DirectionExplanation {
  const direction = verdict.direction;
  const peerAddress = parseIp(peer.address);
  const peerPods = peerAddress ? model.evaluator.podsAt(peerAddress).filter((p) => p.labels !== null) : [];
  const c: Context = { model, direction, local, peer, peerPods, protocol, port };
  const subject = endName(local);
  const heading = direction === 'ingress' ? `ingress to ${subject}` : `egress from ${subject}`;
  const policies = verdict.policies.map((id) => model.policy(id)).filter((p): p is ParsedPolicy => p !== undefined);
  const withoutRules = policies.filter((p) => (p[direction] ?? []).length === 0).map((p) => p.id);
  // NetworkPolicy's own verdict (the Admin tier may have decided before it).
  const npAllowed = !verdict.isolated || verdict.rules.length > 0;
  const npDecided = verdict.decidedBy === 'networkPolicy';
  const admitting = new Set(verdict.rules.map((r) => `${r.policy}\0${r.rule}`));
  const allowedBy: RuleMatch[] = [];
  const notAllowedBy: RuleMiss[] = [];
  for (const policy of policies) {
    for (const rule of policy[direction] ?? []) {
      if (admitting.has(`${policy.id}\0${rule.index}`)) allowedBy.push(attribute(c, policy, rule));
      else if (!npAllowed) notAllowedBy.push(miss(c, policy, rule));
    }
  }
  const cluster = [verdict.admin, verdict.baseline].filter((m): m is ClusterMatch => m !== undefined).map((m) => attributeCluster(c, m));
  const [admin, baseline] = [verdict.admin ? cluster[0] : undefined, verdict.baseline ? cluster[cluster.length - 1] : undefined];
  const notes: string[] = [...(verdict.admin ? tieNote(direction, verdict.admin) : []), ...(verdict.baseline ? tieNote(direction, verdict.baseline) : [])];
  const hasIpBlock = policies.some((p) => (p[direction] ?? []).some((r) => (r.peers ?? []).some((x) => x.kind === 'ipBlock')));
  if (hasIpBlock && peer.pod && peer.pod.addresses.length === 0) {
    notes.push(model.placeholdersClear ? `${peer.pod.id} has no address in the objects: no ipBlock matches it` : `${peer.pod.id} has no address in the objects, and the ipBlocks cover every address: the ipBlock verdict is a guess`);
  }
  if (peer.pod && peer.pod.addresses.length === 0 && cluster.some((m) => m.peer.startsWith('networks '))) {
    notes.push(`${peer.pod.id} has no address in the objects, and the networks cover every address: the networks verdict is a guess`);
  }
  const isolatedBy = verdict.policies.map((id) => (withoutRules.includes(id) ? `${id} (no ${direction} rules)` : id)).join(', ');
  let npBody: string;
  if (!verdict.isolated) npBody = `allowed, not isolated (no NetworkPolicy selects ${subject} for ${direction})`;
  else if (policies.length === 0) {
    // Only a pod without object is isolated by no policy: NetworkPolicy's reason, without the tiers'.
    const reason = verdict.admin || verdict.baseline ? model.evaluator.direction(direction, parseIp(local.address)!, peerAddress!, protocol, port, false).reason : verdict.reason;
    npBody = `${npAllowed ? 'allowed' : 'DENIED'}, ${reason}`;
  } else if (npAllowed) {
    const by = allowedBy.map((m) => `${m.policy} ${direction} rule ${m.rule}: peer ${m.peer}, port ${m.port}`).join('; and by ');
    npBody = `isolated by ${isolatedBy}; allowed by ${by}`;
  } else npBody = `isolated by ${isolatedBy}; DENIED: no rule allows ${endName(peer)} on ${portText(c)}`;
  const word = verdict.allowed ? 'allowed' : 'DENIED';
  const passed = admin ? `${admin.text}, then ` : '';
  let text: string;
  if (verdict.pods.length === 0) text = `${heading}: allowed, ${notApplicable(model, local)}`;
  else if (verdict.loopback) text = `${heading}: allowed, ${verdict.reason}`;
  else if (verdict.decidedBy === 'admin') text = `${heading}: ${word} by ${admin!.text}`;
  else if (verdict.decidedBy === 'baseline') text = `${heading}: ${passed}not isolated (no NetworkPolicy selects ${subject} for ${direction}); ${word} by ${baseline!.text}`;
  else text = `${heading}: ${admin ? `${admin.text}, then NetworkPolicy: ` : ''}${npBody}${baseline ? `, then ${baseline.text}` : ''}`;
  return {
    direction,
    subject,
    isolated: verdict.isolated,
    allowed: verdict.allowed,
    policies: verdict.policies,
    withoutRules,
    allowedBy: npDecided || verdict.decidedBy === 'default' ? allowedBy : [],
    notAllowedBy: npDecided ? notAllowedBy : [],
    decidedBy: verdict.decidedBy,
    cluster,
    notes,
    text,
  };
}

/** A miss in one line: "shop/a ingress rule 1 allows from ... on ...: the peer does not match". */
export function missText(direction: Direction, m: RuleMiss): string {
  const what = m.missing === 'peer and port' ? 'neither the peer nor the port matches' : m.missing === 'peer' ? 'the peer does not match' : 'the port does not match';
  return `${m.policy} ${direction} rule ${m.rule} allows ${m.admits}: ${what}`;
}
