/**
 * weft's nftables table as read back for inspection (weftctl services, rules): sets and maps
 * indexed by name and element key, rules by chain. From the JSON listing alone (rules known
 * by their comments), or with the text listing too (rule texts and counters).
 */
import type { Counter, ElementInfo, Ruleset, SetInfo, TableObjects } from '../../kernel/nft';

export interface ListedRule {
  chain: string;
  comment?: string;
  /** Absent when only the JSON listing was read. */
  text?: string;
  counter?: Counter;
}

export const keyText = (parts: readonly string[]): string => parts.join(' . ');

/** An element as nft writes it: "a . b : c . d". */
export function elementText(e: Pick<ElementInfo, 'key' | 'value'>): string {
  return e.value ? `${keyText(e.key)} : ${keyText(e.value)}` : keyText(e.key);
}

/** A rule's comment without weft's identity suffix (" [#1a2b3c4d]"). */
export const plainComment = (comment: string | undefined): string => (comment ?? '').replace(/ \[#[0-9a-f]{8}\]$/, '');

export class NftListing {
  readonly sets = new Map<string, SetInfo>();
  private readonly elements = new Map<string, Map<string, ElementInfo>>();
  readonly rules = new Map<string, ListedRule[]>();
  readonly chains: ReadonlySet<string>;

  constructor(listing: TableObjects | Ruleset | undefined) {
    for (const s of [...(listing?.sets ?? []), ...(listing?.maps ?? [])]) this.sets.set(s.name, s);
    this.chains = new Set((listing?.chains ?? []).map((c) => c.name));
    const rules: ListedRule[] =
      listing && 'rules' in listing
        ? listing.rules.map((r) => ({ chain: r.chain, comment: r.comment, text: r.rule, ...(r.counter ? { counter: r.counter } : {}) }))
        : ((listing as TableObjects | undefined)?.ruleSummaries ?? []);
    for (const r of rules) {
      const list = this.rules.get(r.chain) ?? [];
      list.push(r);
      this.rules.set(r.chain, list);
    }
  }

  /** The element of set `set` with this key, if the kernel has it. */
  element(set: string, key: readonly string[]): ElementInfo | undefined {
    let byKey = this.elements.get(set);
    if (!byKey) {
      byKey = new Map((this.sets.get(set)?.elements ?? []).map((e) => [keyText(e.key), e]));
      this.elements.set(set, byKey);
    }
    return byKey.get(keyText(key));
  }

  rulesOf(chain: string): readonly ListedRule[] {
    return this.rules.get(chain) ?? [];
  }
}
