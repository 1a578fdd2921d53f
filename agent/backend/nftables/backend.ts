/**
 * The nftables backend: weft's rules live in one table (`inet weft` by default) and nowhere
 * else. Each apply reads the table back and runs only the difference, in one `nft -f`
 * transaction; on an agent restart that means the previous agent's rules are adopted as they
 * are, and a table that already matches is not written at all.
 */
import type { Nft, TableRef } from '../../../kernel/nft';
import type { ApplyOutcome, DataPlaneBackend, NodeState } from '../../dataplane/node-state';
import { countRules, diffTable } from './diff';
import { renderNodeTable } from './render';

export class NftablesBackend implements DataPlaneBackend {
  readonly name = 'nftables';
  readonly location: string;
  private readonly table: TableRef;

  constructor(
    private readonly nft: Nft,
    tableName: string,
  ) {
    this.table = { family: 'inet', name: tableName };
    this.location = `inet ${tableName}`;
  }

  async apply(state: NodeState): Promise<ApplyOutcome> {
    const desired = renderNodeTable(state);
    const current = await this.nft.listObjects(this.table);
    const tx = diffTable(this.table, desired, current);
    if (tx.size > 0) await this.nft.run(tx);
    return { changes: tx.size, rules: countRules(desired) };
  }
}
