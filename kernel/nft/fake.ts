/**
 * An in-memory nftables with the `Nft` interface, for testing compilers and sync logic without a
 * kernel.
 *
 * It applies a transaction to a copy of its state and keeps the copy only if every operation
 * succeeds, so failures are atomic as in the kernel, and it fails where nft does for the
 * mistakes a compiler can make: a missing table, chain, set or rule handle; creating what
 * exists; deleting a chain or set still in use; a jump to a missing chain; an element whose key
 * does not fit the set's type. It does not parse rule text: rules are kept as written, and
 * listings show them so (nft would normalise them) with no counters.
 */
import { NftError } from './errors';
import { pickKind, type ListKinds, type Nft, type TableObjects } from './nft';
import { renderOperation } from './render';
import { renderMapType, renderPriority, renderSetFlags, renderSetType } from './syntax';
import { Transaction } from './transaction';
import type {
  Chain,
  ChainInfo,
  Element,
  ElementBatch,
  ElementInfo,
  NftMap,
  NftSet,
  Operation,
  Rule,
  Ruleset,
  SetInfo,
  TableRef,
} from './types';

interface FakeChain {
  info: ChainInfo;
  rules: { handle: number; rule: string; comment?: string }[];
}

interface FakeSet {
  kind: 'set' | 'map';
  info: Omit<SetInfo, 'elements'>;
  /** By joined key, in insertion order. */
  elements: Map<string, ElementInfo>;
}

interface FakeTable {
  ref: TableRef;
  handle: number;
  comment?: string;
  nextHandle: number;
  chains: Map<string, FakeChain>;
  sets: Map<string, FakeSet>;
}

interface FakeState {
  nextTableHandle: number;
  tables: Map<string, FakeTable>;
}

/** A failure of one operation; becomes an NftError carrying its line. */
class OpFailure extends Error {}

const ENOENT = 'Could not process rule: No such file or directory';
const EEXIST = 'Could not process rule: File exists';
const EBUSY = 'Could not process rule: Device or resource busy';

const NAME = '[A-Za-z_.][A-Za-z0-9_./-]*';
const JUMP = new RegExp(`\\b(?:jump|goto) (${NAME})`, 'g');
const SET_REF = new RegExp(`@(${NAME})`, 'g');

function tableKey(ref: TableRef): string {
  return `${ref.family} ${ref.name}`;
}

/** Text outside double-quoted strings, so that names in quoted strings are not references. */
function unquoted(text: string): string {
  return text.replace(/"[^"]*"/g, '""');
}

function jumpTargets(text: string): string[] {
  return [...unquoted(text).matchAll(JUMP)].map((m) => m[1]);
}

function setRefs(text: string): string[] {
  return [...unquoted(text).matchAll(SET_REF)].map((m) => m[1]);
}

function arity(type: string): number {
  return type.split('.').length;
}

function cloneState(state: FakeState): FakeState {
  const tables = new Map<string, FakeTable>();
  for (const [k, t] of state.tables) {
    const chains = new Map<string, FakeChain>();
    for (const [n, c] of t.chains) chains.set(n, { info: { ...c.info }, rules: c.rules.map((r) => ({ ...r })) });
    const sets = new Map<string, FakeSet>();
    for (const [n, s] of t.sets) {
      sets.set(n, { kind: s.kind, info: { ...s.info, flags: [...s.info.flags] }, elements: new Map(s.elements) });
    }
    tables.set(k, { ...t, chains, sets });
  }
  return { nextTableHandle: state.nextTableHandle, tables };
}

export class FakeNft implements Nft {
  private state: FakeState = { nextTableHandle: 1, tables: new Map() };
  /** Every transaction that applied, as rendered, oldest first. */
  readonly history: string[] = [];
  /** The ruleset generation: one more at every batch that changed something, as the kernel's. */
  private generationId = 1;

  async run(tx: Transaction): Promise<void> {
    await this.runAll([tx]);
  }

  async runAll(transactions: readonly Transaction[]): Promise<void> {
    // Applied to one copy in order and kept only when all of it applies, as nft's batch.
    let next = this.state;
    let lineOffset = 0;
    for (const tx of transactions) {
      next = this.applyToCopy(tx, next, lineOffset);
      lineOffset += tx.size;
    }
    this.state = next;
    for (const tx of transactions) if (tx.size > 0) this.history.push(tx.render());
    if (transactions.some((tx) => tx.size > 0)) this.generationId++;
  }

  async generation(): Promise<number | undefined> {
    return this.generationId;
  }

  async check(tx: Transaction): Promise<void> {
    this.applyToCopy(tx, this.state, 0);
  }

  async listTables(): Promise<TableRef[]> {
    return [...this.state.tables.values()].map((t) => ({ ...t.ref }));
  }

  async list<K extends keyof ListKinds>(table: TableRef, kind: K): Promise<ListKinds[K]> {
    return pickKind(await this.listRuleset(table), kind);
  }

  async listRuleset(ref: TableRef): Promise<Ruleset | undefined> {
    const t = this.state.tables.get(tableKey(ref));
    if (!t) return undefined;
    const sets = (kind: 'set' | 'map'): SetInfo[] =>
      [...t.sets.values()]
        .filter((s) => s.kind === kind)
        .map((s) => ({ ...s.info, flags: [...s.info.flags], elements: [...s.elements.values()].map((e) => structuredClone(e)) }));
    return {
      table: { ...t.ref, handle: t.handle, ...(t.comment !== undefined ? { comment: t.comment } : {}) },
      chains: [...t.chains.values()].map((c) => ({ ...c.info })),
      rules: [...t.chains.values()].flatMap((c) => c.rules.map((r) => ({ chain: c.info.name, ...r }))),
      sets: sets('set'),
      maps: sets('map'),
    };
  }

  async listObjects(ref: TableRef): Promise<TableObjects | undefined> {
    const ruleset = await this.listRuleset(ref);
    if (!ruleset) return undefined;
    const { rules, ...objects } = ruleset;
    return { ...objects, ruleSummaries: rules.map((r) => ({ chain: r.chain, handle: r.handle, ...(r.comment !== undefined ? { comment: r.comment } : {}) })) };
  }

  /**
   * The table as a deterministic `nft -f` script (objects sorted by name, rules in order), for
   * golden tests of compilers; empty when the table does not exist.
   */
  dump(ref: TableRef): string {
    const t = this.state.tables.get(tableKey(ref));
    if (!t) return '';
    const tx = new Transaction(ref);
    tx.add({ kind: 'table', ...(t.comment !== undefined ? { comment: t.comment } : {}) });
    const byName = <T extends { info: { name: string } }>(xs: Iterable<T>): T[] => [...xs].sort((a, b) => (a.info.name < b.info.name ? -1 : 1));
    const chains = byName(t.chains.values());
    for (const c of chains) {
      const { name, type, hook, priority, policy, comment } = c.info;
      tx.add({ kind: 'chain', name, type, hook, priority, policy, comment } as Chain);
    }
    const sets = byName(t.sets.values());
    for (const s of sets) {
      const { name, type, flags, timeout, counter, comment } = s.info;
      tx.add({ kind: s.kind, name, type, flags, timeout, counter, comment } as NftSet | NftMap);
    }
    for (const c of chains) for (const r of c.rules) tx.add({ kind: 'rule', chain: c.info.name, rule: r.rule, comment: r.comment });
    for (const s of sets) {
      const elements = [...s.elements.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [, e] of elements) {
        tx.add({ kind: 'element', [s.kind]: s.info.name, key: e.key, value: e.value, comment: e.comment, timeout: e.timeout } as Element);
      }
    }
    return tx.render();
  }

  private applyToCopy(tx: Transaction, from: FakeState, lineOffset: number): FakeState {
    const next = cloneState(from);
    const ops = tx.operations();
    ops.forEach((op, i) => {
      try {
        this.applyOne(next, tx.table, op);
      } catch (err) {
        if (!(err instanceof OpFailure)) throw err;
        const lineText = renderOperation(tx.table, op);
        const line = lineOffset + i + 1;
        const stderr = `/dev/stdin:${line}:1-${lineText.length}: Error: ${err.message}\n${lineText}\n`;
        throw new NftError(`nft: line ${line}: ${err.message}: ${lineText}`, {
          line,
          lineText,
          operation: op,
          diagnostics: [{ line, columnStart: 1, columnEnd: lineText.length, message: err.message }],
          stderr,
          exitCode: 1,
        });
      }
    });
    return next;
  }

  private applyOne(state: FakeState, ref: TableRef, op: Operation): void {
    const key = tableKey(ref);
    const obj = op.object;
    if (obj.kind === 'table') {
      const existing = state.tables.get(key);
      if (op.verb === 'add' || op.verb === 'create') {
        if (existing && op.verb === 'create') throw new OpFailure(EEXIST);
        if (!existing) {
          state.tables.set(key, { ref: { ...ref }, handle: state.nextTableHandle++, nextHandle: 1, chains: new Map(), sets: new Map() });
        }
        const t = state.tables.get(key) as FakeTable;
        if (obj.comment !== undefined) t.comment = obj.comment;
        return;
      }
      if (!existing) throw new OpFailure(ENOENT);
      if (op.verb === 'delete') state.tables.delete(key);
      else for (const c of existing.chains.values()) c.rules = [];
      return;
    }

    const table = state.tables.get(key);
    if (!table) throw new OpFailure(ENOENT);
    switch (obj.kind) {
      case 'chain':
        return this.applyChain(table, op.verb, obj as Chain);
      case 'rule':
        return this.applyRule(table, op.verb, obj as Rule);
      case 'set':
      case 'map':
        return this.applySet(table, op.verb, obj as NftSet | NftMap);
      case 'element':
        return this.applyElement(table, op.verb, obj as Element);
      case 'elements': {
        const batch = obj as ElementBatch;
        for (const e of batch.entries) this.applyElement(table, op.verb, { ...e, kind: 'element', ...(batch.set !== undefined ? { set: batch.set } : { map: batch.map }) });
        return;
      }
    }
  }

  private applyChain(table: FakeTable, verb: Operation['verb'], chain: Chain): void {
    const existing = table.chains.get(chain.name);
    if (verb === 'add' || verb === 'create') {
      if (existing && verb === 'create') throw new OpFailure(EEXIST);
      if (existing) return;
      const info: ChainInfo = { name: chain.name, handle: table.nextHandle++ };
      if (chain.type !== undefined) info.type = chain.type;
      if (chain.hook !== undefined) info.hook = chain.hook;
      if (chain.priority !== undefined) info.priority = Number(renderPriority(table.ref.family, chain.priority));
      if (chain.hook !== undefined) info.policy = chain.policy ?? 'accept';
      if (chain.comment !== undefined) info.comment = chain.comment;
      table.chains.set(chain.name, { info, rules: [] });
      return;
    }
    if (!existing) throw new OpFailure(ENOENT);
    if (verb === 'flush') {
      existing.rules = [];
      return;
    }
    if (existing.rules.length > 0 || this.chainReferenced(table, chain.name)) throw new OpFailure(EBUSY);
    table.chains.delete(chain.name);
  }

  private chainReferenced(table: FakeTable, name: string): boolean {
    for (const c of table.chains.values()) for (const r of c.rules) if (jumpTargets(r.rule).includes(name)) return true;
    for (const s of table.sets.values()) {
      for (const e of s.elements.values()) if (e.value && jumpTargets(e.value.join(' ')).includes(name)) return true;
    }
    return false;
  }

  private applyRule(table: FakeTable, verb: Operation['verb'], rule: Rule): void {
    const chain = table.chains.get(rule.chain);
    if (!chain) throw new OpFailure(ENOENT);
    const at = rule.handle !== undefined ? chain.rules.findIndex((r) => r.handle === rule.handle) : -1;
    if (rule.handle !== undefined && at < 0) throw new OpFailure(ENOENT);
    if (verb === 'delete') {
      chain.rules.splice(at, 1);
      return;
    }
    for (const target of jumpTargets(rule.rule)) if (!table.chains.has(target)) throw new OpFailure(ENOENT);
    for (const set of setRefs(rule.rule)) if (!table.sets.has(set)) throw new OpFailure(ENOENT);
    const text = { rule: rule.rule, ...(rule.comment !== undefined ? { comment: rule.comment } : {}) };
    if (verb === 'replace') {
      chain.rules[at] = { handle: rule.handle as number, ...text };
      return;
    }
    const entry = { handle: table.nextHandle++, ...text };
    let position: number;
    if (rule.handle !== undefined) position = verb === 'add' ? at + 1 : at;
    else if (rule.index !== undefined) {
      if (rule.index >= chain.rules.length) throw new OpFailure(ENOENT);
      position = verb === 'add' ? rule.index + 1 : rule.index;
    } else position = verb === 'add' ? chain.rules.length : 0;
    chain.rules.splice(position, 0, entry);
  }

  private applySet(table: FakeTable, verb: Operation['verb'], set: NftSet | NftMap): void {
    const existing = table.sets.get(set.name);
    if (existing && existing.kind !== set.kind) throw new OpFailure(verb === 'add' || verb === 'create' ? EEXIST : ENOENT);
    if (verb === 'add' || verb === 'create') {
      if (existing && verb === 'create') throw new OpFailure(EEXIST);
      if (existing) return;
      // Type with canonical spacing and flags sorted, as a listing shows them.
      const type = set.kind === 'set' ? renderSetType(set.type) : renderMapType(set.type);
      const flags = set.flags !== undefined && set.flags.length > 0 ? renderSetFlags(set.flags).split(',') : [];
      const info: Omit<SetInfo, 'elements'> = { name: set.name, handle: table.nextHandle++, type, flags };
      if (set.timeout !== undefined) info.timeout = set.timeout;
      if (set.counter) info.counter = true;
      if (set.comment !== undefined) info.comment = set.comment;
      table.sets.set(set.name, { kind: set.kind, info, elements: new Map() });
      return;
    }
    if (!existing) throw new OpFailure(ENOENT);
    if (verb === 'flush') {
      existing.elements.clear();
      return;
    }
    for (const c of table.chains.values()) for (const r of c.rules) if (setRefs(r.rule).includes(set.name)) throw new OpFailure(EBUSY);
    table.sets.delete(set.name);
  }

  private applyElement(table: FakeTable, verb: Operation['verb'], el: Element): void {
    const kind = el.set !== undefined ? 'set' : 'map';
    const container = table.sets.get((el.set ?? el.map) as string);
    if (!container || container.kind !== kind) throw new OpFailure(ENOENT);
    const [keyType, valueType] = container.info.type.split(' : ');
    if (el.key.length !== arity(keyType)) throw new OpFailure(`datatype mismatch: key has ${el.key.length} parts, ${keyType} has ${arity(keyType)}`);
    const k = el.key.join(' . ');
    const existing = container.elements.get(k);
    if (verb === 'delete') {
      if (!existing) throw new OpFailure(ENOENT);
      container.elements.delete(k);
      return;
    }
    if (valueType !== undefined && el.value !== undefined) {
      if (valueType !== 'verdict' && el.value.length !== arity(valueType)) {
        throw new OpFailure(`datatype mismatch: value has ${el.value.length} parts, ${valueType} has ${arity(valueType)}`);
      }
      for (const target of jumpTargets(el.value.join(' '))) if (!table.chains.has(target)) throw new OpFailure(ENOENT);
    }
    if (existing) {
      const sameValue = (existing.value ?? []).join(' . ') === (el.value ?? []).join(' . ');
      if (verb === 'create' || !sameValue) throw new OpFailure(EEXIST);
      return;
    }
    const info: ElementInfo = { key: [...el.key] };
    if (el.value !== undefined) info.value = [...el.value];
    if (el.comment !== undefined) info.comment = el.comment;
    if (el.timeout !== undefined) info.timeout = el.timeout;
    // A set declared with `counter` gives each element one, starting at zero.
    if (container.info.counter) info.counter = { packets: 0, bytes: 0 };
    container.elements.set(k, info);
  }
}
