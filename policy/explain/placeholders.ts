/**
 * Addresses for pods the manifests give none (status.podIPs is the kubelet's to write, so
 * hand-written manifests have none). The evaluator answers by address; each such pod gets a
 * placeholder no real pod holds and no ipBlock of any policy contains, so that a pod whose
 * address is unknown is matched by pod selectors only, never by an ipBlock. Placeholders are
 * never shown. Pure.
 */
import { formatIp, maxAddress, type Family } from '../address';

/** Addresses taken: real pod addresses and the ipBlock ranges (cidr minus except) of policies. */
export interface Span {
  family: Family;
  first: bigint;
  last: bigint;
}

export interface PlaceholderResult {
  addresses: string[];
  /**
   * False when every address of both families is inside some ipBlock: then placeholders may be
   * matched by an ipBlock (the caller says so).
   */
  clear: boolean;
}

/** Where the search starts: unique local IPv6 (fd00::/8), then IPv4's reserved 240.0.0.0/4. */
const START: Readonly<Record<Family, bigint>> = { 6: 0xfdn << 120n, 4: 0xf0000000n };

/** Up to `need` values of [from, to] outside `spans` (sorted by first). */
function freeValues(spans: readonly Span[], from: bigint, to: bigint, need: number): bigint[] {
  const out: bigint[] = [];
  let cursor = from;
  for (const span of spans) {
    if (out.length >= need || cursor > to) break;
    if (span.last < cursor) continue;
    for (; cursor < span.first && cursor <= to && out.length < need; cursor++) out.push(cursor);
    if (span.last + 1n > cursor) cursor = span.last + 1n;
  }
  for (; cursor <= to && out.length < need; cursor++) out.push(cursor);
  return out;
}

function search(family: Family, spans: readonly Span[], need: number): bigint[] {
  const own = spans.filter((s) => s.family === family).sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const found = freeValues(own, START[family], maxAddress(family), need);
  return found.length >= need ? found : [...found, ...freeValues(own, 1n, START[family] - 1n, need - found.length)];
}

/**
 * `count` distinct addresses outside `pods` and `ipBlocks`; when ipBlocks cover everything,
 * addresses outside `pods` only (and `clear` false).
 */
export function placeholderAddresses(count: number, pods: readonly Span[], ipBlocks: readonly Span[]): PlaceholderResult {
  if (count === 0) return { addresses: [], clear: true };
  for (const family of [6, 4] as const) {
    const values = search(family, [...pods, ...ipBlocks], count);
    if (values.length >= count) return { addresses: values.map((v) => formatIp(family, v)), clear: true };
  }
  return { addresses: search(6, pods, count).map((v) => formatIp(6, v)), clear: false };
}
