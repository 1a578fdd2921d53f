/**
 * A pod in weft's iptables chains and ipsets (weftctl rules --pod): every ipset element with one
 * of its addresses (the pod bridge's admission, isolation, allowances, ClusterNetworkPolicy tier
 * subjects and verdicts, and as a peer in other pods' allowances and verdicts), the rules that
 * name it (its own allowance and tier chains, the searches over local addresses, service
 * endpoint DNAT), and the rules that look those sets up, with iptables' per-rule counters. In
 * Kubernetes words, from the roles backend/iptables/render-policy.ts, render-cluster-policy.ts
 * (iptables-pod-tiers.ts) and render-services.ts give them.
 */
import type { SavedIpset } from '../../kernel/ipset';
import type { IpFamily, SavedRule, SavedTable } from '../../kernel/iptables';
import type { IptablesNames } from '../backend/iptables/names';
import { IptablesListing, ruleText } from './iptables-listing';
import { containsOneOf, isOneOf, type Direction, type PodWords } from './pod-words';
import type { KernelEntry } from './service-parts';
import { tierOwnChains, tierOwnRuleMeaning, tierPassMeaning, tierSetElementMeaning } from './iptables-pod-tiers';

const WORDS: Record<string, { direction: Direction; from: string; peer: string }> = {
  i: { direction: 'ingress', from: 'from', peer: 'source' },
  e: { direction: 'egress', from: 'to', peer: 'destination' },
};

/** "tcp:80" -> "TCP 80" */
const portText = (part: string) => part.replace(/^(\w+):(.*)$/, (_m, proto: string, port: string) => `${proto.toUpperCase()} ${port}`);

export interface IptablesKernel {
  names: IptablesNames;
  families: { family: IpFamily; tables: SavedTable[] }[];
  sets: SavedIpset[];
}

/** What one element of a weft set says about the pod; undefined when it does not concern it. */
function setElementMeaning(set: string, element: string, names: IptablesNames, words: PodWords, usedBy: Map<string, SavedRule>): string | undefined {
  const kind = set.slice(names.setPrefix.length + 1).replace(/[46]$/, '');
  if (/^[ab][ei]-/.test(kind)) return tierSetElementMeaning(kind, element, names, words);
  const parts = element.split(',');
  const mine = (i: number) => parts[i] !== undefined && isOneOf(parts[i], words.addresses);
  const fixed = /^([ei])-(iso|anyp|anya|clsp|clsr)$/.exec(kind);
  if (kind === 'pods' && mine(0)) return `${words.pod} runs on this node: the pod bridge lets its address through`;
  if (fixed) {
    const w = WORDS[fixed[1]];
    const isolatedBy = () => words.isolatedBy(w.direction).join(', ') || 'nothing known (its Pod object is missing)';
    if (fixed[2] === 'iso' && mine(0)) return `${words.pod} is isolated for ${w.direction} by ${isolatedBy()}`;
    if (fixed[2] === 'anyp' && mine(0)) return `${w.direction} of ${words.pod} ${w.from} any ${w.peer} allowed on ${portText(parts[1])}`;
    if (fixed[2] === 'anya' && mine(0)) return `${w.direction} of ${words.pod} ${w.from} any ${w.peer} allowed on every port`;
    if (fixed[2] === 'clsp' && mine(0)) return `${w.direction} of ${words.pod} ${w.from} ${words.peer(parts[2])} allowed on ${portText(parts[1])}`;
    if (fixed[2] === 'clsp' && containsOneOf(parts[2], words.addresses)) return `${w.direction} of ${words.peer(parts[0])} ${w.from} ${words.pod} (in ${parts[2]}) allowed on ${portText(parts[1])}`;
    // The same allowances the other way round: (peer, port, network of local pods).
    if (fixed[2] === 'clsr' && containsOneOf(parts[2], words.addresses)) return `${w.direction} of ${words.pod} (in ${parts[2]}) ${w.from} ${words.peer(parts[0])} allowed on ${portText(parts[1])}`;
    if (fixed[2] === 'clsr' && mine(0)) return `${w.direction} of ${words.peer(parts[2])} ${w.from} ${words.pod} allowed on ${portText(parts[1])}`;
    return undefined;
  }
  // A set of one local address's peers (its own chain's wide allowances): the rule using it says whose.
  if (/^[ei][46]-[0-9a-f]{10}$/.test(set.slice(names.setPrefix.length + 1)) && containsOneOf(parts[0], words.addresses)) {
    const rule = usedBy.get(set);
    return `${words.pod} (in ${parts[0]}) is a peer of: ${rule?.comment ?? 'an allowance'}`;
  }
  return undefined;
}

/** Rules that name one of the addresses: -s/-d of the host, DNAT to it, or the pod's own allowance chains. */
function namesPod(r: SavedRule, words: PodWords, ownChains: ReadonlySet<string>): boolean {
  if (ownChains.has(r.chain)) return true;
  const a = r.args;
  for (let i = 0; i < a.length - 1; i++) {
    if ((a[i] === '-s' || a[i] === '-d') && isOneOf(a[i + 1], words.addresses)) return true;
    if (a[i] === '--to-destination' && isOneOf(a[i + 1].replace(/^\[?([^\]]+?)\]?:\d+$/, '$1'), words.addresses)) return true;
  }
  return false;
}

const matchSet = (r: SavedRule) => {
  const i = r.args.indexOf('--match-set');
  return i >= 0 ? r.args[i + 1] : undefined;
};

export function iptablesPodEntries(kernel: IptablesKernel, words: PodWords): KernelEntry[] {
  const { names } = kernel;
  const listings = kernel.families.map((f) => ({ family: f.family, listing: new IptablesListing(f.tables, []) }));
  // Which rule looks each set up (sets of one local address are used by exactly one rule).
  const usedBy = new Map<string, SavedRule>();
  for (const { listing } of listings) for (const { rule } of listing.allRules()) {
    const set = matchSet(rule);
    if (set && !usedBy.has(set)) usedBy.set(set, rule);
  }
  const out: KernelEntry[] = [];
  const used = new Set<string>();
  for (const s of kernel.sets) {
    if (!names.ownsSet(s.name)) continue;
    for (const element of s.elements) {
      const meaning = setElementMeaning(s.name, element, names, words, usedBy);
      if (meaning === undefined) continue;
      used.add(s.name);
      out.push({ location: `ipset ${s.name}`, text: element, meaning, shared: false });
    }
  }
  const tierChains = tierOwnChains(names, words);
  const ownChains = new Set([...words.addresses.flatMap((a) => (['e', 'i'] as const).map((d) => names.localChain(d, a))), ...tierChains.keys()]);
  const setsByName = new Map(kernel.sets.map((s) => [s.name, s]));
  for (const { family, listing } of listings) {
    // The direction and tier chains the pod's isolation (or its being a tier's subject) sends its
    // packets to: all they do applies to it.
    const entered = new Set<string>();
    for (const { rule } of listing.allRules()) {
      const set = matchSet(rule);
      // With the chain's drop chain (render-policy.ts, render-cluster-policy.ts: it logs, then drops).
      if (set && used.has(set) && /-([ei]-iso|[ab][ei]-sub)[46]$/.test(set) && rule.target) entered.add(`filter ${rule.target}`).add(`filter ${rule.target}-DROP`);
    }
    for (const { table, rule } of listing.allRules()) {
      const own = namesPod(rule, words, ownChains);
      const set = matchSet(rule);
      if (!own && !(set && used.has(set)) && !entered.has(`${table} ${rule.chain}`)) continue;
      const tierChain = tierChains.get(rule.chain);
      const tierMeaning = tierChain ? tierOwnRuleMeaning(rule, tierChain, setsByName, names, words) : tierPassMeaning(rule, names);
      const meaning = tierMeaning ?? rule.comment ?? (rule.args.includes('-g') ? `the search over local addresses leads ${words.pod} to its own chain` : rule.chain);
      out.push({ location: `${family === 'ipv4' ? 'iptables' : 'ip6tables'} ${table} ${rule.chain}`, text: ruleText(rule), ...(rule.counter ? { counter: rule.counter } : {}), meaning, shared: !own });
    }
  }
  return out;
}
