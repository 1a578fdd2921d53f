/**
 * The nftables backend: weft's rules live in one table (`inet weft` by default) and nowhere
 * else. An apply runs only the difference, in one `nft -f` transaction. The first apply reads the
 * table back, so an agent restart adopts the previous agent's rules as they are, and a table
 * that already matches is not written at all. Later applies diff against what the last one
 * committed, kept in memory: at thousands of elements, reading the table back costs several
 * times what writing a change does. A failed apply, and the periodic resync (`fromKernel`),
 * read the kernel again.
 */
import type { Nft, Ruleset, TableObjects, TableRef } from '../../../kernel/nft';
import type { ApplyOptions, ApplyOutcome, DataPlaneBackend, NodeState } from '../../dataplane/node-state';
import { committedListing, countRules, diffTable } from './diff';
import type { CountedElement, DesiredTable } from './desired';
import type { PolicyCounter } from '../../dataplane/policy-state';
import { policyCounters } from './policy-counters';
import { renderNodeTable } from './render';

export class NftablesBackend implements DataPlaneBackend {
  readonly name = 'nftables';
  readonly location: string;
  private readonly table: TableRef;
  /** What the kernel holds since the last successful apply; undefined: read it back. */
  private committed?: { listing: TableObjects; desired: DesiredTable };
  /** The counted elements of the last applied state. */
  private counted: CountedElement[] = [];

  constructor(
    private readonly nft: Nft,
    tableName: string,
  ) {
    this.table = { family: 'inet', name: tableName };
    this.location = `inet ${tableName}`;
  }

  async apply(state: NodeState, options: ApplyOptions = {}): Promise<ApplyOutcome> {
    const desired = renderNodeTable(state);
    const committed = options.fromKernel ? undefined : this.committed;
    const tx = committed ? diffTable(this.table, desired, committed.listing, committed.desired) : diffTable(this.table, desired, await this.nft.listObjects(this.table));
    this.committed = undefined;
    if (tx.size > 0) await this.nft.run(tx);
    this.committed = { listing: committedListing(this.table, desired), desired };
    this.counted = desired.counted ?? [];
    return { changes: tx.size, rules: countRules(desired) };
  }

  /**
   * weft's table as the kernel has it now, for inspection (weftctl services, rules): chains,
   * sets and elements (one nft run), and with `rules` also each rule's text and counters.
   */
  async listKernel(rules = false): Promise<TableObjects | Ruleset | undefined> {
    return rules ? this.nft.listRuleset(this.table) : this.nft.listObjects(this.table);
  }

  /** Packets and bytes each policy allowed and dropped since its elements were written. */
  async policyCounters(): Promise<PolicyCounter[]> {
    return policyCounters(this.counted, await this.nft.listObjects(this.table));
  }
}
