/**
 * NodeState -> weft's iptables chains and ipsets, the fallback backend's rendering of the same
 * state as backend/nftables/render.ts: the pod bridge guard (render-guard.ts), NetworkPolicy and
 * the ClusterNetworkPolicy tiers around it (render-policy.ts, render-cluster-policy.ts), service
 * proxying (render-services.ts) and the masquerade of pod traffic leaving the cluster. A chain
 * is hooked in only while it has a job: each costs every packet that passes its hook.
 */
import net from 'node:net';
import type { IpFamily } from '../../../kernel/iptables';
import type { NodeState } from '../../dataplane/node-state';
import type { DesiredIpset, DesiredIptablesChain, IptablesRendering } from './desired';
import { IptablesNames, type Family } from './names';
import { renderBridgeGuard } from './render-guard';
import { renderPolicy } from './render-policy';
import { renderServices } from './render-services';

export type { DesiredIptablesChain, DesiredIpset, IptablesRendering } from './desired';

/** The chain prefix for a table name: 'weft' -> 'WEFT' (chains 'WEFT-FORWARD', ...; sets 'weft-...'). */
export function chainPrefix(tableName: string): string {
  return tableName.toUpperCase();
}

/** The masquerade of pod traffic leaving the cluster, for weft's nat POSTROUTING chain. */
function masqueradeRules(state: NodeState, version: Family): string[][] {
  const m = state.masquerade;
  const sources = m?.sources.filter((c) => net.isIP(c.split('/')[0]) === version) ?? [];
  if (!m || sources.length === 0) return [];
  // iptables matches one destination range per rule: the exceptions RETURN first.
  const except = m.exceptDestinations.filter((c) => net.isIP(c.split('/')[0]) === version);
  return [
    ...except.map((c) => ['-d', c, '-m', 'comment', '--comment', 'cluster destination: no masquerade', '-j', 'RETURN']),
    ...sources.map((c) => ['-s', c, '-m', 'comment', '--comment', 'pods to outside the cluster', '-j', 'MASQUERADE']),
  ];
}

type Hook = NonNullable<DesiredIptablesChain['hook']>;

/**
 * Names come from short hashes: refuse the (unlikely) collision rather than merge two objects.
 * Chains are per table, sets shared by both families.
 */
function checkUniqueNames(chains: readonly DesiredIptablesChain[], sets: readonly DesiredIpset[]): void {
  for (const names of [chains.map((c) => `${c.table} ${c.name}`), sets.map((s) => s.name)]) {
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) throw new Error(`two iptables objects would be named ${n.split(' ').pop()}`);
      seen.add(n);
    }
  }
}

/**
 * One chain per table and built-in chain, PREFIX-<BUILT-IN>, gathers what each part needs
 * there, in order; it exists (and is jumped to) only with rules in it.
 */
function renderFamily(state: NodeState, f: Family, names: IptablesNames): { chains: DesiredIptablesChain[]; sets: DesiredIpset[] } {
  const guard = renderBridgeGuard(state.podBridge, state.localPods, f, names);
  const policy = renderPolicy(state.policy, f, names);
  const services = renderServices(state.services, f, names);
  const hooked = (table: DesiredIptablesChain['table'], hook: Hook, rules: string[][]): DesiredIptablesChain[] =>
    rules.length > 0 ? [{ table, name: names.chain(hook), hook, rules }] : [];
  const chains: DesiredIptablesChain[] = [
    ...guard.chains,
    // New connections to services first, then pods reaching their own node (the egress tiers).
    ...hooked('filter', 'INPUT', [...services.filter, ...policy.input]),
    // The guard first, whatever the connection's state; then new connections to services, then policy.
    ...hooked('filter', 'FORWARD', [...guard.forward, ...services.filter, ...policy.forward]),
    ...hooked('filter', 'OUTPUT', [...services.filter, ...guard.output]),
    ...policy.chains,
    ...hooked('nat', 'PREROUTING', services.natPrerouting),
    ...hooked('nat', 'OUTPUT', services.natOutput),
    // Service traffic marked for masquerade first, then pods leaving the cluster.
    ...hooked('nat', 'POSTROUTING', [...services.natPostrouting, ...masqueradeRules(state, f)]),
    ...services.chains,
  ];
  const sets = [...guard.sets, ...policy.sets, ...services.sets];
  checkUniqueNames(chains, sets);
  return { chains, sets };
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
