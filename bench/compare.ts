/**
 * `--compare OLD.json`: every figure of an earlier run next to this run's, matched by bench and
 * name, with the change in percent, and flagged where it got slower (or faster) by more than its
 * spread: a change within the noise of the two runs is no change. Where both runs compared a
 * figure to its reference, the ratio is what is compared, since it holds on a machine that is
 * busier one day than another. Pure.
 */
import type { BenchRecord, Spread } from './results';
import type { RunResults } from './results-file';
import { label } from './svg';

/** The noise assumed for a figure without a spread (a single measurement). */
export const DEFAULT_NOISE = 0.1;

export interface CompareRow {
  bench: string;
  name: string;
  /** What is compared: "x" for a ratio, else the figure's unit. */
  unit: string;
  on: 'value' | 'ratio';
  old: number;
  new: number;
  /** (new - old) / old. */
  change: number;
  /** How large a change must be to count: the wider relative spread of the two runs (for a ratio, of the figure or its reference). */
  noise: number;
  verdict: 'slower' | 'faster' | 'same';
}

export interface Comparison {
  rows: CompareRow[];
  /** "bench: name" of figures only one of the runs has. */
  onlyOld: string[];
  onlyNew: string[];
}

const key = (r: BenchRecord) => `${r.bench}: ${r.name}`;
const rel = (s: Spread | undefined) => s?.relative;

function noiseOf(a: BenchRecord, b: BenchRecord, on: CompareRow['on']): number {
  const side = (r: BenchRecord) => {
    const own = rel(r.spread);
    if (on === 'value') return own;
    const ref = rel(r.reference?.spread);
    return own === undefined && ref === undefined ? undefined : Math.max(own ?? 0, ref ?? 0);
  };
  const known = [side(a), side(b)].filter((x): x is number => x !== undefined && Number.isFinite(x));
  return known.length > 0 ? Math.max(...known) : DEFAULT_NOISE;
}

export function compareRecords(a: BenchRecord, b: BenchRecord): CompareRow {
  const on: CompareRow['on'] = Number.isFinite(a.ratio) && Number.isFinite(b.ratio) ? 'ratio' : 'value';
  const [old, now] = on === 'ratio' ? [a.ratio!, b.ratio!] : [a.value, b.value];
  const change = (now - old) / old;
  const noise = noiseOf(a, b, on);
  // A higher latency is slower; a lower rate is slower.
  const worse = b.better === 'lower' ? change : -change;
  const verdict = !Number.isFinite(change) ? 'same' : worse > noise ? 'slower' : -worse > noise ? 'faster' : 'same';
  return { bench: b.bench, name: b.name, unit: on === 'ratio' ? 'x' : b.unit, on, old, new: now, change, noise, verdict };
}

export function compareResults(old: RunResults, now: RunResults): Comparison {
  const before = new Map(old.records.map((r) => [key(r), r]));
  const after = new Set(now.records.map(key));
  return {
    rows: now.records.filter((r) => before.has(key(r))).map((r) => compareRecords(before.get(key(r))!, r)),
    onlyOld: old.records.map(key).filter((k) => !after.has(k)),
    onlyNew: now.records.map(key).filter((k) => !before.has(k)),
  };
}

const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : 'n/a');
const num = (v: number, unit: string) => (unit === 'x' ? `${v.toFixed(2)}x` : `${label(v)} ${unit}`);

/** The comparison as text: a line per figure, then the counts. */
export function formatComparison(c: Comparison, oldName: string, newName: string): string {
  const lines = [`Comparison: ${oldName} (old) -> ${newName} (new); ratios where both runs have a reference, else the figures`];
  lines.push(`${'figure'.padEnd(56)}${'old'.padStart(13)}${'new'.padStart(13)}${'change'.padStart(9)}  verdict`);
  for (const r of c.rows) {
    const verdict = r.verdict === 'same' ? `within spread (${pct(r.noise).replace('+', '±')})` : `${r.verdict.toUpperCase()} beyond spread (${pct(r.noise).replace('+', '±')})`;
    lines.push(`${`${r.bench}: ${r.name}`.slice(0, 55).padEnd(56)}${num(r.old, r.unit).padStart(13)}${num(r.new, r.unit).padStart(13)}${pct(r.change).padStart(9)}  ${verdict}`);
  }
  const count = (v: CompareRow['verdict']) => c.rows.filter((r) => r.verdict === v).length;
  lines.push(`${c.rows.length} figures compared: ${count('slower')} slower, ${count('faster')} faster beyond their spread; ${c.onlyOld.length} only in the old run, ${c.onlyNew.length} only in the new`);
  return `${lines.join('\n')}\n`;
}
