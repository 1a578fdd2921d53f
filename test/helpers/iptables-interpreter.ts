/**
 * For unit tests of the iptables backend's policy rendering, without a kernel: a small
 * interpreter of the iptables and ipset semantics the rendered rules rely on (jump, goto,
 * RETURN, DROP; hash:ip, hash:net, hash:ip,port, hash:ip,port,net lookups), and the verdict a
 * NodeState means for a forwarded packet, written directly from policy-state.ts and
 * node-state.ts (NetworkPolicy, and the ClusterNetworkPolicy tiers around it).
 */
import type { DesiredIpset, IptablesRendering } from '../../agent/backend/iptables/render';
import type { NodeState } from '../../agent/dataplane/node-state';
import type { Allowance, DirectionPolicy, NodePolicy, TierDirection, TierVerdict } from '../../agent/dataplane/policy-state';
import { dimensions } from '../../kernel/ipset';
import { addr, inNet } from './address-match';

// ---- an interpreter of the rendered rules ----

export type Proto = 'tcp' | 'udp' | 'sctp' | 'icmp' | 'ipv6-icmp';

export interface Packet {
  src: string;
  dst: string;
  proto: Proto;
  dport: number;
  icmpType?: number;
  established: boolean;
  in: string;
  out: string;
  /** To an address of the node itself (INPUT), not forwarded. */
  toNode?: boolean;
}

function setMatches(set: DesiredIpset, flags: string[], p: Packet): boolean {
  const dims = dimensions(set.type);
  if (dims.length !== flags.length) throw new Error(`set ${set.name} used with ${flags.join(',')}`);
  const ipOf = (flag: string) => (flag === 'src' ? p.src : p.dst);
  if (addr(p.src).family !== (set.family === 'inet' ? 4 : 6)) return false;
  return set.elements.some((element) =>
    element.split(',').every((part, i) => {
      switch (dims[i]) {
        case 'ip':
          return addr(part).value === addr(ipOf(flags[i])).value;
        case 'net':
          return inNet(ipOf(flags[i]), part);
        case 'port': {
          if (flags[i] !== 'dst') throw new Error('only destination ports are rendered');
          if (!['tcp', 'udp', 'sctp'].includes(p.proto)) return false;
          return part === `${p.proto}:${p.dport}`;
        }
        default:
          throw new Error(`dimension ${dims[i]}`);
      }
    }),
  );
}

/** What a packet cost on its way: rules it met, set lookups they made (a rule stops at its first failing match). */
export interface PacketCost {
  rules: number;
  lookups: number;
}

function ruleMatches(words: readonly string[], p: Packet, sets: Map<string, DesiredIpset>, cost?: PacketCost): { target?: string; goto: boolean } | undefined {
  let negate = false;
  let target: string | undefined;
  let goto = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    let ok = true;
    switch (w) {
      case '!':
        negate = true;
        continue;
      case '-m':
      case '--comment':
        i++;
        continue;
      case '-s':
        ok = inNet(p.src, words[++i]);
        break;
      case '-d':
        ok = inNet(p.dst, words[++i]);
        break;
      case '-i':
        ok = p.in === words[++i];
        break;
      case '-o':
        ok = p.out === words[++i];
        break;
      case '-p':
        ok = p.proto === words[++i];
        break;
      case '--dport': {
        const [a, b] = words[++i].split(':').map(Number);
        ok = p.dport >= a && p.dport <= (b ?? a);
        break;
      }
      case '--dst-type':
        if (words[++i] !== 'LOCAL') throw new Error(`the interpreter knows --dst-type LOCAL only, not ${words[i]}`);
        ok = p.toNode === true;
        break;
      case '--icmpv6-type':
        ok = p.icmpType === Number(words[++i]);
        break;
      case '--ctstate':
        if (words[++i] !== 'RELATED,ESTABLISHED') throw new Error(words[i]);
        ok = p.established;
        break;
      case '--src-range':
      case '--dst-range': {
        const [a, b] = words[++i].split('-').map(addr);
        const v = addr(w === '--src-range' ? p.src : p.dst);
        ok = v.family === a.family && v.value >= a.value && v.value <= b.value;
        break;
      }
      case '--match-set': {
        const set = sets.get(words[++i]);
        if (!set) throw new Error(`rule uses set ${words[i]}, which is not rendered`);
        if (cost) cost.lookups++;
        ok = setMatches(set, words[++i].split(','), p);
        break;
      }
      case '-j':
      case '-g':
        target = words[++i];
        goto = w === '-g';
        continue;
      // The drop log: a rate limit (matches while under it) and NFLOG's options.
      case '--limit':
      case '--nflog-prefix':
      case '--nflog-group':
        i++;
        continue;
      default:
        throw new Error(`the interpreter does not know ${w} (in ${words.join(' ')})`);
    }
    if (ok === negate) return undefined;
    negate = false;
  }
  return { target, goto };
}

/** Runs a built-in chain's jump into weft's chain: 'DROP', or 'continue' (back in the built-in chain). */
export function traverse(r: IptablesRendering, family: 'ipv4' | 'ipv6', table: string, chain: string, p: Packet, cost?: PacketCost): 'DROP' | 'continue' {
  const chains = new Map(r.chains[family].filter((c) => c.table === table).map((c) => [c.name, c.rules]));
  const sets = new Map(r.sets.map((s) => [s.name, s]));
  if (!chains.has(chain)) return 'continue';
  const stack: { chain: string; index: number }[] = [];
  let at = { chain, index: 0 };
  for (let steps = 0; steps < 10_000; steps++) {
    const rules = chains.get(at.chain);
    if (!rules) throw new Error(`no chain ${at.chain}`);
    const rule = rules[at.index];
    if (rule && cost) cost.rules++;
    const m = rule && ruleMatches(rule, p, sets, cost);
    if (!rule || m?.target === 'RETURN') {
      const back = stack.pop();
      if (!back) return 'continue';
      at = back;
      continue;
    }
    at = { chain: at.chain, index: at.index + 1 };
    // NFLOG logs and goes on, like a rule without a target.
    if (!m || m.target === undefined || m.target === 'NFLOG') continue;
    if (m.target === 'DROP') return 'DROP';
    if (!chains.has(m.target)) throw new Error(`target ${m.target} is not a chain`);
    if (!m.goto) stack.push(at);
    at = { chain: m.target, index: 0 };
  }
  throw new Error('loop');
}

export const packetFamily = (p: Packet) => (addr(p.src).family === 4 ? 'ipv4' : 'ipv6');
export const forwardVerdict = (r: IptablesRendering, p: Packet, cost?: PacketCost) => traverse(r, packetFamily(p), 'filter', 'WEFT-FORWARD', p, cost);

// ---- the semantics, written from policy-state.ts and node-state.ts ----

export const BRIDGE = 'weft0';

function portsAllow(ports: Allowance['ports'], p: Packet): boolean {
  if (ports === 'all') return true;
  return ports.some((r) => r.protocol === p.proto && p.dport >= r.first && p.dport <= r.last);
}

const sameAddress = (a: string, b: string) => addr(a).value === addr(b).value && addr(a).family === addr(b).family;

function directionAllows(d: DirectionPolicy, local: string, peer: string, p: Packet): boolean {
  const same = (a: string) => sameAddress(a, local);
  if (d.anyPeer.some((a) => same(a.localIp) && portsAllow(a.ports, p))) return true;
  const cls = d.classes.find((c) => c.cidrs.some((n) => inNet(peer, n)));
  return cls !== undefined && cls.allow.some((a) => same(a.localIp) && portsAllow(a.ports, p));
}

/**
 * A tier's verdict: pass for an address that is not a subject, a peer in no class, a class
 * without a decision for the address; else the verdict of the port range the packet's protocol
 * and port fall in (TCP, UDP, SCTP), else `other` (ICMP included).
 */
export function tierVerdict(tier: TierDirection | undefined, local: string, peer: string, p: Packet): TierVerdict {
  if (!tier || !tier.subjects.some((s) => sameAddress(s, local))) return 'pass';
  const cls = tier.classes.find((c) => c.cidrs.some((n) => inNet(peer, n)));
  const decision = cls?.decide.find((x) => sameAddress(x.localIp, local));
  if (!decision) return 'pass';
  const range = decision.ports.find((r) => r.protocol === p.proto && p.dport >= r.first && p.dport <= r.last);
  return range ? range.verdict : decision.other;
}

/** One direction: the Admin tier, then NetworkPolicy (isolated addresses), then the Baseline tier. */
function stagesAllow(policy: NodePolicy, direction: 'ingress' | 'egress', local: string, peer: string, p: Packet): boolean {
  const admin = tierVerdict(policy.admin?.[direction], local, peer, p);
  if (admin !== 'pass') return admin === 'accept';
  if (policy[direction].isolated.some((a) => sameAddress(a, local))) return directionAllows(policy[direction], local, peer, p);
  return tierVerdict(policy.baseline?.[direction], local, peer, p) !== 'drop';
}

/**
 * A pod reaching its own node (INPUT): NetworkPolicy does not apply; the egress tiers do, with
 * an address NetworkPolicy isolates allowed between them.
 */
export function expectedInput(state: NodeState, p: Packet): 'DROP' | 'continue' {
  const policy = state.policy;
  if (!policy || p.established) return 'continue';
  if (p.proto === 'ipv6-icmp' && (p.icmpType === 135 || p.icmpType === 136)) return 'continue';
  const admin = tierVerdict(policy.admin?.egress, p.src, p.dst, p);
  if (admin !== 'pass') return admin === 'accept' ? 'continue' : 'DROP';
  if (policy.egress.isolated.some((a) => sameAddress(a, p.src))) return 'continue';
  return tierVerdict(policy.baseline?.egress, p.src, p.dst, p) === 'drop' ? 'DROP' : 'continue';
}

export const inputVerdict = (r: IptablesRendering, p: Packet, cost?: PacketCost) => traverse(r, packetFamily(p), 'filter', 'WEFT-INPUT', p, cost);

export function expectedForward(state: NodeState, p: Packet): 'DROP' | 'continue' {
  const isPod = (a: string) => state.localPods.some((pod) => pod.ips.some((ip) => sameAddress(ip, a)));
  if (state.podBridge && p.out === state.podBridge && !isPod(p.dst)) {
    const passes = addr(p.dst).family === 4 ? ['224.0.0.0/4', '255.255.255.255/32'] : ['ff00::/8', 'fe80::/10'];
    if (!passes.some((n) => inNet(p.dst, n))) return 'DROP';
  }
  const policy = state.policy;
  if (!policy || p.established) return 'continue';
  if (p.proto === 'ipv6-icmp' && (p.icmpType === 135 || p.icmpType === 136)) return 'continue';
  if (!stagesAllow(policy, 'egress', p.src, p.dst, p)) return 'DROP';
  if (!stagesAllow(policy, 'ingress', p.dst, p.src, p)) return 'DROP';
  return 'continue';
}

/** A packet; from and to the pod bridge when its addresses are pods' (10.244.0.0/16, fd00:10:244::/48). */
export const packet = (src: string, dst: string, proto: Proto, dport: number, extra: Partial<Packet> = {}): Packet => ({
  src,
  dst,
  proto,
  dport,
  established: false,
  in: src.startsWith('10.244.') || src.startsWith('fd00:10:244:') ? BRIDGE : 'eth0',
  out: dst.startsWith('10.244.') || dst.startsWith('fd00:10:244:') ? BRIDGE : 'eth0',
  ...extra,
});

