/**
 * Typed iptables objects: what a transaction declares and what `iptables-save` reads back.
 */

export type IpFamily = 'ipv4' | 'ipv6';

export type IptablesTableName = 'filter' | 'nat' | 'mangle' | 'raw';

/** Which iptables build to run; `ip6tables*` is derived for IPv6. Debian's 'iptables' is the nft one. */
export type IptablesBinary = 'iptables' | 'iptables-nft' | 'iptables-legacy';

/** Rule arguments after `-A CHAIN`: one string (split like iptables-restore does) or the words. */
export type RuleArgs = string | readonly string[];

/**
 * A jump from a chain weft does not own (a built-in chain such as FORWARD) into one of its own
 * chains, kept present exactly once without touching the other rules of that chain.
 */
export interface JumpRule {
  table: IptablesTableName;
  /** The chain the jump sits in, e.g. 'FORWARD'. */
  chain: string;
  /** weft's chain to jump to, e.g. 'WEFT-FORWARD'. */
  target: string;
  /**
   * Matches before the jump, e.g. '-i weft0'. The rule counts as present when a rule jumping to
   * `target` has the same options (in any order) as iptables-save prints them, so write matches
   * the way iptables-save prints them (e.g. '-p tcp -m tcp --dport 80').
   */
  matches?: RuleArgs;
  comment?: string;
  /** 'first' inserts at the top of the chain (the default), 'last' appends. */
  position?: 'first' | 'last';
}

export interface Counter {
  packets: number;
  bytes: number;
}

export interface SavedChain {
  name: string;
  /** Built-in chains have a policy; user chains have none. */
  policy?: string;
  builtin: boolean;
  counter?: Counter;
}

export interface SavedRule {
  chain: string;
  /** The arguments after `-A CHAIN`, exactly as iptables-save printed them (valid restore input). */
  text: string;
  /** The same, split into words with quotes removed. */
  args: string[];
  /** The `-j`/`-g` target, if any. */
  target?: string;
  /** The text of `-m comment --comment`, if any. */
  comment?: string;
  counter?: Counter;
}

export interface SavedTable {
  table: IptablesTableName;
  chains: SavedChain[];
  /** All rules in order, chain by chain. */
  rules: SavedRule[];
}
