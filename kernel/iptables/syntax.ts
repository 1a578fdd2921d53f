/**
 * Words of iptables-restore input: splitting a rule into words, quoting words back, and the
 * checks that keep a rule on its line.
 *
 * iptables-restore reads one command a line, so a newline in a rule would start a command weft
 * did not mean to write (a `-F`, a premature COMMIT); control characters are refused. Inside
 * double quotes it takes backslash escapes, which is how a comment may contain '"' or spaces.
 */
import { IptablesValidationError } from './errors';
import type { IpFamily, IptablesTableName, RuleArgs } from './types';

export const TABLES: readonly IptablesTableName[] = ['filter', 'nat', 'mangle', 'raw'];

/** Built-in chains of each table, which weft never declares (declaring would flush them). */
export const BUILTIN_CHAINS: Record<IptablesTableName, readonly string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
};

/** XT_EXTENSION_MAXNAMELEN (29) minus the terminating NUL. */
export const MAX_CHAIN_NAME = 28;
/** The comment match's limit (XT_MAX_COMMENT_LEN 256, with its NUL). */
export const MAX_COMMENT_BYTES = 255;

const CONTROL = /[\x00-\x1f\x7f]/;
const CHAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:@+-]*$/;
const BARE_WORD = /^[A-Za-z0-9_.:/,!+=@%^~[\]-]+$/;

function fail(message: string): never {
  throw new IptablesValidationError(message);
}

export function checkFamily(family: unknown): IpFamily {
  if (family !== 'ipv4' && family !== 'ipv6') fail(`invalid family ${JSON.stringify(family)}: expected ipv4 or ipv6`);
  return family;
}

export function checkTable(table: unknown): IptablesTableName {
  if (typeof table !== 'string' || !(TABLES as readonly string[]).includes(table)) {
    fail(`invalid table ${JSON.stringify(table)}: expected one of ${TABLES.join(', ')}`);
  }
  return table as IptablesTableName;
}

export function checkChainName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_CHAIN_NAME || !CHAIN_NAME.test(name)) {
    fail(`invalid chain name ${JSON.stringify(name)}: 1-${MAX_CHAIN_NAME} letters, digits or _ . : @ + -, not starting with - . : @ +`);
  }
  return name;
}

export function isBuiltinChain(table: IptablesTableName, name: string): boolean {
  return BUILTIN_CHAINS[table].includes(name);
}

/**
 * Splits a rule into words the way iptables-restore does: whitespace separates words, double
 * quotes group them, and inside quotes a backslash escapes the next character.
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '\\' && i + 1 < text.length) word += text[++i];
      else if (ch === '"') quoted = false;
      else word += ch;
    } else if (ch === '"') {
      quoted = true;
      inWord = true;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quoted) fail(`unbalanced '"' in ${JSON.stringify(text)}`);
  if (inWord) words.push(word);
  return words;
}

/** One word as iptables-restore input: bare when safe, otherwise quoted with escapes. */
export function quoteWord(word: string): string {
  if (CONTROL.test(word)) fail(`invalid rule word ${JSON.stringify(word)}: control characters (newline, tab, ...) are not allowed`);
  if (BARE_WORD.test(word)) return word;
  return `"${word.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Rule arguments as words; a string is split like iptables-restore splits it. */
export function ruleWords(args: RuleArgs): string[] {
  if (typeof args === 'string') {
    if (CONTROL.test(args)) fail(`invalid rule ${JSON.stringify(args)}: control characters (newline, tab, ...) are not allowed`);
    return splitWords(args);
  }
  if (!Array.isArray(args) || args.some((w) => typeof w !== 'string')) fail(`invalid rule ${JSON.stringify(args)}`);
  return [...args];
}

export function checkComment(comment: unknown): string {
  if (typeof comment !== 'string') fail(`invalid comment ${JSON.stringify(comment)}`);
  if (CONTROL.test(comment)) fail(`invalid comment ${JSON.stringify(comment)}: control characters are not allowed`);
  const bytes = Buffer.byteLength(comment, 'utf8');
  if (bytes > MAX_COMMENT_BYTES) fail(`invalid comment ${JSON.stringify(comment)}: ${bytes} bytes, iptables allows ${MAX_COMMENT_BYTES}`);
  return comment;
}

/** Words as one line of restore input. */
export function renderWords(words: readonly string[]): string {
  return words.map(quoteWord).join(' ');
}

/**
 * Options of a rule grouped with their values ('-s 10.0.0.0/8', '! -i lo', '-m comment'),
 * sorted: two rules with the same groups do the same thing for weft's purposes even when
 * iptables-save prints their options in another order than they were written.
 */
export function optionGroups(words: readonly string[]): string[] {
  const groups: string[][] = [];
  let negate = false;
  for (const w of words) {
    if (w === '!') {
      negate = true;
      continue;
    }
    if (w.startsWith('-') && w.length > 1 && !/^-\d/.test(w)) {
      groups.push(negate ? ['!', w] : [w]);
    } else if (groups.length > 0) {
      const last = groups[groups.length - 1];
      if (negate) last.push('!');
      last.push(w);
    } else {
      groups.push(negate ? ['!', w] : [w]);
    }
    negate = false;
  }
  return groups.map((g) => JSON.stringify(g)).sort();
}
