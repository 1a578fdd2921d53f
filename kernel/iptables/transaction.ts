/**
 * An iptables-restore transaction for one family that owns some chains outright and keeps jump
 * rules into them present in chains it does not own.
 *
 * It is applied with `iptables-restore --noflush`: tables are not flushed, but every chain
 * declared in the input (`:NAME - [0:0]`) is created or flushed, so declaring a chain and
 * listing its rules replaces that chain's rules atomically, leaving every other chain alone.
 * Deleting a chain declares it too (emptying it) and then `-X`es it.
 *
 * Jumps from chains weft does not own (built-in FORWARD, ...) cannot be written by declaring the
 * chain, so they are reconciled against what the kernel has, read with iptables-save: `render`
 * takes that state and writes only the `-D` / `-I` lines needed, one restore for all of it
 * instead of one `iptables -C` exec per rule.
 */
import { IptablesValidationError } from './errors';
import {
  TABLES,
  checkChainName,
  checkComment,
  checkFamily,
  checkTable,
  isBuiltinChain,
  optionGroups,
  renderWords,
  ruleWords,
} from './syntax';
import type { IpFamily, IptablesTableName, JumpRule, RuleArgs, SavedTable } from './types';

interface NormalJump {
  chain: string;
  target: string;
  words: string[];
  position: 'first' | 'last';
}

interface TableOps {
  declared: Set<string>;
  rules: { chain: string; words: string[] }[];
  deleted: Set<string>;
  /** By 'chain target'; a later ensureJump for the same pair replaces an earlier one. */
  jumps: Map<string, NormalJump>;
  unjumps: Map<string, { chain: string; target: string }>;
}

/** The state `render` reconciles jumps against: iptables-save output per table. */
export type CurrentState = Partial<Record<IptablesTableName, SavedTable>>;

function fail(message: string): never {
  throw new IptablesValidationError(message);
}

function commentWords(comment: string | undefined): string[] {
  return comment === undefined ? [] : ['-m', 'comment', '--comment', checkComment(comment)];
}

function jumpTarget(words: readonly string[]): string | undefined {
  for (let i = 0; i < words.length - 1; i++) if (['-j', '--jump', '-g', '--goto'].includes(words[i])) return words[i + 1];
  return undefined;
}

export class IptablesTransaction {
  readonly family: IpFamily;
  private readonly tables = new Map<IptablesTableName, TableOps>();

  constructor(family: IpFamily) {
    this.family = checkFamily(family);
  }

  /**
   * Declares one of weft's chains: created if missing, emptied if present; its rules are then
   * exactly those added with `rule` in this transaction.
   */
  chain(table: IptablesTableName, name: string): this {
    const ops = this.ops(table);
    checkChainName(name);
    if (isBuiltinChain(table, name)) fail(`${name} is a built-in chain of ${table}: weft never declares (flushes) those`);
    if (ops.deleted.has(name)) fail(`chain ${name} is both declared and deleted in ${table}`);
    if (this.fromChainInUse(ops, name)) fail(`chain ${name} has jumps managed in this transaction; it cannot also be declared`);
    ops.declared.add(name);
    return this.commit(table, ops);
  }

  /** Appends a rule (arguments after `-A CHAIN`) to a chain declared in this transaction. */
  rule(table: IptablesTableName, chain: string, args: RuleArgs, comment?: string): this {
    const ops = this.ops(table);
    if (!ops.declared.has(chain)) fail(`chain ${JSON.stringify(chain)} is not declared in ${table}: rules go only into chains this transaction declares`);
    const words = [...commentWords(comment), ...ruleWords(args)];
    if (words.length === 0) fail(`empty rule for chain ${chain}`);
    renderWords(words);
    ops.rules.push({ chain, words });
    return this.commit(table, ops);
  }

  /** Deletes one of weft's chains, and any rule elsewhere that jumps to it. */
  deleteChain(table: IptablesTableName, name: string): this {
    const ops = this.ops(table);
    checkChainName(name);
    if (isBuiltinChain(table, name)) fail(`${name} is a built-in chain of ${table}`);
    if (ops.declared.has(name)) fail(`chain ${name} is both declared and deleted in ${table}`);
    ops.deleted.add(name);
    return this.commit(table, ops);
  }

  /** Keeps exactly one jump from `jump.chain` (not weft's) to `jump.target`. */
  ensureJump(jump: JumpRule): this {
    const ops = this.ops(jump.table);
    const chain = checkChainName(jump.chain);
    const target = checkChainName(jump.target);
    if (ops.declared.has(chain) || ops.deleted.has(chain)) fail(`chain ${chain} is declared or deleted here: write its jumps as ordinary rules`);
    const matches = jump.matches === undefined ? [] : ruleWords(jump.matches);
    if (jumpTarget(matches) !== undefined) fail(`jump matches ${JSON.stringify(jump.matches)} must not contain a target`);
    const words = [...matches, ...commentWords(jump.comment), '-j', target];
    renderWords(words);
    const position = jump.position ?? 'first';
    if (position !== 'first' && position !== 'last') fail(`invalid jump position ${JSON.stringify(position)}`);
    ops.unjumps.delete(`${chain} ${target}`);
    ops.jumps.set(`${chain} ${target}`, { chain, target, words, position });
    return this.commit(jump.table, ops);
  }

  /** Removes every rule in `chain` that jumps to `target` (none is fine). */
  removeJump(jump: { table: IptablesTableName; chain: string; target: string }): this {
    const ops = this.ops(jump.table);
    const chain = checkChainName(jump.chain);
    const target = checkChainName(jump.target);
    if (ops.declared.has(chain)) fail(`chain ${chain} is declared here: its rules are already replaced`);
    ops.jumps.delete(`${chain} ${target}`);
    ops.unjumps.set(`${chain} ${target}`, { chain, target });
    return this.commit(jump.table, ops);
  }

  get isEmpty(): boolean {
    return this.tables.size === 0;
  }

  /** Tables whose current rules `render` needs: those with jumps to keep or chains to delete. */
  tablesNeedingState(): IptablesTableName[] {
    return TABLES.filter((t) => {
      const ops = this.tables.get(t);
      return ops !== undefined && (ops.jumps.size > 0 || ops.unjumps.size > 0 || ops.deleted.size > 0);
    });
  }

  /**
   * The iptables-restore input. `current` is iptables-save's view of the tables listed by
   * `tablesNeedingState` (a missing table counts as having no rules, which suits a dry run but
   * not a real apply: `IptablesCli.run` always reads it).
   */
  render(current: CurrentState = {}): string {
    const out: string[] = [];
    for (const table of TABLES) {
      const ops = this.tables.get(table);
      if (!ops) continue;
      const rules = current[table]?.rules ?? [];
      for (const r of ops.rules) {
        const target = jumpTarget(r.words);
        if (target !== undefined && ops.deleted.has(target)) fail(`a rule in ${r.chain} jumps to ${target}, which this transaction deletes`);
      }

      const removals = new Set<number>();
      const additions: NormalJump[] = [];
      rules.forEach((r, i) => {
        if (r.target === undefined || ops.declared.has(r.chain) || ops.deleted.has(r.chain)) return;
        // Rules elsewhere that would keep a deleted chain in use.
        if (ops.deleted.has(r.target)) removals.add(i);
        if (ops.unjumps.has(`${r.chain} ${r.target}`)) removals.add(i);
      });
      for (const jump of ops.jumps.values()) {
        if (ops.deleted.has(jump.target)) fail(`a jump to ${jump.target} is kept while the chain is deleted`);
        const existing = rules.map((r, i) => [r, i] as const).filter(([r]) => r.chain === jump.chain && r.target === jump.target);
        const want = JSON.stringify(optionGroups(jump.words));
        if (existing.length === 1 && JSON.stringify(optionGroups(existing[0][0].args)) === want) continue;
        for (const [, i] of existing) removals.add(i);
        additions.push(jump);
      }

      out.push(`*${table}`);
      for (const name of ops.declared) out.push(`:${name} - [0:0]`);
      for (const name of ops.deleted) out.push(`:${name} - [0:0]`);
      for (const i of [...removals].sort((a, b) => a - b)) out.push(`-D ${rules[i].chain} ${rules[i].text}`);
      for (const r of ops.rules) out.push(`-A ${r.chain} ${renderWords(r.words)}`);
      for (const j of additions) out.push(`${j.position === 'first' ? `-I ${j.chain} 1` : `-A ${j.chain}`} ${renderWords(j.words)}`);
      for (const name of ops.deleted) out.push(`-X ${name}`);
      out.push('COMMIT');
    }
    return out.length === 0 ? '' : `${out.join('\n')}\n`;
  }

  /**
   * The operations of a table. A table seen for the first time is recorded only once the
   * operation on it has passed its checks (see `commit`), so a refused call leaves no trace.
   */
  private ops(table: IptablesTableName): TableOps {
    checkTable(table);
    return this.tables.get(table) ?? { declared: new Set(), rules: [], deleted: new Set(), jumps: new Map(), unjumps: new Map() };
  }

  private commit(table: IptablesTableName, ops: TableOps): this {
    this.tables.set(table, ops);
    return this;
  }

  private fromChainInUse(ops: TableOps, chain: string): boolean {
    return [...ops.jumps.values(), ...ops.unjumps.values()].some((j) => j.chain === chain);
  }
}
