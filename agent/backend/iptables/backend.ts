/**
 * The iptables backend (for nodes where nftables cannot be used): weft's rules live only in
 * chains named PREFIX-* of the filter and nat tables, plus one jump from each built-in chain
 * they hook into. Each apply reads the table with iptables-save and writes only chains whose rules differ
 * (iptables-restore --noflush replaces a declared chain atomically), so an unchanged state
 * writes nothing and a restart adopts what the previous agent left.
 */
import { IptablesTransaction, optionGroups, type IpFamily, type Iptables, type IptablesTableName, type SavedTable } from '../../../kernel/iptables';
import type { ApplyOutcome, DataPlaneBackend, NodeState } from '../../dataplane/node-state';
import { renderIptablesChains, type DesiredIptablesChain } from './render';

const sameRule = (a: readonly string[], b: readonly string[]) => JSON.stringify(optionGroups(a)) === JSON.stringify(optionGroups(b));

/** The tables weft writes in: those with chains desired, or with weft's chains left over. */
export const IPTABLES_TABLES: readonly IptablesTableName[] = ['filter', 'nat'];

/** The transaction that makes the saved tables match `desired`; empty when they do. */
export function diffIptables(family: IpFamily, prefix: string, desired: DesiredIptablesChain[], savedTables: readonly SavedTable[]): IptablesTransaction {
  const tx = new IptablesTransaction(family);
  for (const saved of savedTables) diffTable(tx, prefix, desired.filter((c) => c.table === saved.table), saved);
  return tx;
}

function diffTable(tx: IptablesTransaction, prefix: string, desired: DesiredIptablesChain[], saved: SavedTable): void {
  const table = saved.table;
  for (const chain of desired) {
    const have = saved.rules.filter((r) => r.chain === chain.name);
    const exists = saved.chains.some((c) => c.name === chain.name);
    const upToDate = exists && have.length === chain.rules.length && chain.rules.every((words, i) => sameRule(words, have[i].args));
    if (!upToDate) {
      tx.chain(table, chain.name);
      for (const words of chain.rules) tx.rule(table, chain.name, words);
    }
    const jumps = saved.rules.filter((r) => r.chain === chain.hook && r.target === chain.name);
    if (jumps.length !== 1 || jumps[0].args.length !== 2) tx.ensureJump({ table, chain: chain.hook, target: chain.name });
  }
  const wanted = new Set(desired.map((c) => c.name));
  for (const c of saved.chains) {
    if (!c.builtin && c.name.startsWith(`${prefix}-`) && !wanted.has(c.name)) tx.deleteChain(table, c.name);
  }
}

/** Operations in a transaction, for the "changes" figure: declared chains' rules, jumps, deletions. */
function countChanges(tx: IptablesTransaction): number {
  return tx.render().split('\n').filter((l) => /^(-[ADIX]|:)/.test(l)).length;
}

export class IptablesBackend implements DataPlaneBackend {
  readonly name = 'iptables';
  readonly location: string;

  constructor(
    private readonly families: readonly Iptables[],
    private readonly prefix: string,
  ) {
    this.location = `filter,nat ${prefix}-*`;
  }

  async apply(state: NodeState): Promise<ApplyOutcome> {
    let changes = 0;
    let rules = 0;
    // One transaction per family: iptables and ip6tables are separate tables in the kernel.
    for (const ipt of this.families) {
      const desired = renderIptablesChains(state, ipt.family, this.prefix);
      rules += desired.reduce((n, c) => n + c.rules.length, 0);
      const saved = await Promise.all(IPTABLES_TABLES.map((t) => ipt.save(t)));
      const tx = diffIptables(ipt.family, this.prefix, desired, saved);
      if (tx.isEmpty) continue;
      // render() without state only counts the lines; run() renders again with the real state.
      changes += countChanges(tx);
      await ipt.run(tx);
    }
    return { changes, rules };
  }
}
