/**
 * One ClusterNetworkPolicy tier in one direction (policy-state.ts: TierDirection) -> iptables
 * chains and ipsets, with the semantics of the nftables backend's rendering of the same model.
 * render-policy.ts places the tiers around NetworkPolicy (Admin, then NetworkPolicy, then
 * Baseline for the addresses NetworkPolicy does not isolate) and says how packets enter them.
 *
 * A tier's decisions are resolved at compile time: per local pod address and peer class, a
 * verdict (accept, drop, pass) for every protocol and port (`other`) and port ranges whose
 * verdict differs. As for NetworkPolicy (render-policy.ts), ipset cannot look the peer's class
 * up first and use it as a key after, so the class's CIDRs are crossed with what the class is
 * decided. A NEW packet of a local address meets, per tier and direction:
 *
 *   0. local                        in hash:ip          `sub`: addresses the tier decides anything
 *                                                       for; others pass the tier untouched (1 lookup)
 *   1. (local, proto:port, peer)    in hash:ip,port,net `drp`: ports whose verdict is drop, one
 *                                                       element per (port, class CIDR)
 *   2.                              the same, `acc`     ports whose verdict is accept
 *   3.                              the same, `pas`     ports whose verdict is pass although the
 *                                                       class's `other` is not (the exceptions
 *                                                       step 4 must not see)
 *   4. local                        in hash:ip          `oth`: addresses with a non-pass `other`
 *                                                       or a wide port range; for those only, a
 *                                                       binary search over them (`-m iprange`,
 *                                                       depth log2 of their number, at most the
 *                                                       pods on this node) to the address's own
 *                                                       chain: one rule per wide range (with a
 *                                                       hash:net of the CIDRs it applies to),
 *                                                       then a hash:net of the peers `other`
 *                                                       accepts and one of those it drops
 *   5. pass.
 * Steps 0-3 cost the same whatever the number of policies, pods, namespaces or classes (each
 * set lookup probes one hash per distinct prefix length in the set). Step 4 is O(log n) in the
 * local addresses that need it, and it is the common case: "deny everything from namespace X"
 * is an `other` verdict, and an `other` is a verdict for (local, peer) whatever the protocol or
 * port (ICMP included). Every two-address set type this kernel's ipset has also has a port,
 * which a TCP or UDP packet always fills in (no hash:net,net, no hash:ip,mark), so `other`
 * would be 3 x 65536 elements per (local, CIDR); the address's own chain holds it instead, as
 * render-policy.ts does for NetworkPolicy's "all traffic" allowances. Ranges wider than
 * EXPANDED_RANGE_MAX ports are rules there too (one element per port per CIDR would be too
 * many): one rule per distinct wide range of that address, which grows with the policies that
 * use wide ranges, not with pods or namespaces.
 *
 * Verdicts: accept is RETURN (never ACCEPT, see render-policy.ts: allowed for this direction,
 * back in FORWARD); drop jumps to the tier's drop chain (PREFIX-ADMIN-INGRESS-DROP: logged to
 * NFLOG through a rate limit with the tier's own prefix, as the nftables backend does, then
 * dropped); pass is what the caller says: on to NetworkPolicy after Admin, RETURN (allowed)
 * after Baseline. The chains are entered with -g, so that their RETURN returns past the
 * direction's TIERS chain. Within a state, at most one of steps 1-4 can match a packet (a
 * peer is in one class, a class's ranges are disjoint), so their order only matters during a
 * sync: every set of a tier has the 'allow' role (diff-sets.ts: added before the rules change,
 * removed after), so between the two states each set holds both, and the first match is an
 * element of the old or the new state, which that state would have matched first too: the
 * tier decides every packet as the old or the new state does. That holds for each tier, not for
 * the stages together: NetworkPolicy's isolation set loses addresses before the rules change
 * and gains them after, while a tier's new chains (a tier new in a direction, an address's new
 * own chain) act only once the rules are in. A packet NetworkPolicy dropped before and such a
 * new tier chain drops after (or the reverse, a tier chain that goes and NetworkPolicy that
 * isolates instead) gets through for the time of one iptables-restore.
 */
import { canonicalElement } from '../../../kernel/ipset';
import { parseAddress } from '../../../ipam/address';
import type { TierDirection, TierPortRange, TierVerdict } from '../../dataplane/policy-state';
import type { DesiredIpset, DesiredIptablesChain } from './desired';
import { familyOf, type Direction, type Family, type IptablesNames, type Tier } from './names';
import { CLUSTER_DROP_LOG_PREFIX } from '../../drops/log-rules';
import { checkRange, comment, dportWords, dropChain, EXPANDED_RANGE_MAX, ipsetFamily, peerNets, portCount, rangeText, WORDS } from './policy-common';
import { byValue, searchTree } from './search-tree';

const TIER_NOUN = { a: 'admin', b: 'baseline' } as const satisfies Record<Tier, string>;
const DONE: Record<TierVerdict, string> = { accept: 'accepted', drop: 'dropped', pass: 'passed on' };

export interface TierRendering {
  /** The match on the tier's subjects, for the rule that goes to `chain`. */
  gate: string[];
  chain: string;
  chains: DesiredIptablesChain[];
  sets: DesiredIpset[];
}

/** What one local address's own chain decides: wide ranges, and `other` per peer CIDR. */
interface Own {
  local: string;
  value: bigint;
  /** By `${verdict} ${protocol} ${first}-${last}`. */
  ranges: Map<string, { range: TierPortRange; nets: Set<string> }>;
  other: Record<'accept' | 'drop', Set<string>>;
}

/**
 * The chains and sets of one tier in one direction and family; undefined when it decides nothing
 * there. `pass`: what a pass does (rule words from the target on): on to NetworkPolicy (`-g`)
 * after Admin, allowed (`-j RETURN`) after Baseline.
 */
export function renderTier(tier: Tier, d: Direction, direction: TierDirection | undefined, f: Family, names: IptablesNames, pass: string[]): TierRendering | undefined {
  if (!direction) return undefined;
  const w = WORDS[d];
  const noun = `${TIER_NOUN[tier]} tier`;
  const local = (address: string) => canonicalElement('hash:ip', ipsetFamily(f), address);
  const subjects = new Set(direction.subjects.filter((a) => familyOf(a) === f).map(local));
  const ports: Record<TierVerdict, Set<string>> = { accept: new Set(), drop: new Set(), pass: new Set() };
  const decided = new Map<string, bigint>();
  const own = new Map<string, Own>();
  const ownOf = (l: string): Own => {
    let o = own.get(l);
    if (!o) {
      o = { local: l, value: parseAddress(l)!.value, ranges: new Map(), other: { accept: new Set(), drop: new Set() } };
      own.set(l, o);
    }
    return o;
  };

  for (const c of direction.classes) {
    const nets = peerNets(c.cidrs, f);
    if (nets.length === 0) continue;
    for (const decision of c.decide) {
      if (familyOf(decision.localIp) !== f) continue;
      const l = local(decision.localIp);
      // Decisions of an address that is not a subject are never looked at: the tier passes it.
      if (!subjects.has(l)) continue;
      for (const r of decision.ports) {
        checkRange(r);
        // A range with `other`'s verdict changes nothing; `other` decides it.
        if (r.verdict === decision.other) continue;
        decided.set(l, parseAddress(l)!.value);
        if (portCount(r) > EXPANDED_RANGE_MAX) {
          const key = `${r.verdict} ${rangeText(r)}`;
          const o = ownOf(l);
          const entry = o.ranges.get(key) ?? { range: r, nets: new Set<string>() };
          for (const n of nets) entry.nets.add(n);
          o.ranges.set(key, entry);
        } else {
          for (let p = r.first; p <= r.last; p++) for (const n of nets) ports[r.verdict].add(`${l},${r.protocol}:${p},${n}`);
        }
      }
      if (decision.other !== 'pass') {
        decided.set(l, parseAddress(l)!.value);
        for (const n of nets) ownOf(l).other[decision.other].add(n);
      }
    }
  }
  if (decided.size === 0) return undefined;

  const sets: DesiredIpset[] = [];
  const chains: DesiredIptablesChain[] = [];
  const set = (name: string, type: DesiredIpset['type'], elements: Iterable<string>): string => {
    sets.push({ name, type, family: ipsetFamily(f), elements: [...elements], role: 'allow' });
    return name;
  };
  const dropName = names.tierDropChain(tier, d);
  const drops = ports.drop.size > 0 || [...own.values()].some((o) => o.other.drop.size > 0 || [...o.ranges.values()].some((x) => x.range.verdict === 'drop'));
  if (drops) chains.push(dropChain(dropName, CLUSTER_DROP_LOG_PREFIX[TIER_NOUN[tier]][w.noun], `${w.noun} denied by the ${noun}`));
  const verdictWords: Record<TierVerdict, string[]> = { accept: ['-j', 'RETURN'], drop: ['-j', dropName], pass };
  const sorted = (locals: Iterable<[string, bigint]>) => [...locals].map(([l, value]) => ({ local: l, value })).sort(byValue).map((x) => x.local);

  const sub = set(names.fixedSet(`${tier}${d}-sub`, f), 'hash:ip', sorted(decided));
  const rules: string[][] = [];
  for (const verdict of ['drop', 'accept', 'pass'] as const) {
    if (ports[verdict].size === 0) continue;
    const kind = verdict === 'drop' ? 'drp' : verdict === 'accept' ? 'acc' : 'pas';
    const s = set(names.fixedSet(`${tier}${d}-${kind}`, f), 'hash:ip,port,net', ports[verdict]);
    rules.push(['-m', 'set', '--match-set', s, `${w.local},dst,${w.peerFlag}`, ...comment(`${w.noun} ${DONE[verdict]} by the ${noun}: these ports with the class of the ${w.peer}`), ...verdictWords[verdict]]);
  }
  if (own.size > 0) {
    const oth = set(names.fixedSet(`${tier}${d}-oth`, f), 'hash:ip', sorted([...own.values()].map((o) => [o.local, o.value])));
    const entries = [...own.values()].map((o) => ({ local: o.local, value: o.value, chain: ownChain(o) }));
    const tree = searchTree(entries, { local: w.local, family: f, nodeName: (first, last) => names.tierTreeChain(tier, d, first, last), otherwise: pass });
    chains.push(...tree);
    rules.push(['-m', 'set', '--match-set', oth, w.local, ...comment(`${w.noun}: the ${noun} decides the rest for these pods in their own chains`), '-g', tree[tree.length - 1].name]);
  }
  rules.push(pass);
  const chain = names.tierChain(tier, d);
  chains.push({ table: 'filter', name: chain, rules });
  return { gate: ['-m', 'set', '--match-set', sub, w.local, ...comment(`local pods the ${noun} decides ${w.noun} for`)], chain, chains, sets };

  function ownChain(o: Own): string {
    const ownRules: string[][] = [];
    for (const [key, { range, nets }] of [...o.ranges].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const s = set(names.localSet(d, o.local, `${noun} ${key}`, f), 'hash:net', nets);
      ownRules.push([...dportWords(range), '-m', 'set', '--match-set', s, w.peerFlag, ...comment(`${w.noun} of ${o.local}: ${DONE[range.verdict]} by the ${noun} on a port range with these ${w.peer}s`), ...verdictWords[range.verdict]]);
    }
    for (const verdict of ['drop', 'accept'] as const) {
      if (o.other[verdict].size === 0) continue;
      const s = set(names.localSet(d, o.local, `${noun} other ${verdict}`, f), 'hash:net', o.other[verdict]);
      ownRules.push(['-m', 'set', '--match-set', s, w.peerFlag, ...comment(`${w.noun} of ${o.local}: ${DONE[verdict]} by the ${noun}, every other protocol and port, with these ${w.peer}s`), ...verdictWords[verdict]]);
    }
    ownRules.push(pass);
    const name = names.tierLocalChain(tier, d, o.local);
    chains.push({ table: 'filter', name, rules: ownRules });
    return name;
  }
}
