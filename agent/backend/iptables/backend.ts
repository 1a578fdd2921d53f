/**
 * The iptables backend (for nodes where nftables cannot be used): weft's rules live only in
 * chains named PREFIX-* of the raw, filter and nat tables, plus one jump from each built-in
 * chain they hook into, and in ipsets named prefix-* (lower case). An apply writes only what
 * differs from what the kernel has: chains whose rules differ (iptables-restore --noflush
 * replaces a declared chain atomically, leaving the others alone, as kube-proxy's partial syncs
 * do) and set elements added or deleted one by one (diff-sets.ts orders them around the rules).
 * An unchanged state writes nothing, and a restart adopts what the previous agent left.
 *
 * What the kernel has is read (iptables-save, ipset save) on the first apply, after a failed one
 * and when asked (`fromKernel`, the periodic resync); otherwise it is what the last apply
 * committed, kept in memory: with services, the nat table holds tens of thousands of rules, and
 * reading them back (iptables-nft lists the whole ruleset for any table) costs far more than
 * writing a change.
 */
import { IptablesTransaction, optionGroups, quoteWord, type CurrentState, type IpFamily, type Iptables, type IptablesTableName, type SavedRule, type SavedTable } from '../../../kernel/iptables';
import { IpsetCli, IpsetError, IpsetTransaction, type Ipset, type SavedIpset } from '../../../kernel/ipset';
import type { ApplyOptions, ApplyOutcome, DataPlaneBackend, NodeState } from '../../dataplane/node-state';
import type { DesiredIpset, DesiredIptablesChain } from './desired';
import { committedSets, diffIpsets } from './diff-sets';
import { IptablesNames } from './names';
import { renderIptables } from './render';

/** Same words (a rule read from memory), or the same options in another order (as iptables-save prints them). */
const sameRule = (a: readonly string[], b: readonly string[]) =>
  (a.length === b.length && a.every((w, i) => w === b[i])) || JSON.stringify(optionGroups(a)) === JSON.stringify(optionGroups(b));

/** The tables weft writes in: those with chains desired, or with weft's chains left over. */
export const IPTABLES_TABLES: readonly IptablesTableName[] = ['raw', 'filter', 'nat'];

/** The transaction that makes the saved tables match `desired`; empty when they do. */
export function diffIptables(family: IpFamily, prefix: string, desired: DesiredIptablesChain[], savedTables: readonly SavedTable[]): IptablesTransaction {
  const tx = new IptablesTransaction(family);
  for (const saved of savedTables) diffTable(tx, prefix, desired.filter((c) => c.table === saved.table), saved);
  return tx;
}

function diffTable(tx: IptablesTransaction, prefix: string, desired: DesiredIptablesChain[], saved: SavedTable): void {
  const table = saved.table;
  // Indexed once: a table with services holds tens of thousands of rules in thousands of chains.
  const rulesOf = new Map<string, SavedRule[]>();
  for (const r of saved.rules) {
    const list = rulesOf.get(r.chain);
    if (list) list.push(r);
    else rulesOf.set(r.chain, [r]);
  }
  const existing = new Set(saved.chains.map((c) => c.name));
  for (const chain of desired) {
    const have = rulesOf.get(chain.name) ?? [];
    const upToDate = existing.has(chain.name) && have.length === chain.rules.length && chain.rules.every((words, i) => sameRule(words, have[i].args));
    if (!upToDate) {
      tx.chain(table, chain.name);
      for (const words of chain.rules) tx.rule(table, chain.name, words);
    }
    if (chain.hook === undefined) continue;
    const jumps = (rulesOf.get(chain.hook) ?? []).filter((r) => r.target === chain.name);
    if (jumps.length !== 1 || jumps[0].args.length !== 2) tx.ensureJump({ table, chain: chain.hook, target: chain.name });
  }
  const wanted = new Set(desired.map((c) => c.name));
  for (const c of saved.chains) {
    if (!c.builtin && c.name.startsWith(`${prefix}-`) && !wanted.has(c.name)) tx.deleteChain(table, c.name);
  }
}

const targetOf = (words: readonly string[]): string | undefined => {
  const i = words.findIndex((w) => w === '-j' || w === '-g');
  return i >= 0 ? words[i + 1] : undefined;
};

/**
 * The tables as iptables-save would list weft's part of them once `desired` is applied: its
 * chains and rules, and one plain jump from each hooked built-in chain.
 */
export function committedTables(desired: readonly DesiredIptablesChain[]): SavedTable[] {
  return IPTABLES_TABLES.map((table) => {
    const chains = desired.filter((c) => c.table === table);
    const rules: SavedRule[] = [];
    // The text only serves `-D` lines (a jump to a deleted chain): made when one is written.
    const rule = (chain: string, args: string[]): SavedRule => ({
      chain,
      args,
      target: targetOf(args),
      get text() {
        return args.map(quoteWord).join(' ');
      },
    });
    for (const c of chains) if (c.hook) rules.push(rule(c.hook, ['-j', c.name]));
    for (const c of chains) for (const words of c.rules) rules.push(rule(c.name, words));
    return { table, chains: chains.map((c) => ({ name: c.name, builtin: false })), rules };
  });
}

/** Operations in a transaction, for the "changes" figure: declared chains' rules, jumps, deletions. */
function countChanges(tx: IptablesTransaction): number {
  return tx.render().split('\n').filter((l) => /^(-[ADIX]|:)/.test(l)).length;
}

const IPSET_FAMILY: Record<IpFamily, DesiredIpset['family']> = { ipv4: 'inet', ipv6: 'inet6' };

/** How often a set still "in use" right after its last rule went is tried again, and the first wait. */
const DESTROY_ATTEMPTS = 5;
const DESTROY_WAIT_MS = 20;

export class IptablesBackend implements DataPlaneBackend {
  readonly name = 'iptables';
  readonly location: string;
  private readonly names: IptablesNames;
  /** weft's sets as the last successful apply left them; undefined: read them back. */
  private committed?: SavedIpset[];
  /** weft's chains per family as the last successful apply left them; undefined: read them back. */
  private committedChains?: Partial<Record<IpFamily, SavedTable[]>>;

  /**
   * `families`: one Iptables per family weft writes rules for. `ipset` runs in the same network
   * namespace as they do (the current one by default, as main.ts's IptablesCli do).
   */
  constructor(
    private readonly families: readonly Iptables[],
    private readonly prefix: string,
    private readonly ipset: Ipset = new IpsetCli(),
  ) {
    this.names = new IptablesNames(prefix);
    this.location = `raw,filter,nat ${prefix}-*, ipset ${this.names.setPrefix}-*`;
  }

  async apply(state: NodeState, options: ApplyOptions = {}): Promise<ApplyOutcome> {
    const desired = renderIptables(state, this.prefix);
    const families = new Set(this.families.map((f) => IPSET_FAMILY[f.family]));
    const sets = desired.sets.filter((s) => families.has(s.family));
    const saved = !options.fromKernel && this.committed ? this.committed : await this.savedSets(sets.length > 0);
    const committedChains = options.fromKernel ? undefined : this.committedChains;
    this.committed = undefined;
    this.committedChains = undefined;
    const next: Partial<Record<IpFamily, SavedTable[]>> = {};
    const plan = diffIpsets(sets, saved, this.names);
    let changes = 0;
    let rules = sets.reduce((n, s) => n + s.elements.length, 0);

    // Each family's rule transaction, before anything is written (reading a table back, when
    // needed, does not depend on the sets): without any, the set steps run as one.
    const ruleSteps = await Promise.all(
      this.families.map(async (ipt) => {
        const chains = desired.chains[ipt.family];
        const savedTables = committedChains?.[ipt.family] ?? (await Promise.all(IPTABLES_TABLES.map((t) => ipt.save(t))));
        return { ipt, chains, savedTables, tx: diffIptables(ipt.family, this.prefix, chains, savedTables) };
      }),
    );
    const ruleChanges = ruleSteps.filter((r) => !r.tx.isEmpty);
    if (ruleChanges.length === 0) {
      // Nothing between the two steps: one ipset restore runs them in the same order.
      changes += await this.runSets(plan.before.append(plan.after));
    } else {
      changes += await this.runSets(plan.before);
      // One restore per family, one after the other: iptables and ip6tables are separate tables.
      // (In parallel they take as long: with iptables-nft, a restore that replaces rules waits
      // for the kernel to release them, an RCU grace period of ~15 ms here, and the kernel runs
      // one commit at a time.)
      for (const { ipt, savedTables, tx } of ruleChanges) {
        // render() without state only counts the lines; run() renders again with the state.
        changes += countChanges(tx);
        const known: CurrentState = {};
        for (const t of savedTables) known[t.table] = t;
        await ipt.run(tx, known);
      }
      changes += await this.runSets(plan.after);
    }
    for (const { ipt, chains } of ruleSteps) {
      rules += chains.reduce((n, c) => n + c.rules.length, 0);
      next[ipt.family] = committedTables(chains);
    }
    changes += await this.destroySets(plan.destroy);
    this.committed = committedSets(sets, plan);
    this.committedChains = next;
    return { changes, rules };
  }

  /**
   * weft's chains (the tables it writes in, per family, rules with their counters) and sets as
   * the kernel has them now, for inspection (weftctl services, rules).
   */
  async listKernel(): Promise<{ names: IptablesNames; families: { family: IpFamily; tables: SavedTable[] }[]; sets: SavedIpset[] }> {
    const families = await Promise.all(this.families.map(async (ipt) => ({ family: ipt.family, tables: await Promise.all(IPTABLES_TABLES.map((t) => ipt.save(t))) })));
    return { names: this.names, families, sets: await this.savedSets(false) };
  }

  /**
   * weft's sets. When it wants none, a node without ipset (no binary, no kernel support) has
   * none to clean up either: that is not an error there.
   */
  private async savedSets(needed: boolean): Promise<SavedIpset[]> {
    try {
      return await this.ipset.save((name) => this.names.ownsSet(name));
    } catch (err) {
      if (needed) throw err;
      return [];
    }
  }

  private async runSets(tx: IpsetTransaction): Promise<number> {
    await this.ipset.run(tx);
    return tx.operations.length;
  }

  /**
   * Destroys sets no rule uses any more. A rule deleted by iptables-nft may release its set a
   * moment after iptables-restore returns, so "in use" is tried again a few times before it
   * counts as an error.
   */
  private async destroySets(names: readonly string[]): Promise<number> {
    if (names.length === 0) return 0;
    const tx = new IpsetTransaction();
    for (const n of names) tx.destroy(n);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ipset.run(tx);
        return names.length;
      } catch (err) {
        if (!(err instanceof IpsetError && err.inUse) || attempt >= DESTROY_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, DESTROY_WAIT_MS * 2 ** attempt));
      }
    }
  }
}
