/**
 * A pod in weft's nftables table (weftctl rules --pod): every set or map element holding one of
 * its addresses (the pod bridge's admission, policy isolation, allowances and drop counters,
 * ClusterNetworkPolicy tier subjects and verdicts, service endpoints, hairpin), the class
 * elements whose ranges contain it (how isolated pods and tier subjects of this node see it as
 * a peer), the rules that name it, and the rules that look those sets up or that its elements
 * send it to. Each in Kubernetes words, from the set's role in backend/nftables/render-policy.ts,
 * render-cluster-policy.ts (nftables-pod-tiers.ts) and render-services.ts.
 */
import type { ElementInfo, SetInfo } from '../../kernel/nft';
import { elementText, plainComment, type NftListing } from './nft-listing';
import { containsOneOf, isOneOf, type Direction, type PodWords } from './pod-words';
import type { KernelEntry } from './service-parts';
import { TIER_CLASS_MAP, tierChainEntered, tierElementMeaning } from './nftables-pod-tiers';

const POLICY_SET = /^pol-(in|out)-(.+)-v([46])$/;
const CLASS_SET = /^c([0-9a-f]+)-(ports|all)$/;

const WORDS: Record<string, { direction: Direction; from: string; peer: string }> = {
  in: { direction: 'ingress', from: 'from', peer: 'source' },
  out: { direction: 'egress', from: 'to', peer: 'destination' },
};

const portsText = (key: readonly string[]) => `${key[1].toUpperCase()} ${key[2]}`;
const byPolicies = (e: ElementInfo) => (e.comment ? ` (by ${e.comment})` : '');

const POLICY_CLASS_MAP = /^pol-(in|out)-(classes|hosts)-v[46]$/;
const isClassMap = (name: string) => POLICY_CLASS_MAP.test(name) || TIER_CLASS_MAP.test(name);

/** The peer ranges of each class chain ("pol-in-c1a2b", "cnp-admin-in-c1a2b"), from the class verdict maps. */
function classPeers(listing: NftListing): Map<string, string[]> {
  const peers = new Map<string, string[]>();
  for (const s of listing.sets.values()) {
    if (!isClassMap(s.name)) continue;
    for (const e of s.elements) {
      const chain = /^(?:jump|goto) (\S+)$/.exec(e.value?.[0] ?? '')?.[1];
      if (chain) peers.set(chain, [...(peers.get(chain) ?? []), e.key[0]]);
    }
  }
  return peers;
}

function policyMeaning(d: string, kind: string, family: 4 | 6, e: ElementInfo, words: PodWords, peers: Map<string, string[]>): { meaning: string; shared: boolean } {
  const w = WORDS[d];
  const isolatedBy = () => words.isolatedBy(w.direction).join(', ') || 'nothing known (its Pod object is missing)';
  switch (kind) {
    case 'isolated':
      return { meaning: `${words.pod} is isolated for ${w.direction} by ${isolatedBy()}`, shared: false };
    case 'dropped':
      return { meaning: `${w.direction} of ${words.pod} no policy allows: dropped and counted here (isolated by ${isolatedBy()})`, shared: false };
    case 'any-ports':
      return { meaning: `${w.direction} of ${words.pod} ${w.from} any ${w.peer} allowed on ${portsText(e.key)}${byPolicies(e)}`, shared: false };
    case 'any-all':
      return { meaning: `${w.direction} of ${words.pod} ${w.from} any ${w.peer} allowed on every port${byPolicies(e)}`, shared: false };
    case 'hosts':
    case 'classes': {
      const chain = /^(?:jump|goto) pol-\w+-c([0-9a-f]+)$/.exec(e.value?.[0] ?? '')?.[1] ?? '?';
      const role = d === 'in' ? `a source of ingress to this node's isolated pods` : `a destination of egress from this node's isolated pods`;
      return { meaning: `${words.pod} as ${role} is in ${w.peer} class ${chain}`, shared: true };
    }
  }
  const cls = CLASS_SET.exec(kind);
  if (cls) {
    const ranges = (peers.get(`pol-${d}-c${cls[1]}`) ?? []).filter((r) => r.includes(':') === (family === 6)).map((r) => words.peer(r)).join(', ') || 'no range';
    const ports = cls[2] === 'ports' ? `on ${portsText(e.key)}` : 'on every port';
    return { meaning: `${w.direction} of ${words.pod} ${w.from} ${w.peer} class ${cls[1]} (${ranges}) allowed ${ports}${byPolicies(e)}`, shared: false };
  }
  return { meaning: `policy set ${kind}`, shared: false };
}

function elementMeaning(set: SetInfo, e: ElementInfo, words: PodWords, peers: Map<string, string[]>): { meaning: string; shared: boolean } {
  const tier = tierElementMeaning(set, e, words, peers);
  if (tier) return tier;
  const policy = POLICY_SET.exec(set.name);
  if (policy) return policyMeaning(policy[1], policy[2], policy[3] === '6' ? 6 : 4, e, words, peers);
  if (/^local-pods-v[46]$/.test(set.name)) return { meaning: `${words.pod} runs on this node: the pod bridge lets its address through`, shared: false };
  if (/^endpoints-v[46]-\w+$/.test(set.name)) return { meaning: `${words.pod} is endpoint ${Number(e.key[2]) + 1} of ${e.comment ?? 'a service'} for frontend ${e.key[0]} port ${e.key[1]}`, shared: false };
  if (/^nodeport-endpoints-v[46]-\w+$/.test(set.name)) return { meaning: `${words.pod} is endpoint ${Number(e.key[1]) + 1} of ${e.comment ?? 'a service'} for node port ${e.key[0]}`, shared: false };
  if (/^hairpin-v[46]$/.test(set.name)) return { meaning: `${words.pod} reaching itself through a service is masqueraded`, shared: false };
  return { meaning: set.comment ?? set.name, shared: false };
}

/** A word of a rule that is one of the addresses ("10.244.0.2", "10.244.0.2:80", "[fd00::2]:80"). */
function namesAddress(text: string, addresses: readonly string[]): boolean {
  return text.split(/[\s{},[\]]+/).some((word) => isOneOf(word.replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1'), addresses));
}

export function nftPodEntries(listing: NftListing, words: PodWords): KernelEntry[] {
  const out: KernelEntry[] = [];
  const peers = classPeers(listing);
  const used = new Set<string>();
  // The chains the pod's isolation or its tier elements send its packets to: all they do applies to it.
  const entered = new Set<string>();
  for (const set of listing.sets.values()) {
    const kind = set.type.includes(' : ') ? 'map' : 'set';
    const classMap = isClassMap(set.name);
    for (const e of set.elements) {
      const mine = [...e.key, ...(e.value ?? [])].some((part) => isOneOf(part, words.addresses)) || (classMap && containsOneOf(e.key[0], words.addresses));
      if (!mine) continue;
      used.add(set.name);
      const chain = tierChainEntered(set, e);
      if (chain) entered.add(chain);
      out.push({ location: `${kind} ${set.name}`, text: elementText(e), ...(e.counter ? { counter: e.counter } : {}), ...elementMeaning(set, e, words, peers) });
    }
  }
  const usesSet = (text: string) => [...used].some((s) => new RegExp(`@${s}(?![\\w-])`).test(text));
  for (const rules of listing.rules.values()) {
    for (const r of rules) {
      const jump = /@pol-\w+-isolated-v[46] jump (\S+)$/.exec(r.text ?? '');
      if (jump && usesSet(r.text ?? '')) entered.add(jump[1]);
    }
  }
  for (const [chain, rules] of listing.rules) {
    for (const r of rules) {
      const text = r.text ?? '';
      const own = namesAddress(text, words.addresses);
      if (!own && !usesSet(text) && !entered.has(chain)) continue;
      out.push({ location: `chain ${chain}`, text, ...(r.counter ? { counter: r.counter } : {}), meaning: plainComment(r.comment) || chain, shared: !own });
    }
  }
  return out;
}
