/**
 * The transaction that turns what the kernel has (a Ruleset read back, or nothing) into a
 * DesiredTable. Pure: no I/O, so every case is unit-tested against FakeNft.
 *
 * Everything happens in one transaction, which nft applies atomically: a chain whose rules
 * changed is flushed and refilled inside it, so no packet ever sees it empty. Objects of weft's
 * table that nothing desires are removed; objects that already match are not touched at all,
 * and a table that matches gives an empty transaction.
 */
import { Transaction, type ChainInfo, type ElementBatch, type SetInfo, type TableObjects, type TableRef } from '../../../kernel/nft';
import { commentWithIdentity, elementSignature, identityOf, ruleIdentity, type DesiredChain, type DesiredElement, type DesiredSet, type DesiredTable } from './desired';

/** Standard priority names nft lists as numbers (inet/ip/ip6 families). */
const PRIORITY_NUMBERS: Record<string, number> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };

export function priorityNumber(priority: number | string): number {
  if (typeof priority === 'number') return priority;
  const m = /^([a-z]+)\s*([+-])\s*(\d+)$/.exec(priority.trim());
  if (m) return PRIORITY_NUMBERS[m[1]] + (m[2] === '-' ? -1 : 1) * Number(m[3]);
  const base = PRIORITY_NUMBERS[priority.trim()];
  if (base === undefined) throw new Error(`unknown chain priority ${JSON.stringify(priority)}`);
  return base;
}

function baseMatches(want: DesiredChain, have: ChainInfo): boolean {
  if (!want.base) return have.hook === undefined;
  const b = want.base;
  return have.type === b.type && have.hook === b.hook && have.priority === priorityNumber(b.priority) && (have.policy ?? 'accept') === b.policy;
}

function setMatches(want: DesiredSet, have: SetInfo): boolean {
  // 'dynamic' is not compared: the JSON listing of nft 1.0.x leaves it out.
  const flags = (f: readonly string[] | undefined) => [...(f ?? [])].filter((x) => x !== 'dynamic').sort().join(',');
  return (
    have.type === want.type &&
    flags(have.flags) === flags(want.flags) &&
    (have.comment ?? '') === (want.comment ?? '') &&
    Boolean(have.counter) === Boolean(want.counter) &&
    have.timeout === want.timeout
  );
}

/** A set the data path fills (session affinity): its elements are the kernel's, never diffed. */
function filledByPackets(set: DesiredSet): boolean {
  return set.flags?.includes('dynamic') ?? false;
}

/**
 * Chains are declared before sets and maps, and filled after them: a verdict map's elements
 * name chains (`jump pol-in-c...`), and rules name sets.
 */
function declareChain(tx: Transaction, chain: DesiredChain): void {
  tx.add({ kind: 'chain', name: chain.name, ...(chain.base ?? {}) });
}

function addRules(tx: Transaction, chain: DesiredChain): void {
  for (const r of chain.rules) tx.add({ kind: 'rule', chain: chain.name, rule: r.rule, comment: commentWithIdentity(r) });
}

function addSetWithElements(tx: Transaction, set: DesiredSet): void {
  tx.add({
    kind: set.kind,
    name: set.name,
    type: set.type,
    ...(set.typeof !== undefined ? { typeof: set.typeof } : {}),
    ...(set.flags ? { flags: set.flags } : {}),
    ...(set.timeout !== undefined ? { timeout: set.timeout } : {}),
    ...(set.counter ? { counter: true } : {}),
    ...(set.comment ? { comment: set.comment } : {}),
  });
  batchElements(set, set.elements, (batch) => tx.add(batch));
}

/** Elements per nft command: one command each costs ~3x as much at 100,000 (issue #7). */
const ELEMENTS_PER_COMMAND = 1000;

/** `elements` of `set` as batches of at most ELEMENTS_PER_COMMAND, in order. */
function batchElements(set: DesiredSet, elements: readonly DesiredElement[] | readonly { key: string[] }[], emit: (batch: ElementBatch) => void): void {
  for (let i = 0; i < elements.length; i += ELEMENTS_PER_COMMAND) {
    const entries = elements.slice(i, i + ELEMENTS_PER_COMMAND).map((e) => {
      const full = e as DesiredElement;
      return { key: full.key, ...(full.value ? { value: full.value } : {}), ...(full.comment ? { comment: full.comment } : {}) };
    });
    emit({ kind: 'elements', [set.kind]: set.name, entries });
  }
}

/** Writes the whole table from scratch (first start, or after a change of structure). */
function writeAll(tx: Transaction, desired: DesiredTable, current: TableObjects | undefined): void {
  if (current) {
    // Replaced in the same transaction: the old rules stay in force until it commits.
    tx.delete({ kind: 'table' });
  }
  tx.add({ kind: 'table', comment: desired.comment });
  for (const chain of desired.chains) declareChain(tx, chain);
  for (const set of desired.sets) addSetWithElements(tx, set);
  for (const chain of desired.chains) addRules(tx, chain);
}

/**
 * The elements of `have` that `want` may not have, and those of `want` that `have` may not:
 * what is left to compare by content. Elements (and groups) that are the very objects
 * committed last time are unchanged: renderers keep them for what did not change
 * (render-services.ts), and the committed listing keeps the desired objects.
 */
function changedElements(want: DesiredSet, have: SetInfo, committed: DesiredSet | undefined): { haveRest: readonly SetElementLike[]; wantRest: readonly DesiredElement[] } {
  // Grouped on both sides: only the groups that changed are looked at (O(groups), not O(elements)).
  if (want.groups && committed?.groups) {
    const wantGroups = new Set(want.groups);
    const haveGroups = new Set(committed.groups);
    return { haveRest: committed.groups.filter((g) => !wantGroups.has(g)).flat(), wantRest: want.groups.filter((g) => !haveGroups.has(g)).flat() };
  }
  const haveObjects = new Set<object>(have.elements);
  const wantObjects = new Set<object>(want.elements);
  return { haveRest: have.elements.filter((e) => !wantObjects.has(e)), wantRest: want.elements.filter((e) => !haveObjects.has(e)) };
}

type SetElementLike = SetInfo['elements'][number];

/**
 * `committed`: when `current` is committedListing(committed), that desired table; its element
 * groups spare the comparison of every element.
 *
 * `current` is the JSON listing (kernel/nft listObjects): rules are known by their comments,
 * which is all the comparison needs (see desired.ts), and one nft run reads it all.
 */
export function diffTable(table: TableRef, desired: DesiredTable, current: TableObjects | undefined, committed?: DesiredTable): Transaction {
  const tx = new Transaction(table);
  const committedSets = committed && new Map(committed.sets.map((s) => [s.name, s]));
  if (!current) {
    writeAll(tx, desired, current);
    return tx;
  }
  const haveSets = new Map([...current.sets, ...current.maps].map((s) => [s.name, s]));
  const haveChains = new Map(current.chains.map((c) => [c.name, c]));
  // A set whose type changed, or a chain whose hook changed, cannot be altered in place, and
  // the rules that use them would have to go first: rewrite the whole table in one step instead
  // (rare: it happens when an upgrade changes the layout).
  // (The table's comment is not compared: the JSON listing of nft 1.0.x does not show it.)
  const structural =
    desired.sets.some((s) => haveSets.has(s.name) && !setMatches(s, haveSets.get(s.name)!)) ||
    desired.chains.some((c) => haveChains.has(c.name) && !baseMatches(c, haveChains.get(c.name)!));
  if (structural) {
    writeAll(tx, desired, current);
    return tx;
  }

  // New chains first (map elements jump to them), then sets (rules refer to them), with only
  // the elements that differ.
  const newChains = desired.chains.filter((c) => !haveChains.has(c.name));
  for (const chain of newChains) declareChain(tx, chain);
  for (const set of desired.sets) {
    const have = haveSets.get(set.name);
    if (!have) {
      addSetWithElements(tx, set);
      continue;
    }
    if (filledByPackets(set)) continue;
    const committedSet = committedSets?.get(set.name);
    // The very set committed last time (a renderer keeps what did not change): nothing to compare.
    if (committedSet === set) continue;
    const { haveRest, wantRest } = changedElements(set, have, committedSet);
    if (haveRest.length === 0 && wantRest.length === 0) continue;
    const want = new Map(wantRest.map((e) => [elementSignature(e), e]));
    const present = new Set(haveRest.map((e) => elementSignature(e)));
    const gone = haveRest.filter((e) => !want.has(elementSignature(e))).map((e) => ({ key: e.key }));
    const added = [...want].filter(([sig]) => !present.has(sig)).map(([, e]) => e);
    // Deleted before added: an element whose value changed is both.
    batchElements(set, gone, (batch) => tx.delete(batch));
    batchElements(set, added, (batch) => tx.add(batch));
  }

  // Chains: created when missing, refilled when their rules differ.
  const rulesByChain = new Map<string, (string | undefined)[]>();
  for (const r of current.ruleSummaries) {
    const list = rulesByChain.get(r.chain) ?? [];
    list.push(identityOf(r.comment));
    rulesByChain.set(r.chain, list);
  }
  for (const chain of desired.chains) {
    if (!haveChains.has(chain.name)) {
      addRules(tx, chain);
      continue;
    }
    const want = chain.rules.map(ruleIdentity);
    const have = rulesByChain.get(chain.name) ?? [];
    if (want.length === have.length && want.every((id, i) => id === have[i])) continue;
    tx.flush({ kind: 'chain', name: chain.name });
    for (const r of chain.rules) tx.add({ kind: 'rule', chain: chain.name, rule: r.rule, comment: commentWithIdentity(r) });
  }

  // What nothing desires: chains emptied first (they may jump to each other or use sets), then deleted.
  const desiredChains = new Set(desired.chains.map((c) => c.name));
  const staleChains = current.chains.filter((c) => !desiredChains.has(c.name));
  // Sets and maps go before the chains: a stale verdict map's elements still jump to them.
  for (const c of staleChains) tx.flush({ kind: 'chain', name: c.name });
  const desiredSets = new Set(desired.sets.map((s) => s.name));
  for (const s of current.sets) if (!desiredSets.has(s.name)) tx.delete({ kind: 'set', name: s.name });
  for (const m of current.maps) if (!desiredSets.has(m.name)) tx.delete({ kind: 'map', name: m.name });
  for (const c of staleChains) tx.delete({ kind: 'chain', name: c.name });
  return tx;
}

/**
 * The listing the kernel gives back once `desired` is committed, as far as diffTable looks at
 * it: what the next apply diffs against without reading the table back. (Handles are not
 * known without a read; the diff does not use them.)
 */
export function committedListing(table: TableRef, desired: DesiredTable): TableObjects {
  const setInfo = (s: DesiredSet): SetInfo => ({
    name: s.name,
    handle: 0,
    type: s.type,
    flags: [...(s.flags ?? [])],
    ...(s.timeout !== undefined ? { timeout: s.timeout } : {}),
    ...(s.counter ? { counter: true } : {}),
    ...(s.comment ? { comment: s.comment } : {}),
    // The desired element objects themselves (never changed after rendering): their signatures
    // are cached. Read only when asked for: the diff of a grouped set compares groups instead.
    get elements() {
      return s.elements;
    },
  });
  return {
    table: { ...table, handle: 0, comment: desired.comment },
    chains: desired.chains.map((c): ChainInfo => ({
      name: c.name,
      handle: 0,
      ...(c.base ? { type: c.base.type, hook: c.base.hook, priority: priorityNumber(c.base.priority), policy: c.base.policy } : {}),
    })),
    sets: desired.sets.filter((s) => s.kind === 'set').map(setInfo),
    maps: desired.sets.filter((s) => s.kind === 'map').map(setInfo),
    ruleSummaries: desired.chains.flatMap((c) => c.rules.map((r) => ({ chain: c.name, handle: 0, comment: commentWithIdentity(r) }))),
  };
}

/** Rules plus elements in a desired table: the "rule count" weft reports. */
export function countRules(desired: DesiredTable): number {
  return desired.chains.reduce((n, c) => n + c.rules.length, 0) + desired.sets.reduce((n, s) => n + (s.groups ? s.groups.reduce((m, g) => m + g.length, 0) : s.elements.length), 0);
}
