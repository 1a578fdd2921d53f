/**
 * NodePolicy -> iptables chains and ipsets, with the semantics of the nftables backend's
 * render-policy.ts (policy-state.ts says what a NodePolicy means).
 *
 * nftables looks a peer up in a verdict map (its class) and then (local address, protocol, port)
 * in that class's sets. iptables has no verdict maps, and ipset cannot key a set by the packet
 * mark (no hash:ip,mark here) or by two networks (no hash:net,net, no hash:net,port,net), so the
 * class cannot be looked up first and used as a key after. What ipset can do in one lookup is
 * the class lookup and the allowance lookup together: a class's CIDRs crossed with its
 * allowances. So, per direction and family, a NEW packet of an isolated local pod meets:
 *
 *   1. (local, proto:port)         in hash:ip,port      any-peer port allowances
 *   2. local                       in hash:ip           any-peer 'all' allowances
 *   3. (local, proto:port, peer)   in hash:ip,port,net  class port allowances: one element per
 *                                  (allowance port, class CIDR); the kernel probes one hash per
 *                                  distinct prefix length in the set, not per element
 *      (peer, proto:port, local)   in hash:ip,port,net  the same allowances the other way round,
 *                                  one element per (peer address, local network), for the
 *                                  classes and ports where that takes fewer elements
 *                                  (class-elements.ts: a class most isolated pods may reach)
 *   4. only for local addresses with allowances no set above can hold (see below): a binary
 *      search over those addresses (`-m iprange`, depth log2 of their number, at most the pods
 *      on this node) to the address's own chain, where a peer set (hash:net) per allowance
 *      decides
 *   5. drop.
 * Steps 1-3 cost the same whatever the number of policies, pods, namespaces or classes.
 *
 * What the sets cannot hold, and why it goes to step 4:
 * - 'all' allowances of a class: (local, peer CIDR) for every protocol and port. Every two-address
 *   set type here also has a port, which a TCP or UDP packet always fills in, so 'all' would be
 *   3 x 65536 ports per pair; instead the local address's chain holds one hash:net of the peer
 *   CIDRs it may exchange everything with (one lookup once there).
 * - port ranges wider than EXPANDED_RANGE_MAX: ipset stores a range as one element per port, so
 *   a class range costs (ports x class CIDRs) elements (30000-32767 across a class of 100 pods:
 *   276,800). Ranges up to EXPANDED_RANGE_MAX ports are expanded into the sets of steps 1 and 3;
 *   wider ones become one rule in the local address's chain (`--dport first:last`), with a
 *   hash:net of the class CIDRs for class ranges. Their cost is one rule per distinct wide range
 *   of that one local address, which grows with policies that use endPort, not with pods.
 *
 * Verdicts: "allowed" is RETURN, never ACCEPT: an ACCEPT in a user chain ends the whole built-in
 * chain, skipping rules other software put after weft's jump, where an nftables accept ends only
 * weft's own base chain. Egress is checked before ingress, from the same chain: a packet egress
 * allows returns there and still meets ingress (same-node pod to pod traffic is subject to both).
 * Established and related packets return first, so replies of allowed connections always pass.
 * The search tree and the local chains are entered with -g (goto), so their RETURN returns past
 * the direction chain, as an allowance; each of them ends in a drop, so nothing falls through.
 * Every drop goes through one chain per direction (PREFIX-INGRESS-DROP), which logs the packet
 * to NFLOG through a rate limit (agent/drops/log-rules.ts) for weftctl policy drops, then drops it
 * (the tiers have drop chains of their own, with their own log prefixes).
 *
 * ClusterNetworkPolicy tiers (render-cluster-policy.ts says what a packet meets in one) change
 * how a direction is entered, and only where a tier has something to decide on this node
 * (renderDirectionStages below). Without one, FORWARD enters the direction chain by the
 * isolation set, as above. With one, FORWARD jumps to PREFIX-<DIRECTION>-TIERS, where a NEW
 * packet meets, each a hash:ip lookup of its local address, and goes (-g) to the first that
 * holds it: the Admin tier's subjects; NetworkPolicy's isolated addresses; the Baseline tier's
 * subjects. So Baseline never sees an address NetworkPolicy isolates, and a packet of an address
 * no stage holds costs three lookups and is allowed. Admin's accept is RETURN (back in FORWARD:
 * NetworkPolicy and Baseline of this direction skipped), its drop its drop chain, its pass a goto
 * to PREFIX-<DIRECTION>-PASSED, which holds the NetworkPolicy and Baseline stages again.
 */
import { parseAddress } from '../../../ipam/address';
import type { Allowance, DirectionPolicy, NodePolicy, PeerClass, PortRange } from '../../dataplane/policy-state';
import type { DesiredIpset, DesiredIptablesChain } from './desired';
import { familyOf, type Direction, type Family, type IptablesNames } from './names';
import { canonicalLocal, checkRange, comment, dportWords, dropChain, dropChainName, EXPANDED_RANGE_MAX, ipsetFamily, portCount, rangeText, WORDS, type DirectionWords } from './policy-common';
import { renderTier, type TierRendering } from './render-cluster-policy';
import { DROP_LOG_PREFIX } from '../../drops/log-rules';
import { byValue, searchTree } from './search-tree';
import { classPeers, CrossedElements, type Crossed } from './class-elements';

export { EXPANDED_RANGE_MAX, peerNets } from './policy-common';
export { TREE_LEAF_SIZE } from './search-tree';

/**
 * IPv6 neighbour solicitations and advertisements between pods on the bridge cross FORWARD
 * (the bridge calls ip6tables). Conntrack does not track them, so without this an isolated pod
 * could not resolve a peer's link-layer address, nor answer a peer asking for its own: IPv6 pod
 * to pod traffic on one node would fail where IPv4 (ARP, never seen by iptables) works. They
 * are link-layer plumbing, not traffic a NetworkPolicy speaks of.
 */
export const ND_EXEMPT = true;

/** What one local address is allowed beyond the sets of steps 1-3. */
interface Wide {
  local: string;
  value: bigint;
  anyPeerRanges: PortRange[];
  allNets: Set<string>;
  rangeNets: Map<string, { range: PortRange; nets: Set<string> }>;
}

export interface PolicyRendering {
  chains: DesiredIptablesChain[];
  /** Rules for weft's FORWARD chain, after the bridge guard. */
  forward: string[][];
  /** Rules for weft's filter INPUT chain: the egress tiers for pods reaching their own node. */
  input: string[][];
  sets: DesiredIpset[];
}

/** What one class contributes in one family: its class set elements, and what goes to the local addresses' own chains. */
interface ClassContribution extends Crossed {
  /** The class's CIDRs as hash:net elements. */
  nets: readonly string[];
  /** Local addresses allowed everything with the class. */
  all: string[];
  /** Local addresses allowed a range wider than EXPANDED_RANGE_MAX with the class. */
  ranges: { local: string; range: PortRange }[];
}

/**
 * Kept per class object and family while the isolated addresses are the same list: the compiler
 * hands out the very same objects for what did not change (policy/intern.ts), so a sync renders
 * only the classes that changed, as the nftables backend does. A class's elements depend on the
 * isolated addresses (which of its allowances count, the local networks of class-elements.ts).
 */
const classMemo = new WeakMap<PeerClass, { isolated: readonly string[]; byFamily: Partial<Record<Family, ClassContribution>> }>();

class DirectionRenderer {
  private readonly w: DirectionWords;
  private readonly isolated: Set<string>;
  private readonly anyPorts = new Set<string>();
  private readonly anyAll = new Set<string>();
  /** Class port allowances, in the orientation class-elements.ts picks per class and port. */
  private readonly crossed: CrossedElements;
  private readonly classElements: Crossed[] = [];
  private readonly wide = new Map<string, Wide>();
  readonly chains: DesiredIptablesChain[] = [];
  readonly sets: DesiredIpset[] = [];

  constructor(
    private readonly d: Direction,
    private readonly f: Family,
    private readonly names: IptablesNames,
    private readonly isolatedList: readonly string[],
  ) {
    this.w = WORDS[d];
    this.isolated = new Set(isolatedList.filter((a) => familyOf(a) === f).map((a) => this.local(a)));
    // Only isolated addresses enter the direction chain: they are the domain of its class sets.
    this.crossed = new CrossedElements(f, this.isolated);
  }

  get isEmpty(): boolean {
    return this.isolated.size === 0;
  }

  private local(address: string): string {
    return canonicalLocal(address, this.f);
  }

  private wideOf(local: string): Wide {
    let w = this.wide.get(local);
    if (!w) {
      w = { local, value: parseAddress(local)!.value, anyPeerRanges: [], allNets: new Set(), rangeNets: new Map() };
      this.wide.set(local, w);
    }
    return w;
  }

  /**
   * Allowances of isolated addresses of this family only: an address that is not isolated is
   * never checked, so its allowances would be elements nothing looks at.
   */
  private relevant(allow: readonly Allowance[]): { local: string; ports: Allowance['ports'] }[] {
    return allow.filter((a) => familyOf(a.localIp) === this.f).map((a) => ({ local: this.local(a.localIp), ports: a.ports })).filter((a) => this.isolated.has(a.local));
  }

  addAnyPeer(allow: readonly Allowance[]): void {
    for (const a of this.relevant(allow)) {
      if (a.ports === 'all') {
        this.anyAll.add(a.local);
        continue;
      }
      for (const r of a.ports) {
        checkRange(r);
        if (portCount(r) > EXPANDED_RANGE_MAX) {
          const w = this.wideOf(a.local);
          if (!w.anyPeerRanges.some((x) => rangeText(x) === rangeText(r))) w.anyPeerRanges.push(r);
        } else for (let p = r.first; p <= r.last; p++) this.anyPorts.add(`${a.local},${r.protocol}:${p}`);
      }
    }
  }

  addClass(c: PeerClass): void {
    let memo = classMemo.get(c);
    if (memo?.isolated !== this.isolatedList) {
      memo = { isolated: this.isolatedList, byFamily: {} };
      classMemo.set(c, memo);
    }
    const contribution = (memo.byFamily[this.f] ??= this.classContribution(c));
    this.classElements.push(contribution);
    for (const local of contribution.all) {
      const w = this.wideOf(local);
      for (const n of contribution.nets) w.allNets.add(n);
    }
    for (const { local, range } of contribution.ranges) {
      const w = this.wideOf(local);
      const key = rangeText(range);
      const entry = w.rangeNets.get(key) ?? { range, nets: new Set<string>() };
      for (const n of contribution.nets) entry.nets.add(n);
      w.rangeNets.set(key, entry);
    }
  }

  private classContribution(c: PeerClass): ClassContribution {
    const peers = classPeers(c.cidrs, this.f);
    const out: ClassContribution = { byLocal: [], byPeer: [], all: [], ranges: [], nets: peers.nets };
    if (peers.nets.length === 0) return out;
    // The local addresses the class is allowed for, per expanded port ('tcp:80').
    const byPort = new Map<string, string[]>();
    for (const a of this.relevant(c.allow)) {
      if (a.ports === 'all') {
        out.all.push(a.local);
        continue;
      }
      for (const r of a.ports) {
        checkRange(r);
        if (portCount(r) > EXPANDED_RANGE_MAX) out.ranges.push({ local: a.local, range: r });
        else {
          for (let p = r.first; p <= r.last; p++) {
            const port = `${r.protocol}:${p}`;
            const locals = byPort.get(port);
            if (locals) locals.push(a.local);
            else byPort.set(port, [a.local]);
          }
        }
      }
    }
    for (const [port, locals] of byPort) this.crossed.add(peers, port, locals, out);
    return out;
  }

  private drop(): string[] {
    return [...comment(`${this.w.noun} not allowed by any policy`), '-j', dropChainName(this.names, this.d)];
  }

  private set(name: string, type: DesiredIpset['type'], elements: Iterable<string>, role: DesiredIpset['role'] = 'allow'): string {
    this.sets.push({ name, type, family: ipsetFamily(this.f), elements: [...elements], role });
    return name;
  }

  /**
   * The direction chain, the search tree and local chains; returns what enters them: the match
   * on isolated addresses (for a rule that jumps or goes to `chain`).
   */
  finish(): { gate: string[]; chain: string } {
    const { d, f, w, names } = this;
    const isoSet = this.set(names.fixedSet(`${d}-iso`, f), 'hash:ip', this.isolated, 'isolate');
    const rules: string[][] = [];
    if (this.anyPorts.size > 0) {
      const s = this.set(names.fixedSet(`${d}-anyp`, f), 'hash:ip,port', this.anyPorts);
      rules.push(['-m', 'set', '--match-set', s, `${w.local},dst`, ...comment(`${w.noun} allowed from any ${w.peer}: these ports`), '-j', 'RETURN']);
    }
    if (this.anyAll.size > 0) {
      const s = this.set(names.fixedSet(`${d}-anya`, f), 'hash:ip', this.anyAll);
      rules.push(['-m', 'set', '--match-set', s, w.local, ...comment(`${w.noun} allowed from any ${w.peer}: all traffic`), '-j', 'RETURN']);
    }
    // Classes are disjoint, so their elements are too: concatenated, not merged.
    const byLocal = ([] as string[]).concat(...this.classElements.map((x) => x.byLocal));
    const byPeer = ([] as string[]).concat(...this.classElements.map((x) => x.byPeer));
    if (byLocal.length > 0) {
      const s = this.set(names.fixedSet(`${d}-clsp`, f), 'hash:ip,port,net', byLocal);
      rules.push(['-m', 'set', '--match-set', s, `${w.local},dst,${w.peerFlag}`, ...comment(`${w.noun} allowed for the class of the ${w.peer}: these ports`), '-j', 'RETURN']);
    }
    if (byPeer.length > 0) {
      const s = this.set(names.fixedSet(`${d}-clsr`, f), 'hash:ip,port,net', byPeer);
      rules.push(['-m', 'set', '--match-set', s, `${w.peerFlag},dst,${w.local}`, ...comment(`${w.noun} allowed for the class of the ${w.peer}: these ports, local pods in these networks`), '-j', 'RETURN']);
    }
    const wide = [...this.wide.values()].sort(byValue);
    if (wide.length > 0) {
      const entries = wide.map((x) => ({ local: x.local, value: x.value, chain: this.localChain(x) }));
      const tree = searchTree(entries, { local: w.local, family: f, nodeName: (first, last) => names.treeChain(d, first, last), otherwise: this.drop() });
      this.chains.push(...tree);
      rules.push(['-g', tree[tree.length - 1].name]);
    } else rules.push(this.drop());
    const chain = names.chain(w.chain);
    this.chains.push({ table: 'filter', name: chain, rules });
    return { gate: ['-m', 'set', '--match-set', isoSet, w.local, ...comment(`local pods isolated for ${w.noun}`)], chain };
  }

  private localChain(x: Wide): string {
    const { d, f, w, names } = this;
    const rules: string[][] = [];
    for (const r of x.anyPeerRanges) rules.push([...dportWords(r), ...comment(`${w.noun} of ${x.local} allowed from any ${w.peer}`), '-j', 'RETURN']);
    if (x.allNets.size > 0) {
      const s = this.set(names.localSet(d, x.local, 'all', f), 'hash:net', x.allNets);
      rules.push(['-m', 'set', '--match-set', s, w.peerFlag, ...comment(`${w.noun} of ${x.local}: all traffic with these ${w.peer}s`), '-j', 'RETURN']);
    }
    for (const [key, { range, nets }] of [...x.rangeNets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const s = this.set(names.localSet(d, x.local, key, f), 'hash:net', nets);
      rules.push([...dportWords(range), '-m', 'set', '--match-set', s, w.peerFlag, ...comment(`${w.noun} of ${x.local}: a port range with these ${w.peer}s`), '-j', 'RETURN']);
    }
    rules.push(this.drop());
    const name = names.localChain(d, x.local);
    this.chains.push({ table: 'filter', name, rules });
    return name;
  }
}

function renderDirection(d: Direction, policy: DirectionPolicy, f: Family, names: IptablesNames): DirectionRenderer | undefined {
  const r = new DirectionRenderer(d, f, names, policy.isolated);
  if (r.isEmpty) return undefined;
  r.addAnyPeer(policy.anyPeer);
  for (const c of policy.classes) r.addClass(c);
  return r;
}

interface DirectionRendering {
  forward: string[][];
  /** The chain INPUT enters for pods reaching their own node (egress tiers only). */
  node?: string;
  chains: DesiredIptablesChain[];
  sets: DesiredIpset[];
}

/**
 * One direction: NetworkPolicy alone is entered from FORWARD by its isolation set, as it always
 * was. With a ClusterNetworkPolicy tier, FORWARD jumps to the direction's TIERS chain, which
 * enters, by goto, the first stage whose set holds the local address: the Admin tier's subjects,
 * else NetworkPolicy's isolated addresses, else the Baseline tier's subjects (so Baseline only
 * ever sees addresses NetworkPolicy does not isolate). A stage's RETURN is "allowed for this
 * direction" (back in FORWARD, on to the next direction); Admin's pass goes to the PASSED chain,
 * which holds the stages after Admin.
 *
 * A pod reaching its own node (INPUT) meets the egress tiers too, as in the nftables backend, so
 * that a tier's `nodes` or `networks` peers also hold for the node the pod runs on; NetworkPolicy
 * exempts that traffic, so between the tiers an address it isolates is allowed. INPUT enters
 * EGRESS-NODE: Admin's subjects, then the exemption, then Baseline's subjects. The Admin tier's
 * chains serve both hooks: its pass goes to PASSED, where a packet to a local address (only
 * INPUT's are) goes on to NODE-PASSED, the exemption and Baseline, and the others to the
 * FORWARD stages.
 */
function renderDirectionStages(d: Direction, policy: NodePolicy, f: Family, names: IptablesNames): DirectionRendering | undefined {
  const w = WORDS[d];
  const np = renderDirection(d, policy[w.noun], f, names);
  const baseline = renderTier('b', d, policy.baseline?.[w.noun], f, names, ['-j', 'RETURN']);
  const npStage = np?.finish();
  const rest: string[][] = [];
  if (npStage) rest.push([...npStage.gate, '-g', npStage.chain]);
  if (baseline) rest.push([...baseline.gate, '-g', baseline.chain]);
  const passed = names.chain(`${w.chain}-PASSED`);
  const admin = renderTier('a', d, policy.admin?.[w.noun], f, names, rest.length > 0 ? ['-g', passed] : ['-j', 'RETURN']);
  if (!npStage && !admin && !baseline) return undefined;
  const tiers: TierRendering[] = [admin, baseline].filter((x) => x !== undefined);
  const out: DirectionRendering = { forward: [], chains: [...(np?.chains ?? [])], sets: [...(np?.sets ?? []), ...tiers.flatMap((x) => x.sets)] };
  const adminStage = admin ? [[...admin.gate, '-g', admin.chain]] : [];
  // The stages after Admin for a pod reaching its own node: NetworkPolicy's exemption, Baseline.
  const nodeRest = baseline ? [...(npStage ? [[...npStage.gate, '-j', 'RETURN']] : []), [...baseline.gate, '-g', baseline.chain]] : [];
  if (tiers.length === 0 && npStage) out.forward.push([...npStage.gate, '-j', npStage.chain]);
  else {
    const entry = names.chain(`${w.chain}-TIERS`);
    out.forward.push([...comment(`${w.noun}: admin tier, then NetworkPolicy, then baseline tier`), '-j', entry]);
    out.chains.push({ table: 'filter', name: entry, rules: [...adminStage, ...rest] });
    if (d === 'e') {
      out.node = names.chain(`${w.chain}-NODE`);
      out.chains.push({ table: 'filter', name: out.node, rules: [...adminStage, ...nodeRest] });
    }
    if (admin && rest.length > 0) {
      const toNode = ['-m', 'addrtype', '--dst-type', 'LOCAL', ...comment('a pod reaching its own node: the stages after the admin tier in INPUT')];
      const nodePassed = names.chain(`${w.chain}-NODE-PASSED`);
      if (d === 'e' && nodeRest.length > 0) out.chains.push({ table: 'filter', name: nodePassed, rules: nodeRest });
      const node = d === 'e' ? [[...toNode, ...(nodeRest.length > 0 ? ['-g', nodePassed] : ['-j', 'RETURN'])]] : [];
      out.chains.push({ table: 'filter', name: passed, rules: [...node, ...rest] });
    }
  }
  out.chains.push(...tiers.flatMap((x) => x.chains));
  if (npStage) out.chains.push(dropChain(dropChainName(names, d), DROP_LOG_PREFIX[w.noun], `${w.noun} not allowed by any policy`));
  return out;
}

export function renderPolicy(policy: NodePolicy | undefined, f: Family, names: IptablesNames): PolicyRendering {
  const out: PolicyRendering = { chains: [], forward: [], input: [], sets: [] };
  if (!policy) return out;
  // Egress first: a packet it allows comes back to the FORWARD chain and meets ingress.
  const directions = [renderDirectionStages('e', policy, f, names), renderDirectionStages('i', policy, f, names)].filter((r) => r !== undefined);
  if (directions.length === 0) return out;
  const first = (what: string) => [
    ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...comment('replies and related packets of allowed connections'), '-j', 'RETURN'],
    ...(f === 6 && ND_EXEMPT ? ['135', '136'].map((type) => ['-p', 'ipv6-icmp', '-m', 'icmp6', '--icmpv6-type', type, ...comment(`neighbour discovery ${what}`), '-j', 'RETURN']) : []),
  ];
  out.forward.push(...first('between pods'));
  for (const r of directions) {
    out.forward.push(...r.forward);
    out.chains.push(...r.chains);
    out.sets.push(...r.sets);
    if (r.node) out.input.push(...first('with the node'), [...comment('egress of pods to their own node: the tiers'), '-j', r.node]);
  }
  return out;
}
