/**
 * The nftables interface weft's backends program against, and its real implementation, which
 * runs the `nft` binary (inside a network namespace when given one).
 *
 * `FakeNft` (kernel/nft/fake.ts) implements the same interface in memory, so compilers and the
 * sync loop are tested without a kernel.
 */
import { execTool, systemBinary } from '../exec';
import { NftError, nftErrorFromOutput, parseNftDiagnostics } from './errors';
import { nftGeneration } from './generation';
import { chainFromJson, parseNftJson, ruleSummaryFromJson, setFromJson, tableFromJson } from './parse-json';
import { parseNftText } from './parse-text';
import { renderTableRef } from './render';
import type { Transaction } from './transaction';
import type { ChainInfo, MapInfo, RuleInfo, RuleSummary, Ruleset, SetInfo, TableRef } from './types';

/** What `list` returns for each kind. */
export interface ListKinds {
  chains: ChainInfo[];
  rules: RuleInfo[];
  sets: SetInfo[];
  maps: MapInfo[];
}

/**
 * A table's objects without rule texts: what the JSON listing alone gives (one nft run, not
 * two), with each rule's chain, handle and comment.
 */
export type TableObjects = Omit<Ruleset, 'rules'> & { ruleSummaries: RuleSummary[] };

export interface Nft {
  /** Applies the transaction atomically; throws NftError (nothing applied) when nft refuses it. */
  run(tx: Transaction): Promise<void>;
  /**
   * Applies several transactions, on any tables, as one atomic batch (one nft run): all or
   * nothing. Line N of the error is the N-th operation across them, in order.
   */
  runAll(transactions: readonly Transaction[]): Promise<void>;
  /** Asks nft whether the transaction would apply (`nft -c`), changing nothing. */
  check(tx: Transaction): Promise<void>;
  /** Tables of every family. */
  listTables(): Promise<TableRef[]>;
  /** One kind of object in a table; empty when the table does not exist. */
  list<K extends keyof ListKinds>(table: TableRef, kind: K): Promise<ListKinds[K]>;
  /** Everything in a table, or undefined when it does not exist. */
  listRuleset(table: TableRef): Promise<Ruleset | undefined>;
  /**
   * Chains, sets and maps (with elements and their comments) without rules, or undefined when
   * the table does not exist. Chain comments that only the text listing shows are absent.
   */
  listObjects(table: TableRef): Promise<TableObjects | undefined>;
  /**
   * The ruleset's generation (generation.ts): one more at every committed transaction of any
   * writer; undefined when it cannot be read.
   */
  generation(): Promise<number | undefined>;
}

/** Picks one kind out of a ruleset; shared by the real and the fake implementation. */
export function pickKind<K extends keyof ListKinds>(ruleset: Ruleset | undefined, kind: K): ListKinds[K] {
  if (!ruleset) return [] as unknown as ListKinds[K];
  const picked: ListKinds = { chains: ruleset.chains, rules: ruleset.rules, sets: ruleset.sets, maps: ruleset.maps };
  return picked[kind];
}

export interface NftCliOptions {
  /** Network namespace path to run nft in; the current one when absent. */
  netns?: string;
  /** The nft binary; 'nft' from the system directories by default (see systemBinary). */
  binary?: string;
  /** Per-invocation time limit; 30 s by default. */
  timeoutMs?: number;
}

/** Runs the real `nft`. */
export class NftCli implements Nft {
  constructor(private readonly options: NftCliOptions = {}) {}

  async run(tx: Transaction): Promise<void> {
    await this.apply([tx], ['-f', '-']);
  }

  async runAll(transactions: readonly Transaction[]): Promise<void> {
    await this.apply(transactions, ['-f', '-']);
  }

  async check(tx: Transaction): Promise<void> {
    await this.apply([tx], ['-c', '-f', '-']);
  }

  async listTables(): Promise<TableRef[]> {
    const stdout = await this.read(['-j', 'list', 'tables']);
    return parseNftJson(stdout)
      .filter((o) => o.kind === 'table')
      .map((o) => {
        const t = tableFromJson(o.body);
        return { family: t.family, name: t.name };
      });
  }

  async list<K extends keyof ListKinds>(table: TableRef, kind: K): Promise<ListKinds[K]> {
    return pickKind(await this.listRuleset(table), kind);
  }

  async listRuleset(table: TableRef): Promise<Ruleset | undefined> {
    // JSON for structure and elements, text for rules and comments (see parse-json.ts).
    const [objects, text] = await Promise.all([this.listObjects(table), this.read(['-a', 'list', 'table', ...renderTableRef(table).split(' ')], true)]);
    if (objects === undefined || text === undefined) return undefined;
    const listing = parseNftText(text);
    if (objects.table.comment === undefined && listing.tableComment !== undefined) objects.table.comment = listing.tableComment;
    for (const chain of objects.chains) {
      const comment = listing.chainComments.get(chain.name);
      if (chain.comment === undefined && comment !== undefined) chain.comment = comment;
    }
    return { ...objects, rules: listing.rules };
  }

  async listObjects(table: TableRef): Promise<TableObjects | undefined> {
    const json = await this.read(['-j', 'list', 'table', ...renderTableRef(table).split(' ')], true);
    if (json === undefined) return undefined;
    const objects = parseNftJson(json);
    const tableObj = objects.find((o) => o.kind === 'table');
    if (!tableObj) return undefined;
    return {
      table: tableFromJson(tableObj.body),
      chains: objects.filter((o) => o.kind === 'chain').map((o) => chainFromJson(o.body)),
      sets: objects.filter((o) => o.kind === 'set').map((o) => setFromJson(o.body)),
      maps: objects.filter((o) => o.kind === 'map').map((o) => setFromJson(o.body)),
      ruleSummaries: objects.filter((o) => o.kind === 'rule').map((o) => ruleSummaryFromJson(o.body)),
    };
  }

  async generation(): Promise<number | undefined> {
    // Unreadable (an old kernel, no netlink access): callers then read the table back, as before.
    return nftGeneration(this.options.netns).catch(() => undefined);
  }

  private async apply(transactions: readonly Transaction[], args: string[]): Promise<void> {
    const nonEmpty = transactions.filter((tx) => tx.size > 0);
    if (nonEmpty.length === 0) return;
    // One line per operation in each transaction, so line N of the input is operation N-1.
    const input = nonEmpty.map((tx) => tx.render()).join('');
    const operations = nonEmpty.flatMap((tx) => tx.operations());
    const result = await execTool(this.binary, args, { netns: this.options.netns, input, timeoutMs: this.options.timeoutMs });
    if (result.code !== 0) throw nftErrorFromOutput(input, operations, result.stderr, result.code);
  }

  /** Runs a read-only nft command; with `missingOk`, "No such file or directory" gives undefined. */
  private async read(args: string[]): Promise<string>;
  private async read(args: string[], missingOk: true): Promise<string | undefined>;
  private async read(args: string[], missingOk = false): Promise<string | undefined> {
    const result = await execTool(this.binary, args, { netns: this.options.netns, timeoutMs: this.options.timeoutMs });
    if (result.code === 0) return result.stdout;
    if (missingOk && /No such file or directory/.test(result.stderr)) return undefined;
    throw new NftError(`nft ${args.join(' ')} failed: ${result.stderr.trim().split('\n')[0] ?? ''}`, {
      diagnostics: parseNftDiagnostics(result.stderr),
      stderr: result.stderr,
      exitCode: result.code,
    });
  }

  private get binary(): string {
    return systemBinary(this.options.binary ?? 'nft');
  }
}
