/**
 * Desired ipsets vs. what `ipset save` lists -> the ipset commands of one sync, in three steps
 * around the iptables-restore of the rules:
 *
 *   before   create new sets (filled: no rule uses them yet); rebuild a set that cannot stay
 *            (see below); add new 'allow' elements; remove old 'admit' elements, then old
 *            'isolate' elements
 *   (rules)  iptables-restore, per family: chains that use new sets appear, chains that used
 *            old ones go
 *   after    add new 'isolate' elements, then new 'admit' elements; remove old 'allow' elements
 *   destroy  sets nothing desires any more, now that no rule uses them
 *
 * ipset commands are atomic one by one, not together, so a sync passes through intermediate
 * states. The order makes each of them, for each pod, no more open than the old or the new
 * state: a pod is admitted (bridge guard) only once it is isolated, isolated only once its
 * allowances and chains are in place, and the other way round when it goes; allowances grow
 * before and shrink after. Nor is any stricter than both: a pod being isolated finds its
 * allowances there already. Elements are added and deleted, never flushed: no packet sees an
 * emptied set.
 *
 * A set is rebuilt (filled under a temporary name, then `ipset swap`, which exchanges whole
 * contents at once) when it could not hold the state it passes through (maxelem too small) or
 * was not created the way weft creates sets (extensions such as counters, comments, timeouts,
 * or `nomatch` elements). Its type and family are part of its name's meaning: a set of the right
 * name and the wrong type was made by someone else, and the sync stops with an error.
 */
import { canonicalElement, IpsetTransaction, type SavedIpset } from '../../../kernel/ipset';
import type { DesiredIpset, SetRole } from './desired';
import type { IptablesNames } from './names';

const DEFAULT_MAXELEM = 65536;

/** maxelem for a set that must hold `count` elements: ipset's default, or twice the need. */
export function maxelemFor(count: number): number {
  if (count <= DEFAULT_MAXELEM / 2) return DEFAULT_MAXELEM;
  return 2 ** Math.ceil(Math.log2(count * 2));
}

export interface IpsetPlan {
  before: IpsetTransaction;
  after: IpsetTransaction;
  destroy: string[];
  /** Each desired set's maxelem once the plan has run (kept, created or rebuilt). */
  maxelem: Map<string, number>;
}

/**
 * The sets as `ipset save` would list them once `plan` has run: what the next sync diffs
 * against without reading them back (tens of thousands of elements take seconds to list).
 */
export function committedSets(desired: readonly DesiredIpset[], plan: IpsetPlan): SavedIpset[] {
  return desired.map((set) => ({
    name: set.name,
    type: set.type,
    family: set.family,
    options: { maxelem: String(plan.maxelem.get(set.name) ?? DEFAULT_MAXELEM) },
    flags: [],
    elements: [...set.elements],
    decoratedElements: 0,
  }));
}

/**
 * The saved set against the desired elements: what is missing, what is extra (in a form `del`
 * takes), and how many elements the set holds. Desired elements are in the printed form
 * already, so an unchanged set costs one lookup per element; only elements that differ are
 * parsed (the kernel may print what was written differently).
 */
function compare(set: DesiredIpset, saved: SavedIpset, want: ReadonlySet<string>): { size: number; missing: string[]; extra: string[] } {
  let matched = 0;
  const extra: string[] = [];
  const recognized = new Set<string>();
  for (const e of saved.elements) {
    if (want.has(e)) {
      matched++;
      continue;
    }
    let canonical = e;
    try {
      canonical = canonicalElement(set.type, set.family, e);
    } catch {
      // Not an element weft would write: deleted by its text.
    }
    if (!want.has(canonical)) extra.push(canonical);
    else if (!recognized.has(canonical)) {
      matched++;
      recognized.add(canonical);
    }
  }
  if (recognized.size > 0) {
    // The kernel lists an element once; should it also be listed as written, count it once.
    const raw = new Set(saved.elements);
    for (const c of recognized) if (raw.has(c)) matched--;
  }
  if (matched === want.size) return { size: saved.elements.length, missing: [], extra };
  const have = new Set(saved.elements);
  for (const c of recognized) have.add(c);
  return { size: saved.elements.length, missing: [...want].filter((e) => !have.has(e)), extra };
}

type Change = { name: string; element: string };

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export function diffIpsets(desired: readonly DesiredIpset[], saved: readonly SavedIpset[], names: IptablesNames): IpsetPlan {
  const plan: IpsetPlan = { before: new IpsetTransaction(), after: new IpsetTransaction(), destroy: [], maxelem: new Map() };
  const savedByName = new Map(saved.map((s) => [s.name, s]));
  // A temporary set left by an interrupted rebuild is used by no rule: it goes first, so that
  // its name is free for this sync's rebuilds.
  const leftovers = new Set(saved.filter((s) => names.isTempSet(s.name)).map((s) => s.name));
  for (const name of leftovers) plan.before.destroy(name);
  // Grown before the rules: allowances. Shrunk before: admission, then isolation. Grown after:
  // isolation, then admission. Shrunk after: allowances.
  const grow: Record<SetRole, Change[]> = { allow: [], isolate: [], admit: [] };
  const shrink: Record<SetRole, Change[]> = { allow: [], isolate: [], admit: [] };
  for (const set of desired) {
    const have = savedByName.get(set.name);
    // The common case, a set the sync leaves as it is (the renderer lists elements in a stable
    // order): no Set of its elements is built.
    const same = have !== undefined && sameList(set.elements, have.elements);
    const want = new Set(same ? [] : set.elements);
    const wantSize = same ? set.elements.length : want.size;
    if (!have) {
      plan.maxelem.set(set.name, maxelemFor(want.size));
      plan.before.create(set.name, { type: set.type, family: set.family, maxelem: maxelemFor(want.size) });
      // Desired elements are canonical already (DesiredIpset.elements).
      for (const e of want) plan.before.addCanonical(set.name, e);
      continue;
    }
    if (have.type !== set.type || have.family !== set.family) {
      throw new Error(`ipset ${set.name} exists as ${have.type} family ${have.family ?? '?'}, weft needs ${set.type} family ${set.family}: it was not made by this agent; remove it`);
    }
    const { size, missing, extra } = same ? { size: have.elements.length, missing: [], extra: [] } : compare(set, have, want);
    const growsFirst = set.role === 'allow';
    // What the set holds between "before" and "after": the union when it grows first, else the intersection.
    const between = growsFirst ? size + missing.length : size - extra.length;
    const plain = have.flags.length === 0 && have.decoratedElements === 0 && have.options.timeout === undefined;
    plan.maxelem.set(set.name, Number(have.options.maxelem ?? DEFAULT_MAXELEM));
    if (!plain || Number(have.options.maxelem ?? DEFAULT_MAXELEM) < between) {
      const temp = names.tempSet(set.name);
      plan.maxelem.set(set.name, maxelemFor(Math.max(between, wantSize)));
      const absent = new Set(missing);
      // Grows first: the union (all desired elements and the extra ones); else the intersection.
      const all = same ? set.elements : [...want];
      const content = growsFirst ? [...all, ...extra] : all.filter((e) => !absent.has(e));
      plan.before.create(temp, { type: set.type, family: set.family, maxelem: maxelemFor(Math.max(between, wantSize)) });
      for (const e of content) plan.before.add(temp, e);
      plan.before.swap(set.name, temp).destroy(temp);
    } else if (growsFirst) {
      for (const e of missing) plan.before.add(set.name, e);
    } else {
      for (const e of extra) shrink[set.role].push({ name: set.name, element: e });
    }
    if (growsFirst) for (const e of extra) shrink.allow.push({ name: set.name, element: e });
    else for (const e of missing) grow[set.role].push({ name: set.name, element: e });
  }
  for (const c of [...shrink.admit, ...shrink.isolate]) plan.before.del(c.name, c.element);
  for (const c of [...grow.isolate, ...grow.admit]) plan.after.add(c.name, c.element);
  for (const c of shrink.allow) plan.after.del(c.name, c.element);
  const wanted = new Set(desired.map((s) => s.name));
  for (const s of saved) if (names.ownsSet(s.name) && !wanted.has(s.name) && !leftovers.has(s.name)) plan.destroy.push(s.name);
  return plan;
}
