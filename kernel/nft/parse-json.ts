/**
 * Parses `nft -j list ...` output (libnftables JSON schema 1) into typed objects.
 *
 * JSON gives the structure reliably (handles, base chain properties, set types, elements with
 * their comments, timeouts and counters) but, in nft 1.0.x, not table or chain comments and no
 * rule text (rules come as expression trees): those come from the text listing
 * (kernel/nft/parse-text.ts).
 */
import type { ChainHook, ChainInfo, ChainPolicy, ChainType, Counter, ElementInfo, Family, RuleSummary, SetInfo, TableInfo } from './types';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export class NftParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NftParseError';
  }
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: Json | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: Json | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** The objects of a listing, each as `{ kind, body }`, after checking the schema version. */
export function parseNftJson(text: string): { kind: string; body: JsonObject }[] {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (err) {
    throw new NftParseError(`nft -j output is not JSON: ${(err as Error).message}`);
  }
  const list = isObject(doc) ? doc.nftables : undefined;
  if (!Array.isArray(list)) throw new NftParseError('nft -j output has no "nftables" list');
  const out: { kind: string; body: JsonObject }[] = [];
  for (const item of list) {
    if (!isObject(item)) continue;
    for (const [kind, body] of Object.entries(item)) {
      if (kind === 'metainfo' && isObject(body)) {
        const version = num(body.json_schema_version);
        if (version !== undefined && version !== 1) throw new NftParseError(`unsupported nft JSON schema version ${version}`);
      } else if (isObject(body)) {
        out.push({ kind, body });
      }
    }
  }
  return out;
}

function counterOf(v: Json | undefined): Counter | undefined {
  if (!isObject(v)) return undefined;
  const packets = num(v.packets);
  const bytes = num(v.bytes);
  return packets !== undefined && bytes !== undefined ? { packets, bytes } : undefined;
}

const VERDICTS = ['accept', 'drop', 'continue', 'return', 'queue'];

/** One value of an element (or of a concatenation) in the text form nft's own syntax uses. */
function atom(v: Json): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (isObject(v)) {
    if (isObject(v.prefix)) return `${atom(v.prefix.addr ?? '')}/${atom(v.prefix.len ?? '')}`;
    if (Array.isArray(v.range) && v.range.length === 2) return `${atom(v.range[0])}-${atom(v.range[1])}`;
    for (const verdict of ['jump', 'goto']) {
      const target = v[verdict];
      if (isObject(target)) return `${verdict} ${atom(target.target ?? '')}`;
    }
    for (const verdict of VERDICTS) if (verdict in v) return verdict;
  }
  return JSON.stringify(v);
}

/** Parts of a key or value: a concatenation gives several. */
function parts(v: Json): string[] {
  if (isObject(v) && Array.isArray(v.concat)) return v.concat.map(atom);
  return [atom(v)];
}

/** A key as listed: bare, or wrapped in {elem: {val, comment, timeout, expires, counter}}. */
function keyInfo(v: Json): ElementInfo {
  if (isObject(v) && isObject(v.elem)) {
    const e = v.elem;
    const info: ElementInfo = { key: parts(e.val ?? null) };
    const comment = str(e.comment);
    if (comment !== undefined) info.comment = comment;
    const timeout = num(e.timeout);
    if (timeout !== undefined) info.timeout = timeout;
    const expires = num(e.expires);
    if (expires !== undefined) info.expires = expires;
    const counter = counterOf(e.counter);
    if (counter !== undefined) info.counter = counter;
    return info;
  }
  return { key: parts(v) };
}

function typeText(v: Json | undefined): string {
  if (Array.isArray(v)) return v.map((x) => atom(x)).join(' . ');
  return v === undefined ? '' : atom(v);
}

export function tableFromJson(body: JsonObject): TableInfo {
  const info: TableInfo = { family: str(body.family) as Family, name: str(body.name) ?? '', handle: num(body.handle) ?? 0 };
  const comment = str(body.comment);
  if (comment !== undefined) info.comment = comment;
  return info;
}

export function chainFromJson(body: JsonObject): ChainInfo {
  const info: ChainInfo = { name: str(body.name) ?? '', handle: num(body.handle) ?? 0 };
  const type = str(body.type);
  if (type !== undefined) info.type = type as ChainType;
  const hook = str(body.hook);
  if (hook !== undefined) info.hook = hook as ChainHook;
  const prio = num(body.prio);
  if (prio !== undefined) info.priority = prio;
  const policy = str(body.policy);
  if (policy !== undefined) info.policy = policy as ChainPolicy;
  const comment = str(body.comment);
  if (comment !== undefined) info.comment = comment;
  return info;
}

export function ruleSummaryFromJson(body: JsonObject): RuleSummary {
  const summary: RuleSummary = { chain: str(body.chain) ?? '', handle: num(body.handle) ?? 0 };
  const comment = str(body.comment);
  if (comment !== undefined) summary.comment = comment;
  return summary;
}

/** A set, or a map (whose "map" member is the value type and whose elements are [key, value]). */
export function setFromJson(body: JsonObject): SetInfo {
  const isMap = body.map !== undefined;
  const info: Omit<SetInfo, 'elements'> = {
    name: str(body.name) ?? '',
    handle: num(body.handle) ?? 0,
    type: isMap ? `${typeText(body.type)} : ${typeText(body.map)}` : typeText(body.type),
    flags: Array.isArray(body.flags) ? body.flags.map((f) => atom(f)) : [],
  };
  const elements: ElementInfo[] = [];
  const timeout = num(body.timeout);
  if (timeout !== undefined) info.timeout = timeout;
  const comment = str(body.comment);
  if (comment !== undefined) info.comment = comment;
  // A set declared with `counter` lists it among its statements: "stmt": [{"counter": null}].
  if (Array.isArray(body.stmt) && body.stmt.some((st) => typeof st === 'object' && st !== null && 'counter' in st)) info.counter = true;
  for (const el of Array.isArray(body.elem) ? body.elem : []) {
    if (isMap && Array.isArray(el) && el.length === 2) {
      const e = keyInfo(el[0]);
      e.value = parts(el[1]);
      elements.push(e);
    } else {
      elements.push(keyInfo(el));
    }
  }
  return { ...info, elements };
}
