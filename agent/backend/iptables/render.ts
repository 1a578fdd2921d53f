/**
 * NodeState -> weft's iptables chains, the fallback backend's rendering of the same state as
 * backend/nftables/render.ts: the masquerade of pod traffic leaving the cluster. (The node's
 * pod addresses need no chain of their own: they only matter once NetworkPolicy rules match
 * on them.)
 */
import net from 'node:net';
import type { IpFamily, IptablesTableName } from '../../../kernel/iptables';
import type { NodeState } from '../../dataplane/node-state';

export interface DesiredIptablesChain {
  table: IptablesTableName;
  /** e.g. WEFT-FORWARD */
  name: string;
  /** The built-in chain of `table` that jumps to it. */
  hook: 'FORWARD' | 'INPUT' | 'OUTPUT' | 'POSTROUTING';
  /** Each rule's words after `-A CHAIN`, comment included, as iptables-save prints them. */
  rules: string[][];
}

/** The chain prefix for a table name: 'weft' -> 'WEFT' (chains 'WEFT-FORWARD', ...). */
export function chainPrefix(tableName: string): string {
  return tableName.toUpperCase();
}

export function renderIptablesChains(state: NodeState, family: IpFamily, prefix: string): DesiredIptablesChain[] {
  const version = family === 'ipv4' ? 4 : 6;
  const chains: DesiredIptablesChain[] = [];
  const m = state.masquerade;
  const sources = m?.sources.filter((c) => net.isIP(c.split('/')[0]) === version) ?? [];
  if (m && sources.length > 0) {
    // iptables matches one destination range per rule: the exceptions RETURN first.
    const except = m.exceptDestinations.filter((c) => net.isIP(c.split('/')[0]) === version);
    chains.push({
      table: 'nat',
      name: `${prefix}-POSTROUTING`,
      hook: 'POSTROUTING',
      rules: [
        ...except.map((c) => ['-d', c, '-m', 'comment', '--comment', 'cluster destination: no masquerade', '-j', 'RETURN']),
        ...sources.map((c) => ['-s', c, '-m', 'comment', '--comment', 'pods to outside the cluster', '-j', 'MASQUERADE']),
      ],
    });
  }
  return chains;
}
