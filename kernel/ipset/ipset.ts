/**
 * Runs IpsetTransactions with `ipset -exist restore` and reads sets back with `ipset save`,
 * inside a network namespace when given one (sets belong to a network namespace, like rules).
 */
import { execTool, systemBinary } from '../exec';
import { IpsetError, restoreError } from './errors';
import { parseIpsetSave } from './parse-save';
import type { IpsetTransaction } from './transaction';
import type { SavedIpset } from './types';

export interface Ipset {
  /** Applies the transaction's commands in order; throws IpsetError at the first one refused (earlier ones stay applied). */
  run(tx: IpsetTransaction): Promise<void>;
  /** Every set of the namespace with its elements; `owned` keeps only the sets it accepts (the others are not parsed). */
  save(owned?: (name: string) => boolean): Promise<SavedIpset[]>;
}

export interface IpsetCliOptions {
  /** Network namespace path; the current namespace when absent. */
  netns?: string;
  /** The ipset program; found in the system directories by default. */
  binary?: string;
  timeoutMs?: number;
}

export class IpsetCli implements Ipset {
  constructor(private readonly options: IpsetCliOptions = {}) {}

  private get binary(): string {
    return systemBinary(this.options.binary ?? 'ipset');
  }

  async run(tx: IpsetTransaction): Promise<void> {
    if (tx.isEmpty) return;
    const input = tx.render();
    const result = await execTool(this.binary, ['-exist', 'restore'], { netns: this.options.netns, input, timeoutMs: this.options.timeoutMs });
    if (result.code !== 0) throw restoreError(input, result.stderr, result.code);
  }

  async save(owned?: (name: string) => boolean): Promise<SavedIpset[]> {
    const result = await execTool(this.binary, ['save'], { netns: this.options.netns, timeoutMs: this.options.timeoutMs });
    if (result.code !== 0) {
      throw new IpsetError(`ipset save failed: ${result.stderr.trim() || 'no message'}`, { stderr: result.stderr, exitCode: result.code });
    }
    const text = owned === undefined ? result.stdout : keepLines(result.stdout, owned);
    return parseIpsetSave(text);
  }

  /** `ipset --version`'s "v7.17" part. */
  async version(): Promise<string> {
    const result = await execTool(this.binary, ['--version'], { netns: this.options.netns, timeoutMs: this.options.timeoutMs });
    const m = /ipset (v[\d.]+)/.exec(result.stdout);
    if (result.code !== 0 || !m) throw new IpsetError(`ipset --version failed: ${result.stderr.trim()}`, { stderr: result.stderr, exitCode: result.code });
    return m[1];
  }
}

/** The lines of `ipset save` output about sets `owned` accepts (the name is always the second word). */
function keepLines(text: string, owned: (name: string) => boolean): string {
  return text
    .split('\n')
    .filter((line) => {
      const start = line.indexOf(' ') + 1;
      const end = line.indexOf(' ', start);
      return start > 0 && owned(line.slice(start, end < 0 ? undefined : end));
    })
    .join('\n');
}
