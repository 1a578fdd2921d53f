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
 * to NFLOG through a rate limit (agent/drops/log-rules.ts) for weftctl policy drops, then drops it.
 */
import { canonicalElement, type IpsetFamily } from '../../../kernel/ipset';
import { parseAddress } from '../../../ipam/address';
import type { Allowance, DirectionPolicy, NodePolicy, PortRange } from '../../dataplane/policy-state';
import type { DesiredIpset, DesiredIptablesChain } from './desired';
import { familyOf, type Direction, type Family, type IptablesNames } from './names';
import { DROP_LOG_GROUP, DROP_LOG_PREFIX, DROP_LOG_RATE } from '../../drops/log-rules';

/** Port ranges up to this many ports are expanded into set elements; wider ones get a rule. */
export const EXPANDED_RANGE_MAX = 16;
/** Local addresses a search tree leaf tests one by one. */
export const TREE_LEAF_SIZE = 4;

/**
 * IPv6 neighbour solicitations and advertisements between pods on the bridge cross FORWARD
 * (the bridge calls ip6tables). Conntrack does not track them, so without this an isolated pod
 * could not resolve a peer's link-layer address, nor answer a peer asking for its own: IPv6 pod
 * to pod traffic on one node would fail where IPv4 (ARP, never seen by iptables) works. They
 * are link-layer plumbing, not traffic a NetworkPolicy speaks of.
 */
export const ND_EXEMPT = true;

const comment = (text: string) => ['-m', 'comment', '--comment', text];
const ipsetFamily = (f: Family): IpsetFamily => (f === 4 ? 'inet' : 'inet6');

const WORDS: Record<Direction, { noun: 'ingress' | 'egress'; peer: string; local: 'src' | 'dst'; peerFlag: 'src' | 'dst'; chain: string }> = {
  e: { noun: 'egress', peer: 'destination', local: 'src', peerFlag: 'dst', chain: 'EGRESS' },
  i: { noun: 'ingress', peer: 'source', local: 'dst', peerFlag: 'src', chain: 'INGRESS' },
};

/** The CIDRs of one family as hash:net elements; /0 (which ipset refuses) as its two halves. */
export function peerNets(cidrs: readonly string[], f: Family): string[] {
  const out: string[] = [];
  for (const cidr of cidrs) {
    if (familyOf(cidr) !== f) continue;
    const [address, length] = cidr.split('/');
    if (length === '0') out.push(...(f === 4 ? ['0.0.0.0/1', '128.0.0.0/1'] : ['::/1', '8000::/1']));
    else out.push(canonicalElement('hash:net', ipsetFamily(f), length === undefined ? address : cidr));
  }
  return out;
}

function checkRange(r: PortRange): void {
  if (!['tcp', 'udp', 'sctp'].includes(r.protocol) || !Number.isInteger(r.first) || !Number.isInteger(r.last) || r.first < 0 || r.first > r.last || r.last > 65535) {
    throw new Error(`invalid port range ${JSON.stringify(r)} in NodePolicy`);
  }
}

const portCount = (r: PortRange) => r.last - r.first + 1;
const rangeText = (r: PortRange) => `${r.protocol} ${r.first}-${r.last}`;
const dportWords = (r: PortRange) => ['-p', r.protocol, '-m', r.protocol, '--dport', `${r.first}:${r.last}`];

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
  sets: DesiredIpset[];
}

class DirectionRenderer {
  private readonly w: (typeof WORDS)[Direction];
  private readonly isolated: Set<string>;
  private readonly anyPorts = new Set<string>();
  private readonly anyAll = new Set<string>();
  private readonly classPorts = new Set<string>();
  private readonly wide = new Map<string, Wide>();
  readonly chains: DesiredIptablesChain[] = [];
  readonly sets: DesiredIpset[] = [];

  constructor(
    private readonly d: Direction,
    private readonly f: Family,
    private readonly names: IptablesNames,
    isolated: readonly string[],
  ) {
    this.w = WORDS[d];
    this.isolated = new Set(isolated.filter((a) => familyOf(a) === f).map((a) => this.local(a)));
  }

  get isEmpty(): boolean {
    return this.isolated.size === 0;
  }

  private local(address: string): string {
    return canonicalElement('hash:ip', ipsetFamily(this.f), address);
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

  addClass(cidrs: readonly string[], allow: readonly Allowance[]): void {
    const nets = peerNets(cidrs, this.f);
    if (nets.length === 0) return;
    for (const a of this.relevant(allow)) {
      if (a.ports === 'all') {
        const w = this.wideOf(a.local);
        for (const n of nets) w.allNets.add(n);
        continue;
      }
      for (const r of a.ports) {
        checkRange(r);
        if (portCount(r) > EXPANDED_RANGE_MAX) {
          const w = this.wideOf(a.local);
          const key = rangeText(r);
          const entry = w.rangeNets.get(key) ?? { range: r, nets: new Set<string>() };
          for (const n of nets) entry.nets.add(n);
          w.rangeNets.set(key, entry);
        } else {
          for (let p = r.first; p <= r.last; p++) for (const n of nets) this.classPorts.add(`${a.local},${r.protocol}:${p},${n}`);
        }
      }
    }
  }

  /** Where every denied packet of the direction goes: logged (rate-limited), then dropped. */
  private get dropChain(): string {
    return this.names.chain(`${this.w.chain}-DROP`);
  }

  private drop(): string[] {
    return [...comment(`${this.w.noun} not allowed by any policy`), '-j', this.dropChain];
  }

  private set(name: string, type: DesiredIpset['type'], elements: Iterable<string>, role: DesiredIpset['role'] = 'allow'): string {
    this.sets.push({ name, type, family: ipsetFamily(this.f), elements: [...elements], role });
    return name;
  }

  /** The direction chain, the search tree and local chains; returns the FORWARD rule that enters them. */
  finish(): string[][] {
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
    if (this.classPorts.size > 0) {
      const s = this.set(names.fixedSet(`${d}-clsp`, f), 'hash:ip,port,net', this.classPorts);
      rules.push(['-m', 'set', '--match-set', s, `${w.local},dst,${w.peerFlag}`, ...comment(`${w.noun} allowed for the class of the ${w.peer}: these ports`), '-j', 'RETURN']);
    }
    const wide = [...this.wide.values()].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    if (wide.length > 0) rules.push(['-g', this.tree(wide, 0, wide.length - 1)]);
    else rules.push(this.drop());
    const chain = names.chain(w.chain);
    this.chains.push({ table: 'filter', name: chain, rules });
    this.chains.push({
      table: 'filter',
      name: this.dropChain,
      rules: [
        // Rate-limited per rule: a flood of denied packets cannot flood the log (agent/drops/log-rules.ts).
        ['-m', 'limit', '--limit', `${DROP_LOG_RATE}/sec`, ...comment(`${w.noun} not allowed by any policy: logged (at most ${DROP_LOG_RATE}/s)`), '-j', 'NFLOG', '--nflog-prefix', DROP_LOG_PREFIX[w.noun], '--nflog-group', String(DROP_LOG_GROUP)],
        [...comment(`${w.noun} not allowed by any policy`), '-j', 'DROP'],
      ],
    });
    return [['-m', 'set', '--match-set', isoSet, w.local, ...comment(`local pods isolated for ${w.noun}`), '-j', chain]];
  }

  /** A balanced search over the sorted addresses first..last; leaves test addresses one by one. */
  private tree(wide: readonly Wide[], first: number, last: number): string {
    const { d, f, w, names } = this;
    const name = names.treeChain(d, wide[first].local, wide[last].local);
    const rules: string[][] = [];
    if (last - first + 1 <= TREE_LEAF_SIZE) {
      for (let i = first; i <= last; i++) rules.push([w.local === 'src' ? '-s' : '-d', `${wide[i].local}/${f === 4 ? 32 : 128}`, '-g', this.localChain(wide[i])]);
      rules.push(this.drop());
    } else {
      const mid = (first + last) >> 1;
      const left = this.tree(wide, first, mid);
      const right = this.tree(wide, mid + 1, last);
      rules.push(['-m', 'iprange', w.local === 'src' ? '--src-range' : '--dst-range', `${wide[first].local}-${wide[mid].local}`, '-g', left]);
      rules.push(['-g', right]);
    }
    this.chains.push({ table: 'filter', name, rules });
    return name;
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
  for (const c of policy.classes) r.addClass(c.cidrs, c.allow);
  return r;
}

export function renderPolicy(policy: NodePolicy | undefined, f: Family, names: IptablesNames): PolicyRendering {
  const out: PolicyRendering = { chains: [], forward: [], sets: [] };
  if (!policy) return out;
  // Egress first: a packet it allows comes back to the FORWARD chain and meets ingress.
  const directions = [renderDirection('e', policy.egress, f, names), renderDirection('i', policy.ingress, f, names)].filter((r) => r !== undefined);
  if (directions.length === 0) return out;
  out.forward.push(['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...comment('replies and related packets of allowed connections'), '-j', 'RETURN']);
  if (f === 6 && ND_EXEMPT) {
    for (const type of ['135', '136']) out.forward.push(['-p', 'ipv6-icmp', '-m', 'icmp6', '--icmpv6-type', type, ...comment('neighbour discovery between pods'), '-j', 'RETURN']);
  }
  for (const r of directions) {
    out.forward.push(...r.finish());
    out.chains.push(...r.chains);
    out.sets.push(...r.sets);
  }
  return out;
}
