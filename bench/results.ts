/**
 * The figures of a bench run as data. Each bench prints its tables for people and, next to each
 * printed figure, calls record() with the same numbers; run.ts gathers the records into the
 * results file (results-file.ts), the report (report.ts) and the comparison (compare.ts).
 *
 * The recorder derives what every consumer needs in one place: the median of the samples, the
 * ratio to the reference, the spread and whether it is too wide to trust, whether the target is
 * met, and which way is better.
 */
import { summarize, WIDE_SPREAD } from './stats';

export type Better = 'lower' | 'higher';

/**
 * How far apart the measurements behind a figure are. `relative` is the trust measure: over a
 * few runs (fewer than MANY_SAMPLES) every run counts and it is max/min - 1; over many samples
 * (per-call latencies) a few outliers are certain and do not move the median, so it is the
 * interquartile range over the median, as the printed tables show it.
 */
export interface Spread {
  n: number;
  min: number;
  max: number;
  p90?: number;
  relative: number;
  measure: 'max/min' | 'IQR/median';
}

export interface Target {
  /** What the limit applies to: the figure itself or its ratio to the reference. */
  of: 'value' | 'ratio';
  op: '<' | '<=' | '>' | '>=';
  limit: number;
  text: string;
  met: boolean;
}

/** Where a figure stands on a scaling curve: one point of series `series` in plot `plot`. */
export interface Scale {
  plot: string;
  title: string;
  x: number;
  xLabel: string;
  series: string;
}

export interface BenchRecord {
  bench: string;
  name: string;
  unit: string;
  better: Better;
  value: number;
  reference?: { name: string; value: number; spread?: Spread };
  /** value / reference value. */
  ratio?: number;
  spread?: Spread;
  target?: Target;
  notes?: string;
  scale?: Scale;
  /** The samples themselves, when few enough to keep (latency distributions). */
  samples?: number[];
}

export interface FigureInput {
  name: string;
  unit: string;
  /** The samples; value defaults to their median. */
  samples?: number[];
  value?: number;
  reference?: { name: string; value?: number; samples?: number[] };
  target?: { of?: 'value' | 'ratio'; op: Target['op']; limit: number; text?: string };
  /** Defaults from the unit: rates (".../s") higher, everything else lower. */
  better?: Better;
  notes?: string;
  scale?: Scale;
}

export interface BenchNote {
  bench: string;
  text: string;
}

/** Fewer samples than this: spread is max/min over runs; this many or more: IQR/median. */
export const MANY_SAMPLES = 10;
/**
 * Limits of `Spread.relative` beyond which a figure is marked "spread too wide to trust"; over
 * many samples the same as the printed tables (stats.ts).
 */
export const TRUST_LIMIT: Record<Spread['measure'], number> = { 'max/min': 0.2, 'IQR/median': WIDE_SPREAD };
/** More samples than this are not kept in the record (only their summary). */
export const KEEP_SAMPLES = 500;

export function betterOf(unit: string): Better {
  return /\/s$/.test(unit) ? 'higher' : 'lower';
}

export function spreadOf(samples: number[]): Spread | undefined {
  const finite = samples.filter(Number.isFinite);
  if (finite.length < 2) return undefined;
  const s = summarize(finite);
  const few = finite.length < MANY_SAMPLES;
  const relative = few ? (s.max === s.min ? 0 : s.max / Math.max(s.min, Number.MIN_VALUE) - 1) : s.spread;
  return { n: s.n, min: s.min, max: s.max, p90: few ? undefined : s.p90, relative: Math.min(relative, 1e6), measure: few ? 'max/min' : 'IQR/median' };
}

export function tooWide(spread: Spread | undefined): boolean {
  return spread !== undefined && spread.relative > TRUST_LIMIT[spread.measure];
}

function median(samples: number[]): number {
  return summarize(samples).median;
}

function targetOf(input: NonNullable<FigureInput['target']>, unit: string, value: number, ratio: number | undefined): Target {
  const of = input.of ?? 'value';
  const x = of === 'ratio' ? ratio : value;
  const met = x !== undefined && Number.isFinite(x) && { '<': x < input.limit, '<=': x <= input.limit, '>': x > input.limit, '>=': x >= input.limit }[input.op];
  const text = input.text ?? `${input.op} ${input.limit}${of === 'ratio' ? 'x' : ` ${unit}`}`;
  return { of, op: input.op, limit: input.limit, text, met };
}

/** The record of one figure of `bench`; pure. */
export function makeRecord(bench: string, input: FigureInput): BenchRecord {
  const samples = input.samples?.filter(Number.isFinite);
  const value = input.value ?? (samples && samples.length > 0 ? median(samples) : NaN);
  const out: BenchRecord = { bench, name: input.name, unit: input.unit, better: input.better ?? betterOf(input.unit), value };
  if (input.reference) {
    const refSamples = input.reference.samples?.filter(Number.isFinite);
    const refValue = input.reference.value ?? (refSamples && refSamples.length > 0 ? median(refSamples) : NaN);
    out.reference = { name: input.reference.name, value: refValue, ...(refSamples ? { spread: spreadOf(refSamples) } : {}) };
    out.ratio = value / refValue;
  }
  if (samples) out.spread = spreadOf(samples);
  if (input.target) out.target = targetOf(input.target, input.unit, value, out.ratio);
  if (input.notes) out.notes = input.notes;
  if (input.scale) out.scale = input.scale;
  if (samples && samples.length > 1 && samples.length <= KEEP_SAMPLES) out.samples = samples;
  return out;
}

/** Collects the records of a run; `begin` names the bench the following records belong to. */
export class Recorder {
  private bench = 'bench';
  readonly records: BenchRecord[] = [];
  readonly notes: BenchNote[] = [];

  begin(bench: string): void {
    this.bench = bench;
  }

  record(input: FigureInput): BenchRecord {
    // Records are matched by bench and name (compare.ts): a name used twice gets a number.
    const taken = (name: string) => this.records.some((r) => r.bench === this.bench && r.name === name);
    let name = input.name;
    for (let k = 2; taken(name); k++) name = `${input.name} (${k})`;
    const r = makeRecord(this.bench, { ...input, name });
    this.records.push(r);
    return r;
  }

  note(text: string): void {
    this.notes.push({ bench: this.bench, text });
  }
}

/** The run's recorder: benches record into it, run.ts reads it. */
export const recorder = new Recorder();

/** Records one figure of the current bench (see FigureInput). */
export function record(input: FigureInput): BenchRecord {
  return recorder.record(input);
}

/** A remark about the current bench as a whole (a part skipped, a result's size). */
export function benchNote(text: string): void {
  recorder.note(text);
}
