/**
 * A balanced binary search over local pod addresses, as iptables chains: what leads a packet to
 * the chain of its local address where no set can (render-policy.ts and render-cluster-policy.ts
 * say when). Each inner node splits its addresses in two with one `-m iprange` rule; each leaf
 * tests up to TREE_LEAF_SIZE addresses one by one. A packet passes about log2(n / TREE_LEAF_SIZE)
 * nodes plus one leaf: it grows with the number of local addresses that need a chain (at most
 * the pods on this node), not with policies, namespaces or the cluster.
 *
 * Nodes are entered with -g (goto), so that whatever the address's chain returns goes back past
 * the chain that entered the tree.
 */
import type { DesiredIptablesChain } from './desired';
import type { Family } from './names';

/** Local addresses a search tree leaf tests one by one. */
export const TREE_LEAF_SIZE = 4;

export interface TreeEntry {
  /** The local address, as a set element (canonical). */
  local: string;
  /** Its numeric value: entries are sorted by it. */
  value: bigint;
  /** The chain the address leads to. */
  chain: string;
}

export interface SearchTreeOptions {
  /** Where the local address is in the packet: the source for egress, the destination for ingress. */
  local: 'src' | 'dst';
  family: Family;
  /** The name of the node covering first..last (stable while it covers the same addresses). */
  nodeName: (first: string, last: string) => string;
  /** The rule ending each leaf: for an address in no leaf (unreachable when the tree is entered right). */
  otherwise: string[];
}

export const byValue = (a: { value: bigint }, b: { value: bigint }): number => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);

/** The tree's chains, leaves before their parents; the root is the last one. */
export function searchTree(entries: readonly TreeEntry[], options: SearchTreeOptions): DesiredIptablesChain[] {
  const sorted = [...entries].sort(byValue);
  const chains: DesiredIptablesChain[] = [];
  const node = (first: number, last: number): string => {
    const name = options.nodeName(sorted[first].local, sorted[last].local);
    const rules: string[][] = [];
    if (last - first + 1 <= TREE_LEAF_SIZE) {
      for (let i = first; i <= last; i++) rules.push([options.local === 'src' ? '-s' : '-d', `${sorted[i].local}/${options.family === 4 ? 32 : 128}`, '-g', sorted[i].chain]);
      rules.push(options.otherwise);
    } else {
      const mid = (first + last) >> 1;
      const left = node(first, mid);
      const right = node(mid + 1, last);
      rules.push(['-m', 'iprange', options.local === 'src' ? '--src-range' : '--dst-range', `${sorted[first].local}-${sorted[mid].local}`, '-g', left]);
      rules.push(['-g', right]);
    }
    chains.push({ table: 'filter', name, rules });
    return name;
  };
  if (sorted.length > 0) node(0, sorted.length - 1);
  return chains;
}
