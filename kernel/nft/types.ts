/**
 * Typed nftables objects, as a transaction writes them and as a listing reads them back.
 *
 * A transaction works on one table (weft owns `inet weft`), so the objects inside it name only
 * themselves: a chain is `{ kind: 'chain', name }`, not family + table + name.
 */

export type Family = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

/** Which table a transaction or a listing is about. */
export interface TableRef {
  family: Family;
  name: string;
}

export interface Table {
  kind: 'table';
  comment?: string;
}

export type ChainType = 'filter' | 'nat' | 'route';
export type ChainHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress' | 'egress';
/** A number, or a standard priority name optionally shifted: 'filter', 'dstnat - 10'. */
export type ChainPriority = number | string;
export type ChainPolicy = 'accept' | 'drop';

/** A regular chain has a name only; a base chain also has type, hook and priority. */
export interface Chain {
  kind: 'chain';
  name: string;
  type?: ChainType;
  hook?: ChainHook;
  priority?: ChainPriority;
  policy?: ChainPolicy;
  comment?: string;
}

/**
 * A rule: `rule` is nft rule syntax ("ip daddr 10.0.0.1 tcp dport 80 drop") without the comment,
 * which goes in `comment`. `handle` or `index` place an add/insert relative to an existing rule;
 * replace and delete need `handle`.
 */
export interface Rule {
  kind: 'rule';
  chain: string;
  rule: string;
  comment?: string;
  handle?: number;
  index?: number;
}

export type SetFlag = 'constant' | 'interval' | 'timeout' | 'dynamic';

export interface NftSet {
  kind: 'set';
  name: string;
  /** Data type, concatenations with ' . ': 'ipv4_addr . inet_proto . inet_service'. */
  type: string;
  flags?: SetFlag[];
  /** Default element timeout in seconds (needs the 'timeout' flag). */
  timeout?: number;
  /** Every element counts the packets and bytes that matched it. */
  counter?: boolean;
  comment?: string;
}

export interface NftMap {
  kind: 'map';
  name: string;
  /** 'KEY : VALUE', each side possibly a concatenation: 'ipv4_addr . inet_service : verdict'. */
  type: string;
  /**
   * Declared by expressions instead ('ip daddr . numgen random mod 2 : ip daddr . th dport'),
   * for key parts that have no type name (numgen's integer); `type` is then what a listing
   * shows ('ipv4_addr . integer : ipv4_addr . inet_service').
   */
  typeof?: string;
  flags?: SetFlag[];
  timeout?: number;
  counter?: boolean;
  comment?: string;
}

/**
 * An element of a set (`set`) or of a map (`map`): key parts are joined with ' . ' (one part for a
 * plain type), so are value parts for a map; a verdict value is one part such as 'jump svc-1'.
 */
export interface Element {
  kind: 'element';
  set?: string;
  map?: string;
  key: string[];
  value?: string[];
  comment?: string;
  /** Element timeout in seconds (set or map with the 'timeout' flag). */
  timeout?: number;
}

/** One element of an ElementBatch. */
export type ElementEntry = Omit<Element, 'kind' | 'set' | 'map'>;

/**
 * Many elements of one set or map in one command (`add element T S { a, b, ... }`): nft parses
 * and the kernel takes them far faster than a command each (100,000 elements: ~3x).
 */
export interface ElementBatch {
  kind: 'elements';
  set?: string;
  map?: string;
  entries: ElementEntry[];
}

export type NftObject = Table | Chain | Rule | NftSet | NftMap | Element | ElementBatch;

/** What delete needs: the name, or the handle for a rule, or the key for an element. */
export type ChainRef = Pick<Chain, 'kind' | 'name'>;
export type RuleRef = { kind: 'rule'; chain: string; handle: number };
export type SetRef = Pick<NftSet, 'kind' | 'name'>;
export type MapRef = Pick<NftMap, 'kind' | 'name'>;
export type ElementRef = Pick<Element, 'kind' | 'set' | 'map' | 'key'>;

export type Verb = 'add' | 'create' | 'insert' | 'replace' | 'delete' | 'flush';

/** One recorded operation; what `object` may be depends on the verb (enforced by Transaction). */
export type Operation =
  | { verb: 'add'; object: NftObject }
  | { verb: 'create'; object: Table | Chain | NftSet | NftMap | Element }
  | { verb: 'insert'; object: Rule }
  | { verb: 'replace'; object: Rule & { handle: number } }
  | { verb: 'delete'; object: Table | ChainRef | RuleRef | SetRef | MapRef | ElementRef | ElementBatch }
  | { verb: 'flush'; object: Table | ChainRef | SetRef | MapRef };

// ---- Read back ----

export interface Counter {
  packets: number;
  bytes: number;
}

export interface TableInfo extends TableRef {
  handle: number;
  comment?: string;
}

export interface ChainInfo {
  name: string;
  handle: number;
  type?: ChainType;
  hook?: ChainHook;
  priority?: number;
  policy?: ChainPolicy;
  comment?: string;
}

/**
 * A rule as nft lists it: nft normalises the text (e.g. 'priority 0' becomes 'priority filter',
 * services become numbers); counter values are taken out of the text into `counter`, leaving
 * the bare word 'counter' so the text stays comparable between listings.
 */
export interface RuleInfo {
  chain: string;
  handle: number;
  rule: string;
  comment?: string;
  counter?: Counter;
}

/**
 * A rule as the JSON listing gives it cheaply: where it is and its comment, without its text
 * (JSON has rules only as expression trees). Enough to tell which rules a chain holds when
 * their comments identify them.
 */
export interface RuleSummary {
  chain: string;
  handle: number;
  comment?: string;
}

export interface ElementInfo {
  key: string[];
  value?: string[];
  comment?: string;
  timeout?: number;
  /** Seconds left before a timed element expires. */
  expires?: number;
  counter?: Counter;
}

export interface SetInfo {
  name: string;
  handle: number;
  type: string;
  flags: string[];
  timeout?: number;
  /** Elements carry counters (`counter` in the set's declaration). */
  counter?: boolean;
  comment?: string;
  elements: readonly ElementInfo[];
}

export type MapInfo = SetInfo;

/** Everything in one table. */
export interface Ruleset {
  table: TableInfo;
  chains: ChainInfo[];
  rules: RuleInfo[];
  sets: SetInfo[];
  maps: MapInfo[];
}
