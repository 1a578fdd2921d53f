/**
 * A range set: the ranges one attachment gets exactly one address from (one set per address
 * family in a dual-stack network), and the round-robin walk over it.
 */
import type { Address } from './address';
import { offset } from './address';
import { type Range, rangeContains, rangesOverlap, rangeToString, reservedReason } from './range';

export type RangeSet = readonly Range[];

/** Same-family, non-overlapping ranges; throws Error with host-local's wording otherwise. */
export function validateRangeSet(set: RangeSet): void {
  if (set.length === 0) throw new Error('empty range set');
  if (set.some((r) => r.start.family !== set[0].start.family)) throw new Error('mixed address families');
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      if (rangesOverlap(set[i], set[j])) throw new Error(`subnets ${rangeToString(set[i])} and ${rangeToString(set[j])} overlap`);
    }
  }
}

export function rangeSetsOverlap(a: RangeSet, b: RangeSet): boolean {
  return a.some((ra) => b.some((rb) => rangesOverlap(ra, rb)));
}

/** The range of the set that contains the address, if any. */
export function rangeFor(set: RangeSet, address: Address): Range | undefined {
  return set.find((r) => rangeContains(r, address));
}

/** "a-b,c-d", as host-local prints a range set in its messages. */
export function rangeSetToString(set: RangeSet): string {
  return set.map(rangeToString).join(',');
}

export interface Candidate {
  readonly range: Range;
  readonly address: Address;
}

/** The position after `address` in range `index`, wrapping to the next range's start. */
function step(set: RangeSet, index: number, address: Address): [number, Address] {
  if (address.value < set[index].end.value) return [index, offset(address, 1n)];
  const next = (index + 1) % set.length;
  return [next, set[next].start];
}

/**
 * Every address of the set that may be handed out, each once, in host-local's round-robin
 * order: starting right after the last reserved address (when it still belongs to the set) and
 * ending with it, otherwise from the first range's start. A container that crash-loops thus
 * does not get its old address back until the whole set has been used. Lazy: a /64 is walked
 * only as far as the caller needs.
 */
export function* candidates(set: RangeSet, lastReserved?: Address): Generator<Candidate> {
  const total = set.reduce((n, r) => n + (r.end.value - r.start.value + 1n), 0n);
  const lastIndex = lastReserved ? set.findIndex((r) => rangeContains(r, lastReserved)) : -1;
  let [index, current] = lastReserved && lastIndex >= 0 ? step(set, lastIndex, lastReserved) : [0, set[0].start];
  for (let visited = 0n; visited < total; visited++) {
    const range = set[index];
    if (!reservedReason(range, current)) yield { range, address: current };
    [index, current] = step(set, index, current);
  }
}
