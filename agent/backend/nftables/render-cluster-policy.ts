/**
 * ClusterNetworkPolicy tiers (NodePolicy.admin, .baseline) -> sets, verdict maps and chains of
 * the `inet weft` table, and the rules that put each tier's stage into a direction's base chain
 * (render-policy.ts places them: the Admin stage before NetworkPolicy, the Baseline stage after).
 *
 * Per tier, direction and family, a NEW packet of a subject costs a fixed number of lookups,
 * whatever the number of policies, pods or namespaces:
 *   1. the local address in the tier's subjects set, then the peer address in the tier's class
 *      verdict maps (single addresses, then ranges), which jumps to the class's chain;
 *   2. there, `(local address, protocol, port)` in the class's port verdict map (intervals), then
 *      the local address in its "other" verdict map: `accept` is final for the direction, a drop
 *      goes to the stage's drop chain (counted, logged to NFLOG through a rate limit), `return`
 *      hands the packet back to the base chain, on to the next stage. A port range a Pass rule
 *      decides inside a class whose `other` is accept or drop is an explicit `return` element; a
 *      subject with no element passes.
 * Elements count their packets, and say in their comment which rule they stand for; their
 * counters are summed per ClusterNetworkPolicy (policy-counters.ts: connections its Accept
 * elements let through, packets its Deny elements dropped).
 *
 * Pod to its own node (the input hook, where NetworkPolicy does not look): the egress stages
 * are applied there too, so that a `nodes` (or `networks`) egress peer also holds for the node
 * the pod runs on. NetworkPolicy exempts that traffic, so an address it isolates for egress is
 * accepted between the two stages, as in the forward hook it would be decided there. The node
 * reaching its pods (output) is not filtered: ingress has no node peers.
 *
 * Chains, maps and sets are named by the tier, direction and a hash of the class key, which stays
 * the same while the class means the same: a change elsewhere leaves them alone.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { clusterPolicyCounterName, type NodePolicy, type TierClass, type TierDecision, type TierDirection, type TierVerdict } from '../../dataplane/policy-state';
import { parseTierRuleText } from '../../../policy/cluster-policy/rule-text';
import { CLUSTER_DROP_LOG_PREFIX, DROP_LOG_GROUP, DROP_LOG_RATE } from '../../drops/log-rules';
import { addressElements } from './address-elements';
import { groupedSet, type CountedElement, type DesiredChain, type DesiredElement, type DesiredRule, type DesiredSet } from './desired';

type Family = 4 | 6;
type Direction = 'in' | 'out';
type Stage = 'admin' | 'baseline';

const FAMILIES = [4, 6] as const;
const ip = (f: Family) => (f === 4 ? 'ip' : 'ip6');
const addrType = (f: Family) => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');
const familyOf = (address: string): Family => (net.isIP(address.split('/')[0]) === 6 ? 6 : 4);
const NOUN: Record<Direction, 'ingress' | 'egress'> = { in: 'ingress', out: 'egress' };
const STAGE_WORDS: Record<Stage, string> = { admin: 'Admin tier', baseline: 'Baseline tier' };

/** Whose address is the local pod's: the destination for ingress, the source for egress. */
const localField = (d: Direction) => (d === 'in' ? 'daddr' : 'saddr');
const peerField = (d: Direction) => (d === 'in' ? 'saddr' : 'daddr');

/**
 * Which rule an element stands for, as an element comment: rule names are free text (up to 100
 * characters), nft takes no '"' or control characters and at most 128 bytes, and must list the
 * comment back as written: printable ASCII only.
 */
const commentOf = (text: string | undefined) => (text ? { comment: text.replace(/[^\x20-\x7e]|["\\]/g, '?').slice(0, 120) } : {});

const hashOf = (key: string) => crypto.createHash('sha256').update(key).digest('hex').slice(0, 10);

export const tierPrefix = (stage: Stage, d: Direction): string => `cnp-${stage}-${d}`;
export const tierClassChainName = (stage: Stage, d: Direction, key: string): string => `${tierPrefix(stage, d)}-c${hashOf(key)}`;
const dropChainName = (stage: Stage, d: Direction) => `${tierPrefix(stage, d)}-drop`;

/** The rules each stage adds to a direction's base chain (empty: the tier does not apply). */
export type TierStageRules = Record<Stage, DesiredRule[]>;

export interface RenderedTiers {
  sets: DesiredSet[];
  chains: DesiredChain[];
  stages: Record<Direction, TierStageRules>;
  /** The Accept and Deny elements, and the ClusterNetworkPolicy ("ClusterNetworkPolicy/name") each counts for. */
  counted: CountedElement[];
}

/** A verdict as a map element's value (a port range's or a subject's). */
function verdictValue(stage: Stage, d: Direction, v: TierVerdict): string {
  return v === 'accept' ? 'accept' : v === 'drop' ? `goto ${dropChainName(stage, d)}` : 'return';
}

/** A port range as nft lists it back: a single port as the number alone. */
const portsText = (first: number, last: number) => (first === last ? String(first) : `${first}-${last}`);

/** A CIDR as nft lists it back: a host prefix as the bare address. */
function hostOrPrefix(cidr: string): { key: string; host: boolean } {
  const [address, len] = cidr.split('/');
  const host = len === undefined || Number(len) === (familyOf(address) === 4 ? 32 : 128);
  return { key: host ? address : cidr, host };
}

/** An Accept or Deny element, counted for the policy its rule belongs to (a Pass counts nowhere). */
function countedOf(set: string, key: string[], d: Direction, verdict: TierVerdict, rule: string | undefined): CountedElement[] {
  const ref = rule === undefined || verdict === 'pass' ? undefined : parseTierRuleText(rule);
  return ref ? [{ set, key, direction: NOUN[d], verdict: verdict === 'accept' ? 'allowed' : 'dropped', policies: [clusterPolicyCounterName(ref.policy)] }] : [];
}

function decisionElements(stage: Stage, d: Direction, decide: readonly TierDecision[], family: Family, names: { ports: string; other: string }): { ports: DesiredElement[]; other: DesiredElement[]; counted: CountedElement[] } {
  const ports: DesiredElement[] = [];
  const other: DesiredElement[] = [];
  const counted: CountedElement[] = [];
  for (const x of decide) {
    if (familyOf(x.localIp) !== family) continue;
    for (const r of x.ports) {
      const key = [x.localIp, r.protocol, portsText(r.first, r.last)];
      ports.push({ key, value: [verdictValue(stage, d, r.verdict)], ...commentOf(r.rule) });
      counted.push(...countedOf(names.ports, key, d, r.verdict, r.rule));
    }
    if (x.other !== 'pass') {
      other.push({ key: [x.localIp], value: [verdictValue(stage, d, x.other)], ...commentOf(x.otherRule) });
      counted.push(...countedOf(names.other, [x.localIp], d, x.other, x.otherRule));
    }
  }
  return { ports, other, counted };
}

interface RenderedClass {
  stage: Stage;
  d: Direction;
  sets: DesiredSet[];
  chain: DesiredChain;
  counted: CountedElement[];
  /** The class's elements of the stage's class maps: single addresses, and wider ranges. */
  mapElements: Record<Family, { hosts: DesiredElement[]; ranges: DesiredElement[] }>;
}

/**
 * Per class object: the compiler hands out the very same objects for classes that did not
 * change (policy/cluster-policy/intern.ts), so their sets are the ones committed last time and
 * the diff passes them by identity.
 */
const classMemo = new WeakMap<TierClass, RenderedClass>();

function renderClass(stage: Stage, d: Direction, c: TierClass): RenderedClass {
  const kept = classMemo.get(c);
  if (kept && kept.stage === stage && kept.d === d) return kept;
  const rendered = renderClassAfresh(stage, d, c);
  classMemo.set(c, rendered);
  return rendered;
}

/** One class: its chain and maps, and its elements of the stage's class maps. */
function renderClassAfresh(stage: Stage, d: Direction, c: TierClass): RenderedClass {
  const chain = tierClassChainName(stage, d, c.key);
  const sets: DesiredSet[] = [];
  const rules: DesiredRule[] = [];
  const counted: CountedElement[] = [];
  const local = (f: Family) => `${ip(f)} ${localField(d)}`;
  for (const family of FAMILIES) {
    const names = { ports: `${chain}-ports-v${family}`, other: `${chain}-other-v${family}` };
    const { ports, other, counted: own } = decisionElements(stage, d, c.decide, family, names);
    counted.push(...own);
    if (ports.length > 0) {
      const name = names.ports;
      sets.push({ kind: 'map', name, type: `${addrType(family)} . inet_proto . inet_service : verdict`, flags: ['interval'], counter: true, elements: ports });
      rules.push({ rule: `${local(family)} . meta l4proto . th dport vmap @${name}`, comment: `${STAGE_WORDS[stage]} ${NOUN[d]}: the verdict of these ports` });
    }
    if (other.length > 0) {
      const name = names.other;
      sets.push({ kind: 'map', name, type: `${addrType(family)} : verdict`, counter: true, elements: other });
      rules.push({ rule: `${local(family)} vmap @${name}`, comment: `${STAGE_WORDS[stage]} ${NOUN[d]}: the verdict of every other port and protocol` });
    }
  }
  const mapElements: Record<Family, { hosts: DesiredElement[]; ranges: DesiredElement[] }> = { 4: { hosts: [], ranges: [] }, 6: { hosts: [], ranges: [] } };
  for (const cidr of c.cidrs) {
    const { key, host } = hostOrPrefix(cidr);
    mapElements[familyOf(cidr)][host ? 'hosts' : 'ranges'].push({ key: [key], value: [`jump ${chain}`] });
  }
  return { stage, d, sets, chain: { name: chain, rules }, counted, mapElements };
}


/** One tier in one direction: its objects, and the rules of its stage in the base chain. */
function renderStage(stage: Stage, d: Direction, tier: TierDirection | undefined): { sets: DesiredSet[]; chains: DesiredChain[]; rules: DesiredRule[]; counted: CountedElement[] } {
  const sets: DesiredSet[] = [];
  const chains: DesiredChain[] = [];
  const rules: DesiredRule[] = [];
  const counted: CountedElement[] = [];
  if (!tier || tier.subjects.length === 0 || tier.classes.length === 0) return { sets, chains, rules, counted };
  const prefix = tierPrefix(stage, d);
  const words = `${STAGE_WORDS[stage]} ${NOUN[d]}`;
  const classMaps: Record<Family, { hosts: DesiredElement[][]; ranges: DesiredElement[][] }> = { 4: { hosts: [], ranges: [] }, 6: { hosts: [], ranges: [] } };
  for (const c of tier.classes) {
    const own = renderClass(stage, d, c);
    sets.push(...own.sets);
    chains.push(own.chain);
    counted.push(...own.counted);
    for (const family of FAMILIES) for (const part of ['hosts', 'ranges'] as const) if (own.mapElements[family][part].length > 0) classMaps[family][part].push(own.mapElements[family][part]);
  }
  for (const family of FAMILIES) {
    const subjects = addressElements(tier.subjects, family);
    const maps = classMaps[family];
    if (subjects.length === 0 || (maps.hosts.length === 0 && maps.ranges.length === 0)) continue;
    const subjectSet = `${prefix}-subjects-v${family}`;
    sets.push({ kind: 'set', name: subjectSet, type: addrType(family), comment: `local pods ${words} policies select`, elements: subjects });
    // Single addresses (pods, nodes) in a plain map, wider ranges in an interval map (nft reads
    // interval maps back before any change: see render-policy.ts). Classes are disjoint: at
    // most one of the two has the peer; a class chain that returns goes on to the next rule.
    for (const part of ['hosts', 'ranges'] as const) {
      if (maps[part].length === 0) continue;
      const map = `${prefix}-${part}-v${family}`;
      sets.push(groupedSet({ kind: 'map', name: map, type: `${addrType(family)} : verdict`, ...(part === 'ranges' ? { flags: ['interval'] } : {}), comment: `${words}: peer -> its class chain` }, maps[part]));
      rules.push({ rule: `${ip(family)} ${localField(d)} @${subjectSet} ${ip(family)} ${peerField(d)} vmap @${map}`, comment: `${words}: what the peer's class decides (${part === 'hosts' ? 'single addresses' : 'ranges'})` });
    }
  }
  if (rules.length === 0) return { sets: [], chains: [], rules, counted: [] };
  chains.push({
    name: dropChainName(stage, d),
    rules: [
      { rule: `limit rate ${DROP_LOG_RATE}/second log prefix "${CLUSTER_DROP_LOG_PREFIX[stage][NOUN[d]]}" group ${DROP_LOG_GROUP}`, comment: `${words}: denied, logged (at most ${DROP_LOG_RATE}/s)` },
      { rule: 'counter drop', comment: `${words}: denied` },
    ],
  });
  return { sets, chains, rules, counted };
}

/** Addresses NetworkPolicy isolates for egress, per family (for the pod-to-own-node chain). */
function npIsolatedSets(policy: NodePolicy): { sets: DesiredSet[]; rules: DesiredRule[] } {
  const sets: DesiredSet[] = [];
  const rules: DesiredRule[] = [];
  for (const family of FAMILIES) {
    const isolated = addressElements(policy.egress.isolated, family);
    if (isolated.length === 0) continue;
    const name = `cnp-out-np-isolated-v${family}`;
    sets.push({ kind: 'set', name, type: addrType(family), comment: 'local pods NetworkPolicy isolates for egress', elements: isolated });
    rules.push({ rule: `${ip(family)} saddr @${name} accept`, comment: 'NetworkPolicy isolates the pod: it always allows its own node' });
  }
  return { sets, rules };
}

export function renderClusterTiers(policy: NodePolicy | undefined): RenderedTiers {
  const out: RenderedTiers = { sets: [], chains: [], stages: { in: { admin: [], baseline: [] }, out: { admin: [], baseline: [] } }, counted: [] };
  if (!policy || (!policy.admin && !policy.baseline)) return out;
  for (const d of ['out', 'in'] as const) {
    for (const stage of ['admin', 'baseline'] as const) {
      const rendered = renderStage(stage, d, policy[stage]?.[NOUN[d]]);
      out.sets.push(...rendered.sets);
      out.chains.push(...rendered.chains);
      out.counted.push(...rendered.counted);
      out.stages[d][stage] = rendered.rules;
    }
  }
  const egress = out.stages.out;
  if (egress.admin.length > 0 || egress.baseline.length > 0) {
    const exempt = egress.baseline.length > 0 ? npIsolatedSets(policy) : { sets: [], rules: [] };
    out.sets.push(...exempt.sets);
    out.chains.push({
      name: 'cluster-egress-node',
      base: { type: 'filter', hook: 'input', priority: 'filter', policy: 'accept' },
      rules: [
        { rule: 'ct state established,related accept', comment: 'replies and related packets of allowed connections' },
        { rule: 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept', comment: 'IPv6 neighbour discovery with the node' },
        ...egress.admin,
        ...exempt.rules,
        ...egress.baseline,
      ],
    });
  }
  return out;
}
