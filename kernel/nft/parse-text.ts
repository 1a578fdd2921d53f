/**
 * Parses the text listing `nft -a list table FAMILY NAME` for what nft's JSON output lacks: the
 * rules as nft syntax (with handles, comments and counters) and table and chain comments.
 *
 * nft prints one rule a line, ending in "# handle N", inside "chain NAME {" blocks; set, map and
 * other blocks are skipped (their contents come from JSON).
 */
import type { Counter, RuleInfo } from './types';

export interface TextListing {
  tableComment?: string;
  chainComments: Map<string, string>;
  /** Chains in listed order, each with its rules in order. */
  rules: RuleInfo[];
}

/** Splits a line at its first '#' outside a quoted string: [code, comment]. */
function splitHash(line: string): [string, string] {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === '#' && !quoted) return [line.slice(0, i), line.slice(i + 1)];
  }
  return [line, ''];
}

/** Net '{' minus '}' outside quoted strings. */
function braceDelta(code: string): number {
  let quoted = false;
  let delta = 0;
  for (const ch of code) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '{') delta++;
    else if (!quoted && ch === '}') delta--;
  }
  return delta;
}

const COMMENT_LINE = /^comment "([^"]*)"$/;
const CHAIN_HEADER = /^chain (\S+) \{$/;
const HANDLE = /^\s*handle (\d+)\s*$/;
const TRAILING_COMMENT = / comment "([^"]*)"$/;
const COUNTER = /\bcounter packets (\d+) bytes (\d+)/g;

/** Takes counter values out of a rule's text, leaving the bare statement 'counter'. */
export function extractCounter(rule: string): { rule: string; counter?: Counter } {
  let counter: Counter | undefined;
  const text = rule.replace(COUNTER, (_m, packets: string, bytes: string) => {
    counter ??= { packets: Number(packets), bytes: Number(bytes) };
    return 'counter';
  });
  return counter === undefined ? { rule: text } : { rule: text, counter };
}

export function parseNftText(text: string): TextListing {
  const out: TextListing = { chainComments: new Map(), rules: [] };
  let depth = 0;
  let chain: string | undefined;
  for (const raw of text.split('\n')) {
    const [codePart, hashPart] = splitHash(raw);
    const code = codePart.trim();
    const before = depth;
    depth += braceDelta(code);
    if (code.length === 0) continue;

    if (before === 1) {
      // Every line at table level either opens a block (a chain, or a set to skip) or is not in one.
      chain = CHAIN_HEADER.exec(code)?.[1];
      const comment = COMMENT_LINE.exec(code);
      if (comment) out.tableComment = comment[1];
    } else if (before === 2 && chain !== undefined) {
      const comment = COMMENT_LINE.exec(code);
      const handle = HANDLE.exec(hashPart);
      if (handle) {
        let body = code;
        const rule: RuleInfo = { chain, handle: Number(handle[1]), rule: '' };
        const trailing = TRAILING_COMMENT.exec(body);
        if (trailing) {
          rule.comment = trailing[1];
          body = body.slice(0, trailing.index);
        }
        const { rule: ruleText, counter } = extractCounter(body);
        rule.rule = ruleText;
        if (counter) rule.counter = counter;
        out.rules.push(rule);
      } else if (comment) {
        out.chainComments.set(chain, comment[1]);
      }
    }
  }
  return out;
}
