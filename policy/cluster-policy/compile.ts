/**
 * The ClusterNetworkPolicy tiers as this node enforces them (agent/dataplane/policy-state.ts,
 * TierPolicy): per tier and direction, the local pod addresses some policy of the tier selects
 * (`subjects`), and peer classes with, per subject address, the tier's outcome resolved at
 * compile time, so that a packet meets a verdict, never the rules:
 *
 *  1. Subjects: per local address, the tier's policies with rules of the direction whose subject
 *     selects a pod at that address, in evaluation order (priority, then name); for the Baseline
 *     tier only addresses NetworkPolicy does not isolate in the direction. Addresses with
 *     the same list (and, for ingress, the same resolution of the named ports those rules use)
 *     form a group: they get the same outcomes.
 *  2. Peers: those of the groups' rules (pods and namespaces peers as NetworkPolicy's pod peers,
 *     networks as address ranges, nodes as the addresses of the matching nodes, a fail-closed
 *     rule's "every peer" as every address), into classes by NetworkPolicy's sweep
 *     (policy/peer-classes.ts): within a class, every rule's peers match all addresses or none.
 *  3. Outcomes: per group and class, the rules whose peers match the class, in precedence order;
 *     the first rule that admits a protocol and port decides it (policy/cluster-policy/evaluate.ts,
 *     firstMatch, is the reference). Painted over the port space: `other` is the verdict of the
 *     first rule without ports (or pass), `ports` the ranges whose verdict differs from it.
 *     Named ports resolve on the destination: the subject for ingress, the class for egress.
 */
import type { PolicyProtocol, TierClass, TierDecision, TierDirection, TierPolicy, TierPortRange, TierVerdict } from '../../agent/dataplane/policy-state';
import { compareBigInt, formatIp, parseIp, rangeToCidrs, type AddressRange } from '../address';
import { namedPortKey, type PodAddress, type PodRecord } from '../cluster';
import type { ClusterIndex } from '../cluster-index';
import type { PolicyNode } from '../input';
import type { Direction } from '../parse';
import { buildClasses, classKey, EVERY_ADDRESS, type ClassBuild, type ClassPeer } from '../peer-classes';
import { resolvePorts } from '../ports';
import { selectorMatches, type Selector } from '../selector';
import type { Action, ClusterPeer, ClusterRule, ClusterSubject, ParsedClusterPolicy, Tier } from './parse';
import { tierRuleText } from './rule-text';

export interface ClusterTiers {
  admin?: TierPolicy;
  baseline?: TierPolicy;
}

/** A local pod address and the endpoint pods holding it (what subjects are matched against). */
interface LocalAddress {
  address: PodAddress;
  pods: readonly PodRecord[];
}

/** What compiling the tiers for one node reads. */
interface Context {
  index: ClusterIndex;
  local: readonly LocalAddress[];
  nodes: readonly { labels: Readonly<Record<string, string>>; addresses: PodAddress[] }[];
  /** Namespaces a selector matches, per selector (as a set). */
  namespaces: Map<string, Set<string>>;
  /** Node addresses a selector matches, per selector. */
  nodeAddresses: Map<string, PodAddress[]>;
}

/**
 * The tiers for the node whose pods are `local` (index.localPods), from the usable policies in
 * evaluation order (parseClusterPolicies). `isolated`: the local addresses NetworkPolicy isolates,
 * per direction; the Baseline tier leaves them out (NetworkPolicy decides for them: a packet
 * never reaches the tier). A tier none of whose policies selects a local address is absent.
 */
export function compileClusterTiers(
  policies: readonly ParsedClusterPolicy[],
  index: ClusterIndex,
  local: readonly PodRecord[],
  nodes: readonly PolicyNode[],
  isolated: Readonly<Record<Direction, ReadonlySet<string>>>,
): ClusterTiers {
  if (policies.length === 0) return {};
  const addresses = new Map<string, LocalAddress>();
  for (const pod of local) for (const a of pod.addresses) if (!addresses.has(a.text)) addresses.set(a.text, { address: a, pods: index.podsAt(a.text) });
  const ctx: Context = {
    index,
    local: [...addresses.values()].sort((x, y) => x.address.family - y.address.family || compareBigInt(x.address.value, y.address.value)),
    nodes: nodes.map((n) => ({ labels: n.labels, addresses: n.addresses.flatMap((text) => addressOf(text) ?? []) })),
    namespaces: new Map(),
    nodeAddresses: new Map(),
  };
  const out: ClusterTiers = {};
  for (const [tier, field] of [['Admin', 'admin'], ['Baseline', 'baseline']] as const) {
    const ofTier = policies.filter((p) => p.tier === tier);
    if (ofTier.length === 0) continue;
    const skip = (d: Direction) => (tier === 'Baseline' ? isolated[d] : NONE);
    const ingress = compileTierDirection(tier, 'ingress', ofTier, ctx, skip('ingress'));
    const egress = compileTierDirection(tier, 'egress', ofTier, ctx, skip('egress'));
    if (ingress.subjects.length > 0 || egress.subjects.length > 0) out[field] = { ingress, egress };
  }
  return out;
}

const NONE: ReadonlySet<string> = new Set();

function addressOf(text: string): PodAddress | undefined {
  const a = parseIp(text);
  return a && { family: a.family, value: a.value, text: formatIp(a.family, a.value) };
}

function selects(ctx: Context, subject: ClusterSubject, pod: PodRecord): boolean {
  let names = ctx.namespaces.get(subject.namespaceSelector.canonical);
  if (!names) ctx.namespaces.set(subject.namespaceSelector.canonical, (names = new Set(ctx.index.namespacesMatching(subject.namespaceSelector))));
  // A pod without Pod object (labels null) is selected only by an empty pod selector (parse.ts).
  return names.has(pod.namespace) && selectorMatches(subject.podSelector, pod.labels);
}

function nodeAddressesMatching(ctx: Context, selector: Selector): PodAddress[] {
  let out = ctx.nodeAddresses.get(selector.canonical);
  if (!out) {
    const byText = new Map<string, PodAddress>();
    for (const node of ctx.nodes) if (selectorMatches(selector, node.labels)) for (const a of node.addresses) byText.set(a.text, a);
    ctx.nodeAddresses.set(selector.canonical, (out = [...byText.values()]));
  }
  return out;
}

/** A peer of the tier's rules, or "any" (a rule failing closed matches every address). */
interface PeerInfo extends ClassPeer<PeerInfo> {}

/** Ranges sorted and merged per family: the sweep wants a peer's ranges disjoint. */
function mergedRanges(ranges: readonly AddressRange[]): AddressRange[] {
  const sorted = [...ranges].sort((a, b) => a.family - b.family || compareBigInt(a.first, b.first));
  const out: AddressRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.family === r.family && r.first <= last.last + 1n) {
      if (r.last > last.last) last.last = r.last;
    } else out.push({ family: r.family, first: r.first, last: r.last });
  }
  return out;
}

function matchOf(ctx: Context, peer: ClusterPeer | 'any'): Pick<PeerInfo, 'ranges' | 'pods' | 'addresses'> {
  if (peer === 'any') return { ranges: EVERY_ADDRESS, pods: [], addresses: [] };
  if (peer.kind === 'networks') return { ranges: mergedRanges(peer.cidrs), pods: [], addresses: [] };
  if (peer.kind === 'nodes') return { ranges: [], pods: [], addresses: nodeAddressesMatching(ctx, peer.selector) };
  return { ranges: [], pods: ctx.index.podsMatching(peer), addresses: [] };
}

/** A rule with what the compile needs: its policy, its peers as classes know them, its words. */
interface RuleInfo {
  id: number;
  rule: ClusterRule;
  peers: PeerInfo[];
  verdict: TierVerdict;
  /** "Admin deny-z ingress rule 2 (from-z)" (rule-text.ts): what decided, for comments and counters. */
  text: string;
}

/** Local addresses with the same policies in force (and named-port resolution, for ingress). */
interface Group {
  rules: RuleInfo[];
  addresses: LocalAddress[];
  /** Ingress: the named ports of the subject (any address of the group: they resolve alike). */
  named: (key: string) => readonly number[] | undefined;
}

const VERDICTS: Readonly<Record<Action, TierVerdict>> = { Accept: 'accept', Deny: 'drop', Pass: 'pass' };

const namedOf = (pods: readonly PodRecord[]) => (key: string): number[] | undefined => {
  let out: number[] | undefined;
  for (const pod of pods) {
    const found = pod.namedPorts.get(key);
    if (found) out = out ? [...new Set([...out, ...found])].sort((a, b) => a - b) : found;
  }
  return out;
};

function compileTierDirection(tier: Tier, direction: Direction, policies: readonly ParsedClusterPolicy[], ctx: Context, skip: ReadonlySet<string>): TierDirection {
  const egress = direction === 'egress';
  const withRules = policies.filter((p) => p[direction].length > 0);
  if (withRules.length === 0) return { subjects: [], classes: [] };

  // 2. Peers and rules (of the policies that select some local address).
  const peers = new Map<string, PeerInfo>();
  const peerOf = (peer: ClusterPeer | 'any'): PeerInfo => {
    const identity = peer === 'any' ? 'any' : peer.identity;
    let info = peers.get(identity);
    if (!info) peers.set(identity, (info = { id: peers.size, identity, ...matchOf(ctx, peer), names: new Set(), classes: [] }));
    return info;
  };
  const rulesOf = new Map<ParsedClusterPolicy, RuleInfo[]>();
  let nextRule = 0;
  const rulesOfPolicy = (policy: ParsedClusterPolicy): RuleInfo[] => {
    let rules = rulesOf.get(policy);
    if (!rules) {
      rules = policy[direction].map((rule) => {
        const rulePeers = rule.peers === null ? [peerOf('any')] : rule.peers.map(peerOf);
        if (egress) for (const e of rule.ports ?? []) if (e.kind === 'named') for (const p of rulePeers) p.names.add(namedPortKey(e.name, e.protocol));
        return { id: nextRule++, rule, peers: rulePeers, verdict: VERDICTS[rule.action], text: tierRuleText(policy, direction, rule) };
      });
      rulesOf.set(policy, rules);
    }
    return rules;
  };

  // 1. Subjects, grouped.
  const subjects: LocalAddress[] = [];
  const groups = new Map<string, Group>();
  for (const la of ctx.local) {
    if (skip.has(la.address.text)) continue;
    const selected = withRules.filter((p) => la.pods.some((pod) => selects(ctx, p.subject, pod)));
    if (selected.length === 0) continue;
    subjects.push(la);
    const rules = selected.flatMap(rulesOfPolicy);
    let key = rules.map((r) => r.id).join(',');
    const named = namedOf(la.pods);
    if (!egress) {
      const names = [...new Set(rules.flatMap((r) => (r.rule.ports ?? []).flatMap((e) => (e.kind === 'named' ? [namedPortKey(e.name, e.protocol)] : []))))].sort();
      if (names.length > 0) key += `|${names.map((n) => `${n}=${(named(n) ?? []).join('+')}`).join(';')}`;
    }
    const group = groups.get(key);
    if (group) group.addresses.push(la);
    else groups.set(key, { rules, addresses: [la], named });
  }
  if (subjects.length === 0) return { subjects: [], classes: [] };

  // Fills each peer's `classes`, which is all the outcomes need.
  buildClasses(egress, [...peers.values()], ctx.index);

  // 3. Outcomes per group and class: each from the rules matching the class, painted once per
  // distinct list of rules (and resolution of the named ports they use).
  const decisions = new Map<ClassBuild<PeerInfo>, TierDecision[]>();
  const painted = new Map<string, Outcome | null>();
  for (const group of groups.values()) {
    const touching = new Map<ClassBuild<PeerInfo>, RuleInfo[]>();
    for (const r of group.rules) {
      for (const p of r.peers) {
        for (const c of p.classes) {
          const list = touching.get(c);
          if (!list) touching.set(c, [r]);
          else if (list[list.length - 1] !== r) list.push(r);
        }
      }
    }
    for (const [c, rules] of touching) {
      const named = egress ? (key: string) => c.resolution.get(key) : group.named;
      const usesNames = rules.some((r) => r.rule.ports?.some((e) => e.kind === 'named'));
      const memoKey = `${rules.map((r) => r.id).join(',')}${usesNames ? `|${egress ? c.signature : groupNamesKey(group, rules)}` : ''}`;
      let outcome = painted.get(memoKey);
      if (outcome === undefined) painted.set(memoKey, (outcome = paint(rules, named)));
      if (outcome === null) continue;
      let list = decisions.get(c);
      if (!list) decisions.set(c, (list = []));
      for (const la of group.addresses) {
        if (c.families.has(la.address.family)) list.push({ localIp: la.address.text, ...outcome });
      }
    }
  }

  const rank = new Map(ctx.local.map((la, i) => [la.address.text, i]));
  const tierClasses: TierClass[] = [];
  for (const [c, decide] of decisions) {
    if (decide.length === 0) continue;
    decide.sort((a, b) => rank.get(a.localIp)! - rank.get(b.localIp)!);
    tierClasses.push({ key: classKey(`${tier} ${direction}`, c), cidrs: c.ranges.flatMap(rangeToCidrs), decide });
  }
  tierClasses.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { subjects: subjects.map((la) => la.address.text), classes: tierClasses };
}

/** The ingress resolution of the named ports `rules` use, on the group's subject. */
function groupNamesKey(group: Group, rules: readonly RuleInfo[]): string {
  const names = new Set<string>();
  for (const r of rules) for (const e of r.rule.ports ?? []) if (e.kind === 'named') names.add(namedPortKey(e.name, e.protocol));
  return [...names].sort().map((n) => `${n}=${(group.named(n) ?? []).join('+')}`).join(';');
}

type Outcome = Pick<TierDecision, 'other' | 'otherRule' | 'ports'>;

const PROTOCOLS: readonly PolicyProtocol[] = ['tcp', 'udp', 'sctp'];

interface Segment {
  first: number;
  last: number;
  verdict: TierVerdict;
  rule: string;
}

/**
 * The first matching rule of `rules` for every protocol and port: each rule claims what no
 * earlier rule claimed; a rule without ports claims everything left and decides `other`.
 * null when the outcome is `pass` everywhere.
 */
function paint(rules: readonly RuleInfo[], named: (key: string) => readonly number[] | undefined): Outcome | null {
  const claimed: Record<PolicyProtocol, Segment[]> = { tcp: [], udp: [], sctp: [] };
  let other: TierVerdict = 'pass';
  let otherRule: string | undefined;
  for (const r of rules) {
    const ports = resolvePorts(r.rule.ports, named);
    if (ports === 'all') {
      other = r.verdict;
      otherRule = r.text;
      break;
    }
    for (const range of ports) claim(claimed[range.protocol], range.first, range.last, r.verdict, r.text);
  }
  const out: TierPortRange[] = [];
  for (const protocol of PROTOCOLS) {
    const segments = claimed[protocol].sort((a, b) => a.first - b.first);
    for (const s of segments) {
      if (s.verdict === other) continue;
      const last = out[out.length - 1];
      if (last && last.protocol === protocol && last.last + 1 === s.first && last.verdict === s.verdict && last.rule === s.rule) last.last = s.last;
      else out.push({ protocol, first: s.first, last: s.last, verdict: s.verdict, rule: s.rule });
    }
  }
  if (other === 'pass' && out.length === 0) return null;
  return { other, ...(otherRule !== undefined ? { otherRule } : {}), ports: out };
}

/** Adds the parts of [first, last] that no segment covers yet. */
function claim(segments: Segment[], first: number, last: number, verdict: TierVerdict, rule: string): void {
  const gaps: Segment[] = [];
  let cursor = first;
  for (const s of segments) {
    if (s.last < cursor || s.first > last) continue;
    if (s.first > cursor) gaps.push({ first: cursor, last: s.first - 1, verdict, rule });
    cursor = Math.max(cursor, s.last + 1);
    if (cursor > last) break;
  }
  if (cursor <= last) gaps.push({ first: cursor, last, verdict, rule });
  for (const g of gaps) segments.push(g);
  segments.sort((a, b) => a.first - b.first);
}
