/**
 * NodeState -> weft's iptables chains and ipsets, the fallback backend's rendering of the same
 * state as backend/nftables/render.ts: the pod bridge guard (render-guard.ts), NetworkPolicy
 * (render-policy.ts) and the masquerade of pod traffic leaving the cluster. A chain is hooked
 * in only while it has a job: each costs every packet that passes its hook.
 */
import net from 'node:net';
import type { IpFamily } from '../../../kernel/iptables';
import type { NodeState } from '../../dataplane/node-state';
import type { DesiredIpset, DesiredIptablesChain, IptablesRendering } from './desired';
import { IptablesNames, type Family } from './names';
import { renderBridgeGuard } from './render-guard';
import { renderPolicy } from './render-policy';

export type { DesiredIptablesChain, DesiredIpset, IptablesRendering } from './desired';

/** The chain prefix for a table name: 'weft' -> 'WEFT' (chains 'WEFT-FORWARD', ...; sets 'weft-...'). */
export function chainPrefix(tableName: string): string {
  return tableName.toUpperCase();
}

function masqueradeChain(state: NodeState, version: Family, prefix: string): DesiredIptablesChain[] {
  const m = state.masquerade;
  const sources = m?.sources.filter((c) => net.isIP(c.split('/')[0]) === version) ?? [];
  if (!m || sources.length === 0) return [];
  // iptables matches one destination range per rule: the exceptions RETURN first.
  const except = m.exceptDestinations.filter((c) => net.isIP(c.split('/')[0]) === version);
  return [
    {
      table: 'nat',
      name: `${prefix}-POSTROUTING`,
      hook: 'POSTROUTING',
      rules: [
        ...except.map((c) => ['-d', c, '-m', 'comment', '--comment', 'cluster destination: no masquerade', '-j', 'RETURN']),
        ...sources.map((c) => ['-s', c, '-m', 'comment', '--comment', 'pods to outside the cluster', '-j', 'MASQUERADE']),
      ],
    },
  ];
}

function renderFamily(state: NodeState, f: Family, names: IptablesNames): { chains: DesiredIptablesChain[]; sets: DesiredIpset[] } {
  const guard = renderBridgeGuard(state.podBridge, state.localPods, f, names);
  const policy = renderPolicy(state.policy, f, names);
  const forward = [...guard.forward, ...policy.forward];
  const chains: DesiredIptablesChain[] = [
    ...guard.chains,
    ...(forward.length > 0 ? [{ table: 'filter' as const, name: names.chain('FORWARD'), hook: 'FORWARD' as const, rules: forward }] : []),
    ...policy.chains,
    ...masqueradeChain(state, f, names.chainPrefix),
  ];
  return { chains, sets: [...guard.sets, ...policy.sets] };
}

/** Everything the iptables backend wants in the kernel for this state. */
export function renderIptables(state: NodeState, prefix: string): IptablesRendering {
  const names = new IptablesNames(prefix);
  const v4 = renderFamily(state, 4, names);
  const v6 = renderFamily(state, 6, names);
  return { chains: { ipv4: v4.chains, ipv6: v6.chains }, sets: [...v4.sets, ...v6.sets] };
}

/** The chains of one family (the sets they use come with renderIptables). */
export function renderIptablesChains(state: NodeState, family: IpFamily, prefix: string): DesiredIptablesChain[] {
  return renderIptables(state, prefix).chains[family];
}
