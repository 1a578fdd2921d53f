/** Summary statistics for latency samples (milliseconds). */

export interface Summary {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
  /** Interquartile range relative to the median: how far one run is to be trusted. */
  spread: number;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  return {
    n: sorted.length,
    median,
    p90: quantile(sorted, 0.9),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    spread: (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / median,
  };
}

/** Spread beyond which a figure is flagged as untrustworthy in the report. */
export const WIDE_SPREAD = 0.5;

export function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** One table row: name, median, p90, spread (with a warning when too wide). */
export function row(name: string, s: Summary, ratioTo?: Summary): string {
  const ratio = ratioTo ? `${(s.median / ratioTo.median).toFixed(2)}x` : '';
  const warn = s.spread > WIDE_SPREAD ? '  (spread too wide to trust)' : '';
  return `${name.padEnd(34)}${fmt(s.median).padStart(9)}${fmt(s.p90).padStart(9)}${(s.spread * 100).toFixed(0).padStart(7)}%${ratio.padStart(9)}${warn}`;
}

export function header(): string {
  return `${'measurement'.padEnd(34)}${'median'.padStart(9)}${'p90'.padStart(9)}${'IQR/med'.padStart(8)}${'ratio'.padStart(9)}`;
}
