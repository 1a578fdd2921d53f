/**
 * The nftables backend: weft's rules live in one table (`inet weft` by default) and nowhere
 * else. An apply runs only the difference, in one `nft -f` transaction. The first apply reads the
 * table back, so an agent restart adopts the previous agent's rules as they are, and a table
 * that already matches is not written at all. Later applies diff against what the last one
 * committed, kept in memory: at thousands of elements, reading the table back costs several
 * times what writing a change does. A failed apply reads the kernel again, and so does the
 * periodic resync (`fromKernel: 'if-changed'`) when the ruleset's generation moved since this
 * backend's last commit: some other writer committed since, and may have changed weft's table.
 * Unmoved, nothing was written, and nothing is read: at 1,000 policies (750,000 elements) the
 * read-back (`nft -j list`, 63 MB of JSON) took ~15 s here, 10 of them CPU, every minute.
 */
import type { Nft, Ruleset, TableObjects, TableRef } from '../../../kernel/nft';
import { nextGeneration } from '../../../kernel/nft/generation';
import type { ApplyOptions, ApplyOutcome, DataPlaneBackend, NodeState } from '../../dataplane/node-state';
import { committedListing, countRules, diffTable } from './diff';
import type { CountedElement, DesiredTable } from './desired';
import type { PolicyCounter } from '../../dataplane/policy-state';
import { policyCounters } from './policy-counters';
import { renderNodeTable } from './render';

interface Committed {
  listing: TableObjects;
  desired: DesiredTable;
  /** The ruleset's generation at which the kernel held exactly this, when known. */
  generation?: number;
}

export class NftablesBackend implements DataPlaneBackend {
  readonly name = 'nftables';
  readonly location: string;
  private readonly table: TableRef;
  /** What the kernel holds since the last successful apply; undefined: read it back. */
  private committed?: Committed;
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
    const base = await this.base(options);
    const tx = base.committed ? diffTable(this.table, desired, base.committed.listing, base.committed.desired) : diffTable(this.table, desired, base.listing);
    this.committed = undefined;
    let generation = base.generation;
    if (tx.size > 0) {
      await this.nft.run(tx);
      // Exactly one commit since the state the diff was made against, this one: nothing else wrote.
      const after = await this.nft.generation();
      generation = generation !== undefined && after === nextGeneration(generation) ? after : undefined;
    }
    this.committed = { listing: committedListing(this.table, desired), desired, generation };
    this.counted = desired.counted ?? [];
    return { changes: tx.size, rules: countRules(desired) };
  }

  /** What the diff starts from: the last commit when it can be trusted, else the table read back now. */
  private async base(options: ApplyOptions): Promise<{ committed?: Committed; listing?: TableObjects; generation?: number }> {
    const committed = this.committed;
    if (committed && (await this.holds(committed, options.fromKernel))) return { committed, generation: committed.generation };
    const before = await this.nft.generation();
    const listing = await this.nft.listObjects(this.table);
    // The listing is the kernel at `before` only if no commit came while it was read.
    const after = await this.nft.generation();
    return { listing, generation: before !== undefined && before === after ? before : undefined };
  }

  /** Whether the kernel may be taken to hold `committed` without reading it. */
  private async holds(committed: Committed, fromKernel: ApplyOptions['fromKernel']): Promise<boolean> {
    if (!fromKernel) return true;
    if (fromKernel !== 'if-changed' || committed.generation === undefined) return false;
    return (await this.nft.generation()) === committed.generation;
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
