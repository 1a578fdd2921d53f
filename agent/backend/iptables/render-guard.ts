/**
 * The pod bridge guard, as iptables chains and one set of local pod addresses per family: only
 * known pods send from the bridge, with their own addresses, and only known pods are sent to on
 * it (the same rules as the nftables backend's renderBridgeGuard).
 *
 * Sources are checked in the raw table's PREROUTING, before connection tracking, so a spoofed
 * packet leaves no conntrack entry behind. Destinations are checked in FORWARD (bridged pod to
 * pod traffic is seen there too, as `-i BRIDGE -o BRIDGE`, since the bridge calls iptables) and
 * OUTPUT, before anything else weft does, whatever the connection's state.
 */
import { canonicalElement } from '../../../kernel/ipset';
import type { LocalPod } from '../../dataplane/node-state';
import type { DesiredIpset, DesiredIptablesChain } from './desired';
import { familyOf, type Family, type IptablesNames } from './names';

const comment = (text: string) => ['-m', 'comment', '--comment', text];

/** Destinations on the bridge that are not pods' and still pass: multicast, broadcast, IPv6 link-local. */
const NON_POD_DESTINATIONS: Record<Family, string[]> = { 4: ['224.0.0.0/4', '255.255.255.255/32'], 6: ['ff00::/8', 'fe80::/10'] };

export interface GuardRendering {
  chains: DesiredIptablesChain[];
  /** Rules that open weft's FORWARD chain, before policy. */
  forward: string[][];
  /** Rules for weft's filter OUTPUT chain. */
  output: string[][];
  sets: DesiredIpset[];
}

export function localPodAddresses(pods: readonly LocalPod[], family: Family): string[] {
  const ipsetFamily = family === 4 ? 'inet' : 'inet6';
  const out = new Set<string>();
  for (const pod of pods) for (const ip of pod.ips) if (familyOf(ip) === family) out.add(canonicalElement('hash:ip', ipsetFamily, ip));
  return [...out];
}

export function renderBridgeGuard(bridge: string | undefined, pods: readonly LocalPod[], family: Family, names: IptablesNames): GuardRendering {
  if (!bridge) return { chains: [], forward: [], output: [], sets: [] };
  const podSet = names.fixedSet('pods', family);
  const sets: DesiredIpset[] = [{ name: podSet, type: 'hash:ip', family: family === 4 ? 'inet' : 'inet6', elements: localPodAddresses(pods, family), role: 'admit' }];
  const toPods = names.chain('TO-PODS');
  const sources: string[][] = [
    // Neighbour discovery and duplicate address detection come from link-local and unspecified addresses.
    ...(family === 6 ? ['fe80::/10', '::/128'].map((s) => ['-s', s, '-i', bridge, '-p', 'ipv6-icmp', ...comment('neighbour discovery from pods'), '-j', 'RETURN']) : []),
    ['-i', bridge, '-m', 'set', '!', '--match-set', podSet, 'src', ...comment('from the pod bridge, not from a known pod address'), '-j', 'DROP'],
  ];
  const destinations: string[][] = [
    ['-m', 'set', '--match-set', podSet, 'dst', '-j', 'RETURN'],
    ...NON_POD_DESTINATIONS[family].map((d) => ['-d', d, '-j', 'RETURN']),
    [...comment('to the pod bridge, not to a known pod address'), '-j', 'DROP'],
  ];
  const toBridge = ['-o', bridge, '-j', toPods];
  return {
    chains: [
      { table: 'raw', name: names.chain('PREROUTING'), hook: 'PREROUTING', rules: sources },
      { table: 'filter', name: toPods, rules: destinations },
    ],
    forward: [toBridge],
    output: [toBridge],
    sets,
  };
}
