/**
 * Set elements of address lists, kept per list object: the compiler hands out the very same
 * list while it is unchanged (policy/intern.ts), so its elements are the objects committed last
 * time and the diff passes them by identity. Shared by NetworkPolicy's and the tiers' sets.
 */
import net from 'node:net';
import type { DesiredElement } from './desired';

type Family = 4 | 6;

const addressMemo = new WeakMap<readonly string[], Record<Family, DesiredElement[]>>();

/** One element per address of `addresses` that is of `family`. */
export function addressElements(addresses: readonly string[], family: Family): DesiredElement[] {
  let out = addressMemo.get(addresses);
  if (!out) {
    out = { 4: [], 6: [] };
    for (const a of addresses) out[net.isIP(a) === 6 ? 6 : 4].push({ key: [a] });
    addressMemo.set(addresses, out);
  }
  return out[family];
}
