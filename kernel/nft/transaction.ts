/**
 * A batch of nftables operations on one table, applied all or nothing by one `nft -f -`.
 *
 * Each operation is validated and rendered when it is added, so a bad object throws at the call
 * that added it (with the caller on the stack), never later inside `run`.
 */
import { renderOperation, renderTableRef } from './render';
import type {
  Chain,
  ChainRef,
  Element,
  ElementBatch,
  ElementRef,
  MapRef,
  NftMap,
  NftObject,
  NftSet,
  Operation,
  Rule,
  RuleRef,
  SetRef,
  Table,
  TableRef,
} from './types';

export class Transaction {
  readonly table: TableRef;
  private readonly ops: Operation[] = [];
  private readonly lines: string[] = [];

  constructor(table: TableRef) {
    renderTableRef(table);
    this.table = { family: table.family, name: table.name };
  }

  /** Adds an object; an existing one is left as it is (rules and elements: appended / kept). */
  add(object: NftObject): this {
    return this.push({ verb: 'add', object });
  }

  /** Like add, but fails the whole transaction if the object already exists. */
  create(object: Table | Chain | NftSet | NftMap | Element): this {
    return this.push({ verb: 'create', object });
  }

  /** Inserts a rule at the start of its chain, or before `handle` / at `index`. */
  insert(rule: Rule): this {
    return this.push({ verb: 'insert', object: rule });
  }

  /** Replaces the rule with `handle`. */
  replace(rule: Rule & { handle: number }): this {
    return this.push({ verb: 'replace', object: rule });
  }

  /** Deletes an object; fails the transaction if it does not exist (or, for a chain or set, is in use). */
  delete(object: Table | ChainRef | RuleRef | SetRef | MapRef | ElementRef | ElementBatch): this {
    return this.push({ verb: 'delete', object });
  }

  /** Empties a table (rules of all its chains), a chain (its rules), a set or map (its elements). */
  flush(object: Table | ChainRef | SetRef | MapRef): this {
    return this.push({ verb: 'flush', object });
  }

  /** The operations, in order; line N of `render()` is operation N-1. */
  operations(): readonly Operation[] {
    return this.ops;
  }

  get size(): number {
    return this.ops.length;
  }

  /** The exact `nft -f` input: one line per operation. */
  render(): string {
    return this.lines.map((l) => `${l}\n`).join('');
  }

  private push(op: Operation): this {
    // Copied so that later changes to the caller's objects do not change what was validated
    // (element batches by hand: structuredClone of 100,000 elements takes half a second).
    const copy = { verb: op.verb, object: op.object.kind === 'elements' ? copyBatch(op.object) : structuredClone(op.object) } as Operation;
    this.lines.push(renderOperation(this.table, copy));
    this.ops.push(copy);
    return this;
  }
}

function copyBatch(batch: ElementBatch): ElementBatch {
  return {
    ...batch,
    entries: batch.entries.map((e) => ({ ...e, key: [...e.key], ...(e.value ? { value: [...e.value] } : {}) })),
  };
}

/** Convenience constructors that fill in `kind`, for compilers building many objects. */
export const nft = {
  table: (t: Omit<Table, 'kind'> = {}): Table => ({ kind: 'table', ...t }),
  chain: (c: Omit<Chain, 'kind'>): Chain => ({ kind: 'chain', ...c }),
  rule: (r: Omit<Rule, 'kind'>): Rule => ({ kind: 'rule', ...r }),
  set: (s: Omit<NftSet, 'kind'>): NftSet => ({ kind: 'set', ...s }),
  map: (m: Omit<NftMap, 'kind'>): NftMap => ({ kind: 'map', ...m }),
  element: (e: Omit<Element, 'kind'>): Element => ({ kind: 'element', ...e }),
};
