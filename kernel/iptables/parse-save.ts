/**
 * Parses `iptables-save [-c] [-t TABLE]` output into typed tables, chains and rules.
 *
 *   *filter
 *   :INPUT ACCEPT [0:0]
 *   :WEFT-FWD - [0:0]
 *   [12:3456] -A INPUT -m comment --comment "weft input" -j WEFT-FWD
 *   COMMIT
 */
import { splitWords } from './syntax';
import type { Counter, IptablesTableName, SavedRule, SavedTable } from './types';

const TABLE = /^\*(\S+)$/;
const CHAIN = /^:(\S+) (\S+)(?: \[(\d+):(\d+)\])?$/;
const RULE = /^(?:\[(\d+):(\d+)\] )?-A (\S+)(?: (.*))?$/;

function counter(packets: string | undefined, bytes: string | undefined): Counter | undefined {
  return packets !== undefined && bytes !== undefined ? { packets: Number(packets), bytes: Number(bytes) } : undefined;
}

/** The value following `option` in a rule's words. */
function optionValue(args: readonly string[], ...options: string[]): string | undefined {
  for (let i = 0; i < args.length - 1; i++) if (options.includes(args[i])) return args[i + 1];
  return undefined;
}

export function parseSavedRule(chain: string, text: string, c?: Counter): SavedRule {
  const args = splitWords(text);
  const rule: SavedRule = { chain, text, args };
  const target = optionValue(args, '-j', '--jump', '-g', '--goto');
  if (target !== undefined) rule.target = target;
  const comment = optionValue(args, '--comment');
  if (comment !== undefined) rule.comment = comment;
  if (c) rule.counter = c;
  return rule;
}

/** Every table in the output, in order. */
export function parseIptablesSave(text: string): SavedTable[] {
  const tables: SavedTable[] = [];
  let current: SavedTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith('#')) continue;
    const t = TABLE.exec(line);
    if (t) {
      current = { table: t[1] as IptablesTableName, chains: [], rules: [] };
      tables.push(current);
      continue;
    }
    if (!current) continue;
    if (line === 'COMMIT') {
      current = undefined;
      continue;
    }
    const ch = CHAIN.exec(line);
    if (ch) {
      const builtin = ch[2] !== '-';
      current.chains.push({
        name: ch[1],
        builtin,
        ...(builtin ? { policy: ch[2] } : {}),
        ...(ch[3] !== undefined ? { counter: counter(ch[3], ch[4]) } : {}),
      });
      continue;
    }
    const r = RULE.exec(line);
    if (r) current.rules.push(parseSavedRule(r[3], r[4] ?? '', counter(r[1], r[2])));
  }
  return tables;
}
