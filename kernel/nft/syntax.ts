/**
 * Checks and canonical forms for the pieces of nft syntax weft writes.
 *
 * Everything rendered into `nft -f` input passes through here, because the input is a script:
 * a ';' or a newline in a rule would start a new command ("... drop ; delete table inet weft"
 * runs both), and nft's quoted strings have no escapes, so a '"' in a comment cannot be written
 * at all. Such input is refused (NftValidationError) rather than silently altered.
 */
import { NftValidationError } from './errors';
import type { ChainHook, ChainPolicy, ChainPriority, ChainType, Family, SetFlag } from './types';

export const FAMILIES: readonly Family[] = ['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev'];
export const CHAIN_TYPES: readonly ChainType[] = ['filter', 'nat', 'route'];
export const CHAIN_HOOKS: readonly ChainHook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress', 'egress'];
export const CHAIN_POLICIES: readonly ChainPolicy[] = ['accept', 'drop'];
export const SET_FLAGS: readonly SetFlag[] = ['constant', 'interval', 'timeout', 'dynamic'];

/** nft limits comments (NFTNL_UDATA_COMMENT_MAXLEN) to 128 bytes. */
export const MAX_COMMENT_BYTES = 128;
/** NFT_NAME_MAXLEN is 256 including the terminating NUL. */
export const MAX_NAME_LENGTH = 255;

// What nft's scanner takes as an unquoted identifier; nft does not accept quoted names here.
const NAME = /^[A-Za-z_.][A-Za-z0-9_./-]*$/;
const CONTROL = /[\x00-\x1f\x7f]/;

function fail(message: string): never {
  throw new NftValidationError(message);
}

function oneOf<T extends string>(what: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(`invalid ${what} ${JSON.stringify(value)}: expected one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function checkFamily(family: unknown): Family {
  return oneOf('family', family, FAMILIES);
}
export function checkChainType(type: unknown): ChainType {
  return oneOf('chain type', type, CHAIN_TYPES);
}
export function checkHook(hook: unknown): ChainHook {
  return oneOf('chain hook', hook, CHAIN_HOOKS);
}
export function checkPolicy(policy: unknown): ChainPolicy {
  return oneOf('chain policy', policy, CHAIN_POLICIES);
}

/** A table, chain, set or map name. */
export function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    fail(`invalid ${what} name ${JSON.stringify(name)}: letters, digits, '_', '.', '/', '-' only, not starting with a digit or '-'`);
  }
  return name;
}

/** A comment, returned quoted for nft. */
export function quoteComment(comment: unknown): string {
  if (typeof comment !== 'string') fail(`invalid comment ${JSON.stringify(comment)}: not a string`);
  if (comment.includes('"')) fail(`invalid comment ${JSON.stringify(comment)}: nft strings cannot contain '"'`);
  if (CONTROL.test(comment)) fail(`invalid comment ${JSON.stringify(comment)}: control characters (newline, tab, ...) are not allowed`);
  const bytes = Buffer.byteLength(comment, 'utf8');
  if (bytes > MAX_COMMENT_BYTES) fail(`invalid comment ${JSON.stringify(comment)}: ${bytes} bytes, nft allows ${MAX_COMMENT_BYTES}`);
  return `"${comment}"`;
}

/** A non-negative integer (rule handle, index). */
export function checkIndex(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`invalid ${what} ${JSON.stringify(value)}`);
  return value;
}

/** A timeout in whole seconds, rendered as nft writes durations. */
export function renderSeconds(what: string, value: unknown): string {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail(`invalid ${what} ${JSON.stringify(value)}: a positive number of whole seconds`);
  }
  return `${value}s`;
}

/**
 * Rule text: one nft statement list. Quoted strings are left alone (interface names, log
 * prefixes); outside them ';' (a second command), '#' (a comment swallowing the rest) and any
 * control character are refused, and quotes must balance.
 */
export function checkRuleText(rule: unknown): string {
  if (typeof rule !== 'string' || rule.trim().length === 0) fail(`invalid rule ${JSON.stringify(rule)}: empty`);
  if (CONTROL.test(rule)) fail(`invalid rule ${JSON.stringify(rule)}: control characters (newline, tab, ...) are not allowed`);
  let quoted = false;
  for (const ch of rule) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === ';' || ch === '#')) fail(`invalid rule ${JSON.stringify(rule)}: '${ch}' outside a quoted string`);
  }
  if (quoted) fail(`invalid rule ${JSON.stringify(rule)}: unbalanced '"'`);
  return rule.trim();
}

// One word of an element: an address, prefix, range, number, symbol, or a quoted string.
const ATOM = /^(?:[A-Za-z0-9_.:/*+-]+|"[^"\x00-\x1f\x7f]*")$/;

/** Element key parts (one word each), joined into a concatenation. */
export function renderElementKey(key: unknown): string {
  if (!Array.isArray(key) || key.length === 0) fail(`invalid element key ${JSON.stringify(key)}: a non-empty list of parts`);
  return key
    .map((part: unknown) => {
      if (typeof part !== 'string' || !ATOM.test(part)) fail(`invalid element key part ${JSON.stringify(part)}`);
      return part;
    })
    .join(' . ');
}

/** Map value parts; a part may be several words, as verdicts are ('jump svc-1'). */
export function renderElementValue(value: unknown): string {
  if (!Array.isArray(value) || value.length === 0) fail(`invalid element value ${JSON.stringify(value)}: a non-empty list of parts`);
  return value
    .map((part: unknown) => {
      if (typeof part !== 'string' || part.length === 0 || !part.split(' ').every((w) => ATOM.test(w))) {
        fail(`invalid element value part ${JSON.stringify(part)}`);
      }
      return part;
    })
    .join(' . ');
}

const TYPE_ATOM = /^[a-z][a-z0-9_]*$/;

function renderConcatType(what: string, text: string): string {
  const atoms = text.split('.').map((a) => a.trim());
  for (const a of atoms) if (!TYPE_ATOM.test(a)) fail(`invalid ${what} ${JSON.stringify(text)}: bad data type ${JSON.stringify(a)}`);
  return atoms.join(' . ');
}

/** A set's data type, canonical: 'ipv4_addr . inet_service'. */
export function renderSetType(type: unknown): string {
  if (typeof type !== 'string') fail(`invalid set type ${JSON.stringify(type)}`);
  return renderConcatType('set type', type);
}

/** A map's 'KEY : VALUE' type, canonical: 'ipv4_addr . inet_service : verdict'. */
export function renderMapType(type: unknown): string {
  if (typeof type !== 'string') fail(`invalid map type ${JSON.stringify(type)}`);
  const sides = type.split(':');
  if (sides.length !== 2) fail(`invalid map type ${JSON.stringify(type)}: expected 'KEY : VALUE'`);
  return `${renderConcatType('map type', sides[0])} : ${renderConcatType('map type', sides[1])}`;
}

/** A map's 'KEY : VALUE' declared by expressions: rule-text words, one ':' between the sides. */
export function renderMapTypeof(expressions: unknown): string {
  if (typeof expressions !== 'string' || !/^[a-z0-9 ._]+ : [a-z0-9 ._]+$/.test(expressions)) fail(`invalid map typeof ${JSON.stringify(expressions)}: expected 'KEY EXPRESSIONS : VALUE EXPRESSIONS'`);
  return expressions;
}

export function renderSetFlags(flags: unknown): string {
  if (!Array.isArray(flags)) fail(`invalid set flags ${JSON.stringify(flags)}`);
  const seen = new Set<SetFlag>();
  for (const f of flags) seen.add(oneOf('set flag', f, SET_FLAGS));
  // Sorted and de-duplicated, so the same flags always render the same text.
  return [...seen].sort().join(',');
}

// Standard priorities (nft(8) "PRIORITY"), per family. Rendering numbers works with every nft
// version: older ones refuse some names in some hooks (e.g. dstnat in output).
const IP_PRIORITIES: Record<string, number> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };
const BRIDGE_PRIORITIES: Record<string, number> = { dstnat: -300, filter: -200, out: 100, srcnat: 300 };
const OTHER_PRIORITIES: Record<string, number> = { filter: 0 };
const NAMED_PRIORITY = /^([a-z]+)\s*(?:([+-])\s*(\d+))?$/;

/** A chain priority, always rendered as a number. */
export function renderPriority(family: Family, priority: ChainPriority): string {
  if (typeof priority === 'number') {
    if (!Number.isSafeInteger(priority)) fail(`invalid chain priority ${priority}`);
    return String(priority);
  }
  if (typeof priority !== 'string') fail(`invalid chain priority ${JSON.stringify(priority)}`);
  const trimmed = priority.trim();
  if (/^-?\d+$/.test(trimmed)) return String(Number(trimmed));
  const m = NAMED_PRIORITY.exec(trimmed);
  if (!m) fail(`invalid chain priority ${JSON.stringify(priority)}`);
  const table = family === 'bridge' ? BRIDGE_PRIORITIES : family === 'arp' || family === 'netdev' ? OTHER_PRIORITIES : IP_PRIORITIES;
  const base = table[m[1]];
  if (base === undefined) fail(`invalid chain priority ${JSON.stringify(priority)} for family ${family}`);
  const offset = m[2] === undefined ? 0 : (m[2] === '-' ? -1 : 1) * Number(m[3]);
  return String(base + offset);
}
