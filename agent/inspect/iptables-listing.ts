/**
 * weft's iptables chains and ipsets as read back for inspection (weftctl services, rules): one
 * family's tables (iptables-save -c, so every rule with its counters) and the sets of both
 * families (ipset save).
 */
import type { IptablesTableName, SavedRule, SavedTable } from '../../kernel/iptables';
import type { SavedIpset } from '../../kernel/ipset';

export class IptablesListing {
  private readonly rules = new Map<string, SavedRule[]>();
  private readonly chains = new Set<string>();
  private readonly sets = new Map<string, Set<string>>();

  constructor(tables: readonly SavedTable[], sets: readonly SavedIpset[]) {
    for (const t of tables) {
      for (const c of t.chains) this.chains.add(`${t.table} ${c.name}`);
      for (const r of t.rules) {
        const key = `${t.table} ${r.chain}`;
        const list = this.rules.get(key) ?? [];
        list.push(r);
        this.rules.set(key, list);
      }
    }
    for (const s of sets) this.sets.set(s.name, new Set(s.elements));
  }

  rulesOf(table: IptablesTableName, chain: string): readonly SavedRule[] {
    return this.rules.get(`${table} ${chain}`) ?? [];
  }

  hasChain(table: IptablesTableName, chain: string): boolean {
    return this.chains.has(`${table} ${chain}`);
  }

  /** Every rule of the family's tables, with its table. */
  *allRules(): Iterable<{ table: IptablesTableName; rule: SavedRule }> {
    for (const [key, rules] of this.rules) {
      const table = key.slice(0, key.indexOf(' ')) as IptablesTableName;
      for (const rule of rules) yield { table, rule };
    }
  }

  setHas(set: string, element: string): boolean {
    return this.sets.get(set)?.has(element) ?? false;
  }

  *setElements(): Iterable<{ set: string; element: string }> {
    for (const [set, elements] of this.sets) for (const element of elements) yield { set, element };
  }
}

/** A rule as iptables-save prints it, without its counters: "-A CHAIN ...". */
export const ruleText = (r: SavedRule): string => `-A ${r.chain} ${r.text}`;
