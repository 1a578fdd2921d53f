/**
 * Applies IptablesTransactions with iptables-restore and reads tables back with iptables-save,
 * inside a network namespace when given one.
 *
 * Atomicity: each table's block (from `*table` to COMMIT) is applied all or nothing, by both
 * backends. Tables are committed one after another, though, so when a later table fails the
 * earlier ones stay applied (callers that need all-or-nothing across tables run one
 * transaction per table, or converge on the next sync).
 */
import { execTool, systemBinary } from '../exec';
import { IptablesError, IptablesValidationError, restoreError } from './errors';
import { parseIptablesSave } from './parse-save';
import { checkFamily, checkTable } from './syntax';
import type { CurrentState, IptablesTransaction } from './transaction';
import type { IpFamily, IptablesBinary, IptablesTableName, SavedTable } from './types';

export interface Iptables {
  readonly family: IpFamily;
  /**
   * Applies the transaction; throws IptablesError when iptables-restore refuses it. `known`:
   * tables as the caller already knows them, which its jumps and deletions are reconciled
   * against instead of an iptables-save (tables not in it are read).
   */
  run(tx: IptablesTransaction, known?: CurrentState): Promise<void>;
  /**
   * Parses the transaction without committing it (`iptables-restore --test`). The nft backend
   * checks syntax and options only; the legacy one also resolves targets such as jump chains.
   */
  check(tx: IptablesTransaction): Promise<void>;
  /** One table's chains and rules, with counters. */
  save(table: IptablesTableName): Promise<SavedTable>;
}

export interface IptablesCliOptions {
  family: IpFamily;
  /** Network namespace path; the current namespace when absent. */
  netns?: string;
  /** 'iptables' (Debian: the nft backend), 'iptables-nft' or 'iptables-legacy'. */
  binary?: IptablesBinary;
  /** How long to wait for the xtables lock (`-w`), in seconds; 5 by default. */
  waitSeconds?: number;
  timeoutMs?: number;
}

/** The restore and save programs for a family and build: ip6tables-legacy-restore, ... */
export function iptablesPrograms(family: IpFamily, binary: IptablesBinary = 'iptables'): { restore: string; save: string } {
  if (!['iptables', 'iptables-nft', 'iptables-legacy'].includes(binary)) {
    throw new IptablesValidationError(`invalid iptables binary ${JSON.stringify(binary)}`);
  }
  const base = checkFamily(family) === 'ipv6' ? binary.replace(/^iptables/, 'ip6tables') : binary;
  return { restore: `${base}-restore`, save: `${base}-save` };
}

export class IptablesCli implements Iptables {
  readonly family: IpFamily;
  private readonly programs: { restore: string; save: string };

  constructor(private readonly options: IptablesCliOptions) {
    this.family = checkFamily(options.family);
    this.programs = iptablesPrograms(options.family, options.binary);
  }

  async run(tx: IptablesTransaction, known?: CurrentState): Promise<void> {
    await this.restore(tx, [], known);
  }

  async check(tx: IptablesTransaction): Promise<void> {
    await this.restore(tx, ['--test']);
  }

  async save(table: IptablesTableName): Promise<SavedTable> {
    checkTable(table);
    const result = await execTool(systemBinary(this.programs.save), ['-c', '-t', table], {
      netns: this.options.netns,
      timeoutMs: this.options.timeoutMs,
    });
    if (result.code !== 0) {
      throw new IptablesError(`${this.programs.save} -t ${table} failed: ${result.stderr.trim()}`, {
        stderr: result.stderr,
        exitCode: result.code,
      });
    }
    return parseIptablesSave(result.stdout).find((t) => t.table === table) ?? { table, chains: [], rules: [] };
  }

  /** Reads what the transaction's jumps and deletions depend on, renders, and restores. */
  private async restore(tx: IptablesTransaction, extra: string[], known: CurrentState = {}): Promise<void> {
    if (tx.family !== this.family) {
      throw new IptablesValidationError(`an ${tx.family} transaction cannot run on ${this.programs.restore}`);
    }
    if (tx.isEmpty) return;
    const tables = tx.tablesNeedingState().filter((t) => known[t] === undefined);
    const saved = await Promise.all(tables.map((t) => this.save(t)));
    const current: CurrentState = { ...known };
    for (const s of saved) current[s.table] = s;
    const input = tx.render(current);
    const wait = String(this.options.waitSeconds ?? 5);
    const result = await execTool(systemBinary(this.programs.restore), ['-w', wait, '--noflush', ...extra], {
      netns: this.options.netns,
      input,
      timeoutMs: this.options.timeoutMs,
    });
    if (result.code !== 0) throw restoreError(this.programs.restore, input, result.stderr, result.code);
  }
}
