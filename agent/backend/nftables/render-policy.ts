/**
 * NodePolicy and the pod bridge guard -> sets, verdict maps and chains of the `inet weft` table.
 *
 * Per direction and family, a NEW packet of an isolated local pod costs a fixed number of
 * lookups, whatever the number of policies, pods or namespaces:
 *   1. `(local address, protocol, port)` in the any-peer port set, the local address in the
 *      any-peer "all traffic" set;
 *   2. the peer address in the class verdict maps (single addresses, then ranges), which jumps
 *      to the class's chain;
 *   3. there, `(local address, protocol, port)` and the local address in the class's two sets.
 * Whatever is not accepted by then is dropped (and counted), and logged to NFLOG through a rate
 * limit (agent/drops/log-rules.ts) for weftctl policy drops. Established and related packets
 * are accepted first, so replies of allowed connections always pass and a long-lived flow pays
 * one conntrack lookup per packet.
 *
 * Egress is checked in a base chain of its own, hooked before ingress: an `accept` ends only its
 * own base chain, so a packet egress allows still meets ingress (same-node pod-to-pod traffic is
 * subject to both). Traffic between a pod and its own node (input, output) is not subject to
 * policy, as upstream Kubernetes defines it. ClusterNetworkPolicy tiers (render-cluster-policy.ts)
 * add their stages to each base chain: the Admin tier's before NetworkPolicy's, the Baseline
 * tier's after (an isolated pod's chain always ends in a verdict, so only others reach it).
 *
 * Class chains and sets are named by a hash of the class key, which stays the same while the
 * class means the same: a change elsewhere leaves them alone.
 *
 * Counting: allowance sets and the per-direction drop sets carry a counter per element. The
 * renderer says which policies each counted element stands for (CountedElement), so the
 * packets a policy allowed, and those dropped at the pods it isolates, can be summed from them
 * (policy-counters.ts). The tiers' elements count for their ClusterNetworkPolicies likewise.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import type { Allowance, DirectionPolicy, NodePolicy, PeerClass } from '../../dataplane/policy-state';
import { groupedSet, type CountedElement, type DesiredChain, type DesiredElement, type DesiredRule, type DesiredSet } from './desired';
import { DROP_LOG_GROUP, DROP_LOG_PREFIX, DROP_LOG_RATE } from '../../drops/log-rules';
import { addressElements } from './address-elements';
import { renderClusterTiers, type TierStageRules } from './render-cluster-policy';

type Family = 4 | 6;
type Direction = 'in' | 'out';

const ip = (f: Family) => (f === 4 ? 'ip' : 'ip6');
const addrType = (f: Family) => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');
const familyOf = (address: string): Family => (net.isIP(address.split('/')[0]) === 6 ? 6 : 4);

/** Whose address is the local pod's: the destination for ingress, the source for egress. */
const localField = (d: Direction) => (d === 'in' ? 'daddr' : 'saddr');
const peerField = (d: Direction) => (d === 'in' ? 'saddr' : 'daddr');

/** A CIDR as nft lists it back: a host prefix is listed as the bare address. */
export function nftPrefix(cidr: string): string {
  const [address, len] = cidr.split('/');
  if (len === undefined || Number(len) === (familyOf(address) === 4 ? 32 : 128)) return address;
  return cidr;
}

/** A port range as nft lists it back: a single port as the number alone. */
const portText = (first: number, last: number) => (first === last ? String(first) : `${first}-${last}`);

function classId(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex').slice(0, 10);
}

export const classChainName = (d: Direction, key: string): string => `pol-${d}-c${classId(key)}`;

interface RenderedPolicy {
  sets: DesiredSet[];
  chains: DesiredChain[];
  counted: CountedElement[];
}

interface AllowanceSets {
  ports: DesiredElement[];
  all: DesiredElement[];
  /** The policies of each element, in the order of ports then all. */
  portPolicies: string[][];
  allPolicies: string[][];
}

/** The elements of one allowance: (local, proto, ports) per port range, or local alone for 'all'. */
interface AllowanceElements {
  family: Family;
  all: boolean;
  elements: DesiredElement[];
}

/**
 * Kept per allowance object: the compiler hands out the very same objects for allowances that
 * did not change (policy/intern.ts), so their elements are the objects committed last time and
 * the diff passes them by identity.
 */
const allowanceMemo = new WeakMap<Allowance, AllowanceElements>();

function elementsOfAllowance(a: Allowance): AllowanceElements {
  let out = allowanceMemo.get(a);
  if (!out) {
    const comment = a.policies.join(',').slice(0, 120) || undefined;
    const withComment = comment ? { comment } : {};
    out =
      a.ports === 'all'
        ? { family: familyOf(a.localIp), all: true, elements: [{ key: [a.localIp], ...withComment }] }
        : { family: familyOf(a.localIp), all: false, elements: a.ports.map((r) => ({ key: [a.localIp, r.protocol, portText(r.first, r.last)], ...withComment })) };
    allowanceMemo.set(a, out);
  }
  return out;
}

/** Elements for one family: (local, proto, ports) for port allowances, local alone for 'all'. */
function allowanceElements(allow: readonly Allowance[], family: Family): AllowanceSets {
  const out: AllowanceSets = { ports: [], all: [], portPolicies: [], allPolicies: [] };
  for (const a of allow) {
    const rendered = elementsOfAllowance(a);
    if (rendered.family !== family) continue;
    for (const e of rendered.elements) {
      (rendered.all ? out.all : out.ports).push(e);
      (rendered.all ? out.allPolicies : out.portPolicies).push(a.policies);
    }
  }
  return out;
}

/** The sets holding `allow`, and the rules accepting what they hold (none for empty sets). */
function allowanceSetsAndRules(d: Direction, allow: readonly Allowance[], prefix: string, why: string): { sets: DesiredSet[]; rules: DesiredRule[]; counted: CountedElement[] } {
  const sets: DesiredSet[] = [];
  const rules: DesiredRule[] = [];
  const counted: CountedElement[] = [];
  const direction = DIRECTION_WORDS[d].noun;
  const count = (set: string, elements: DesiredElement[], policies: string[][]) =>
    elements.forEach((e, i) => counted.push({ set, key: e.key, direction, verdict: 'allowed', policies: policies[i] }));
  for (const family of [4, 6] as const) {
    const { ports, all, portPolicies, allPolicies } = allowanceElements(allow, family);
    const local = `${ip(family)} ${localField(d)}`;
    if (ports.length > 0) {
      const name = `${prefix}-ports-v${family}`;
      sets.push({ kind: 'set', name, type: `${addrType(family)} . inet_proto . inet_service`, flags: ['interval'], counter: true, elements: ports });
      rules.push({ rule: `${local} . meta l4proto . th dport @${name} accept`, comment: `${why}: these ports` });
      count(name, ports, portPolicies);
    }
    if (all.length > 0) {
      const name = `${prefix}-all-v${family}`;
      sets.push({ kind: 'set', name, type: addrType(family), counter: true, elements: all });
      rules.push({ rule: `${local} @${name} accept`, comment: `${why}: all traffic` });
      count(name, all, allPolicies);
    }
  }
  return { sets, rules, counted };
}

const DIRECTION_WORDS: Record<Direction, { noun: 'ingress' | 'egress'; peer: string }> = {
  in: { noun: 'ingress', peer: 'source' },
  out: { noun: 'egress', peer: 'destination' },
};

interface RenderedClass {
  sets: DesiredSet[];
  chain: DesiredChain;
  counted: CountedElement[];
  /** The class's elements of the family's verdict maps: single addresses, and wider ranges. */
  mapElements: Record<Family, { hosts: DesiredElement[]; ranges: DesiredElement[] }>;
}

/** Per class object (a class appears in one direction only: its key says which). */
const classMemo = new WeakMap<PeerClass, RenderedClass>();

function renderClass(d: Direction, c: PeerClass): RenderedClass {
  let out = classMemo.get(c);
  if (!out) {
    const name = classChainName(d, c.key);
    const own = allowanceSetsAndRules(d, c.allow, name, `${DIRECTION_WORDS[d].noun} allowed for ${DIRECTION_WORDS[d].peer} class ${classId(c.key)}`);
    const mapElements: RenderedClass['mapElements'] = { 4: { hosts: [], ranges: [] }, 6: { hosts: [], ranges: [] } };
    for (const cidr of c.cidrs) {
      const key = nftPrefix(cidr);
      mapElements[familyOf(cidr)][key.includes('/') ? 'ranges' : 'hosts'].push({ key: [key], value: [`jump ${name}`] });
    }
    out = { sets: own.sets, chain: { name, rules: own.rules }, counted: own.counted, mapElements };
    classMemo.set(c, out);
  }
  return out;
}

function renderDirection(d: Direction, policy: DirectionPolicy, tiers?: TierStageRules): RenderedPolicy {
  const words = DIRECTION_WORDS[d];
  const sets: DesiredSet[] = [];
  const chains: DesiredChain[] = [];
  const counted: CountedElement[] = [];
  const base: DesiredRule[] = [
    { rule: 'ct state established,related accept', comment: 'replies and related packets of allowed connections' },
    // Neighbour discovery between pods on one bridge is forwarded and not tracked as a
    // connection: without it an isolated IPv6 pod could not resolve or answer its peers.
    { rule: 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept', comment: 'IPv6 neighbour discovery between pods' },
    ...(tiers?.admin ?? []),
  ];

  const anyPeer = allowanceSetsAndRules(d, policy.anyPeer, `pol-${d}-any`, `${words.noun} allowed from any ${words.peer}`);
  sets.push(...anyPeer.sets);
  counted.push(...anyPeer.counted);

  // Classes: one chain each, reached through the family's verdict maps on the peer address:
  // single addresses (pods, mostly) in a plain map, wider ranges in an interval map. nft reads
  // every single-field interval map of the table back before it changes any element (nft
  // 1.0.6), and pod addresses are most of the elements: kept out of the interval map, an
  // update does not pay for reading thousands of them. A class's pieces are disjoint from every
  // other's, so at most one of the two maps has the peer. The elements are grouped by class: a
  // class that did not change is the group committed last time, and the diff does not look into it.
  const classMaps: Record<Family, { hosts: DesiredElement[][]; ranges: DesiredElement[][] }> = { 4: { hosts: [], ranges: [] }, 6: { hosts: [], ranges: [] } };
  for (const c of policy.classes) {
    const own = renderClass(d, c);
    sets.push(...own.sets);
    counted.push(...own.counted);
    chains.push(own.chain);
    for (const family of [4, 6] as const) {
      for (const part of ['hosts', 'ranges'] as const) if (own.mapElements[family][part].length > 0) classMaps[family][part].push(own.mapElements[family][part]);
    }
  }

  for (const family of [4, 6] as const) {
    const isolated = policy.isolated.filter((a) => familyOf(a) === family);
    if (isolated.length === 0) continue;
    const isolatedSet = `pol-${d}-isolated-v${family}`;
    const isolatedElements = addressElements(policy.isolated, family);
    sets.push({ kind: 'set', name: isolatedSet, type: addrType(family), comment: `local pods isolated for ${words.noun}`, elements: isolatedElements });
    const chain = `pol-${d}-v${family}`;
    const rules = anyPeer.rules.filter((r) => r.rule.startsWith(`${ip(family)} `));
    if (classMaps[family].hosts.length > 0) {
      const map = `pol-${d}-hosts-v${family}`;
      sets.push(groupedSet({ kind: 'map', name: map, type: `${addrType(family)} : verdict`, comment: `${words.peer} address -> its class chain` }, classMaps[family].hosts));
      rules.push({ rule: `${ip(family)} ${peerField(d)} vmap @${map}`, comment: `what the ${words.peer}'s class allows (single addresses)` });
    }
    if (classMaps[family].ranges.length > 0) {
      const map = `pol-${d}-classes-v${family}`;
      sets.push(groupedSet({ kind: 'map', name: map, type: `${addrType(family)} : verdict`, flags: ['interval'], comment: `${words.peer} range -> its class chain` }, classMaps[family].ranges));
      rules.push({ rule: `${ip(family)} ${peerField(d)} vmap @${map}`, comment: `what the ${words.peer}'s class allows (ranges)` });
    }
    // What reaches this point is dropped: logged first (rate-limited) for weftctl policy drops.
    const logged = DROP_LOG_PREFIX[words.noun];
    rules.push({ rule: `limit rate ${DROP_LOG_RATE}/second log prefix "${logged}" group ${DROP_LOG_GROUP}`, comment: `${words.noun} not allowed by any policy: logged (at most ${DROP_LOG_RATE}/s)` });
    // Dropped, counted per local address (so per isolating policy); the last rule catches
    // nothing while the two sets agree, and is there so that the chain ends in a drop whatever.
    const dropSet = `pol-${d}-dropped-v${family}`;
    sets.push({ kind: 'set', name: dropSet, type: addrType(family), counter: true, comment: `${words.noun} drops per local pod`, elements: isolatedElements });
    for (const a of isolated) counted.push({ set: dropSet, key: [a], direction: words.noun, verdict: 'dropped', policies: policy.isolatedBy?.[a] ?? [] });
    rules.push({ rule: `${ip(family)} ${localField(d)} @${dropSet} drop`, comment: `${words.noun} not allowed by any policy` });
    rules.push({ rule: 'counter drop', comment: `${words.noun} not allowed by any policy` });
    chains.push({ name: chain, rules });
    base.push({ rule: `${ip(family)} ${localField(d)} @${isolatedSet} jump ${chain}`, comment: `local pods isolated for ${words.noun}` });
  }
  base.push(...(tiers?.baseline ?? []));
  if (base.length > 2) {
    chains.push({
      name: `policy-${words.noun}`,
      // Egress first: its accept ends only its own base chain, so ingress still sees the packet.
      base: { type: 'filter', hook: 'forward', priority: d === 'out' ? 'filter - 10' : 'filter', policy: 'accept' },
      rules: base,
    });
  }
  return { sets, chains, counted };
}

export function renderPolicy(policy: NodePolicy | undefined): RenderedPolicy {
  if (!policy) return { sets: [], chains: [], counted: [] };
  const tiers = renderClusterTiers(policy);
  const egress = renderDirection('out', policy.egress, tiers.stages.out);
  const ingress = renderDirection('in', policy.ingress, tiers.stages.in);
  return { sets: [...egress.sets, ...ingress.sets, ...tiers.sets], chains: [...egress.chains, ...ingress.chains, ...tiers.chains], counted: [...egress.counted, ...ingress.counted, ...tiers.counted] };
}

/** Destinations on the bridge that are not pods' and still pass: multicast, broadcast, link-local. */
const NON_POD_DESTINATIONS: Record<Family, string> = { 4: '{ 224.0.0.0/4, 255.255.255.255 }', 6: '{ ff00::/8, fe80::/10 }' };

/**
 * The guard of the pod bridge: only known pods send from it, with their own addresses, and only
 * known pods are sent to on it. A pod the agent does not know yet (its CNI ADD still running, or
 * the agent restarting) gets no traffic through, and a pod cannot pose as another.
 */
export function renderBridgeGuard(bridge: string | undefined, localSets: Record<Family, string>): DesiredChain[] {
  if (!bridge) return [];
  const dev = JSON.stringify(bridge);
  const sources: DesiredRule[] = [
    // Neighbour discovery and duplicate address detection come from link-local and unspecified addresses.
    { rule: `iifname ${dev} ip6 saddr { ::, fe80::/10 } meta l4proto ipv6-icmp accept`, comment: 'neighbour discovery from pods' },
    { rule: `iifname ${dev} ip saddr != @${localSets[4]} counter drop`, comment: 'from the pod bridge, not from a known pod address' },
    { rule: `iifname ${dev} ip6 saddr != @${localSets[6]} counter drop`, comment: 'from the pod bridge, not from a known pod address' },
  ];
  const destinations = (hook: string): DesiredRule[] =>
    ([4, 6] as const).map((f) => ({
      rule: `oifname ${dev} ${ip(f)} daddr != @${localSets[f]} ${ip(f)} daddr != ${NON_POD_DESTINATIONS[f]} counter drop`,
      comment: `${hook} to the pod bridge, not to a known pod address`,
    }));
  return [
    // Before connection tracking: a spoofed packet leaves no conntrack entry behind.
    { name: 'pod-bridge-sources', base: { type: 'filter', hook: 'prerouting', priority: 'raw', policy: 'accept' }, rules: sources },
    { name: 'pod-bridge-forward', base: { type: 'filter', hook: 'forward', priority: 'filter - 20', policy: 'accept' }, rules: destinations('forwarded') },
    { name: 'pod-bridge-output', base: { type: 'filter', hook: 'output', priority: 'filter', policy: 'accept' }, rules: destinations('sent') },
  ];
}
