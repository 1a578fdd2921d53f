/**
 * What weft-bridge needs of nftables on the host: read a table's chains and maps, and apply
 * transactions on several tables (masquerade is `inet`, the spoof check `bridge`) through ONE
 * `nft -f -`.
 *
 * nft starts are the largest cost of an ADD or DEL (~15 ms each here). nft sends its whole input
 * to the kernel as one batch, so the tables change all or nothing for the price of one start;
 * and a listing of chains and maps needs only the JSON form (element comments included), where
 * NftCli.listRuleset also runs the text listing for rules. Both would sit well in kernel/nft
 * (`NftCli.runAll`, a JSON-only listing), leaving the interface here.
 */
import { execTool, systemBinary } from '../../kernel/exec';
import { NftError, parseNftDiagnostics, type ChainInfo, type MapInfo, type TableRef, type Transaction } from '../../kernel/nft';
import { nftErrorFromOutput } from '../../kernel/nft/errors';
import { chainFromJson, parseNftJson, setFromJson } from '../../kernel/nft/parse-json';

/** The part of a table the plugin reads back (a kernel/nft Ruleset has it too). */
export interface TableListing {
  chains: ChainInfo[];
  maps: MapInfo[];
}

export interface NftBatch {
  /** A table's chains and maps (with elements), or undefined when there is no such table. */
  listTable(table: TableRef): Promise<TableListing | undefined>;
  /** Applies the transactions (in order) atomically; NftError naming the offending line otherwise. */
  runAll(transactions: readonly Transaction[]): Promise<void>;
}

/** The real `nft`, run in `netns` (the process's own namespace when absent). */
export function nftBatch(netns: string | undefined): NftBatch {
  const nft = systemBinary('nft');
  return {
    async listTable(table) {
      const args = ['-j', 'list', 'table', table.family, table.name];
      const result = await execTool(nft, args, { netns });
      if (result.code !== 0) {
        if (/No such file or directory/.test(result.stderr)) return undefined;
        throw new NftError(`nft ${args.join(' ')} failed: ${result.stderr.trim().split('\n')[0] ?? ''}`, {
          diagnostics: parseNftDiagnostics(result.stderr),
          stderr: result.stderr,
          exitCode: result.code,
        });
      }
      const objects = parseNftJson(result.stdout);
      return {
        chains: objects.filter((o) => o.kind === 'chain').map((o) => chainFromJson(o.body)),
        maps: objects.filter((o) => o.kind === 'map').map((o) => setFromJson(o.body)),
      };
    },
    async runAll(transactions) {
      const nonEmpty = transactions.filter((tx) => tx.size > 0);
      if (nonEmpty.length === 0) return;
      // Each transaction renders one line per operation, so line N of the input is operations[N-1].
      const input = nonEmpty.map((tx) => tx.render()).join('');
      const operations = nonEmpty.flatMap((tx) => tx.operations());
      const result = await execTool(nft, ['-f', '-'], { netns, input });
      if (result.code !== 0) throw nftErrorFromOutput(input, operations, result.stderr, result.code);
    },
  };
}
