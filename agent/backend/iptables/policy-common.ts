/**
 * What the iptables renderings of NetworkPolicy (render-policy.ts) and of ClusterNetworkPolicy
 * tiers (render-cluster-policy.ts) share: the words of each direction, peer CIDRs as set
 * elements, port ranges, and the drop chain every denied packet of a direction goes through.
 */
import { canonicalElement, type IpsetFamily } from '../../../kernel/ipset';
import type { PortRange } from '../../dataplane/policy-state';
import { DROP_LOG_GROUP, DROP_LOG_RATE } from '../../drops/log-rules';
import type { DesiredIptablesChain } from './desired';
import { familyOf, type Direction, type Family, type IptablesNames } from './names';

/** Port ranges up to this many ports are expanded into set elements; wider ones get a rule. */
export const EXPANDED_RANGE_MAX = 16;

export const comment = (text: string): string[] => ['-m', 'comment', '--comment', text];
export const ipsetFamily = (f: Family): IpsetFamily => (f === 4 ? 'inet' : 'inet6');

export interface DirectionWords {
  noun: 'ingress' | 'egress';
  /** The peer, in words. */
  peer: string;
  /** Where the local pod's address is in the packet (its set flag), and the peer's. */
  local: 'src' | 'dst';
  peerFlag: 'src' | 'dst';
  /** The direction chain's name after the prefix. */
  chain: string;
}

export const WORDS: Record<Direction, DirectionWords> = {
  e: { noun: 'egress', peer: 'destination', local: 'src', peerFlag: 'dst', chain: 'EGRESS' },
  i: { noun: 'ingress', peer: 'source', local: 'dst', peerFlag: 'src', chain: 'INGRESS' },
};

/** Local addresses as hash:ip elements, kept: the same few hundred are rendered on every sync. */
const locals = new Map<string, string>();
const LOCALS_KEPT = 65536;

/** A local pod address as ipset prints it. */
export function canonicalLocal(address: string, f: Family): string {
  let out = locals.get(address);
  if (out === undefined) {
    out = canonicalElement('hash:ip', ipsetFamily(f), address);
    if (locals.size >= LOCALS_KEPT) locals.clear();
    locals.set(address, out);
  }
  return out;
}

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

export function checkRange(r: PortRange): void {
  if (!['tcp', 'udp', 'sctp'].includes(r.protocol) || !Number.isInteger(r.first) || !Number.isInteger(r.last) || r.first < 0 || r.first > r.last || r.last > 65535) {
    throw new Error(`invalid port range ${JSON.stringify(r)} in NodePolicy`);
  }
}

export const portCount = (r: PortRange): number => r.last - r.first + 1;
export const rangeText = (r: PortRange): string => `${r.protocol} ${r.first}-${r.last}`;
export const dportWords = (r: PortRange): string[] => ['-p', r.protocol, '-m', r.protocol, '--dport', `${r.first}:${r.last}`];

/** Where every packet NetworkPolicy denies in a direction goes: logged (rate-limited), then dropped. */
export const dropChainName = (names: IptablesNames, d: Direction): string => names.chain(`${WORDS[d].chain}-DROP`);

/**
 * A drop chain: the packet is logged to NFLOG with `prefix` (agent/drops/log-rules.ts: what
 * weftctl policy drops reads), rate-limited per rule so that a flood of denied packets cannot
 * flood the log, and dropped; `what` says why, in the rules' comments.
 */
export function dropChain(name: string, prefix: string, what: string): DesiredIptablesChain {
  return {
    table: 'filter',
    name,
    rules: [
      ['-m', 'limit', '--limit', `${DROP_LOG_RATE}/sec`, ...comment(`${what}: logged (at most ${DROP_LOG_RATE}/s)`), '-j', 'NFLOG', '--nflog-prefix', prefix, '--nflog-group', String(DROP_LOG_GROUP)],
      [...comment(what), '-j', 'DROP'],
    ],
  };
}
