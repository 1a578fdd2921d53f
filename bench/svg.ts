/**
 * The report's plots as SVG, written by hand (no drawing library): scaling curves (a figure
 * against a count, a line per series) and latency distributions (a row per figure: every sample
 * as a dot, the interquartile box, the median, min to max). Every point carries its numbers as
 * data-* attributes and a tooltip, so the picture can be checked and read. Pure.
 */
import { quantile } from './stats';

const COLORS = ['#1e88e5', '#e53935', '#43a047', '#fb8c00', '#8e24aa', '#00897b', '#6d4c41', '#546e7a'];
/** Rough width of a character of the 12px sans-serif labels. */
const CHAR = 7;

export const escapeXml = (text: string): string => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A number as a label: thousands separated, three significant digits or so, no trailing zeros. */
export function label(v: number): string {
  const a = Math.abs(v);
  if (!Number.isFinite(v)) return String(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  const text = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 || a === 0 ? v.toFixed(2) : v.toPrecision(2);
  return text.includes('.') && !text.includes('e') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** Coordinates: at most two decimals, so the file stays readable. */
const c = (v: number): string => String(Math.round(v * 100) / 100);

/** Round tick values from at or below `lo` to at or above `hi`, about `count` of them. */
export function linearTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  const step = (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
  // Decimal places of the step, so that 3 + 3 x 0.1 is written 3.3.
  const places = Math.max(0, -Math.floor(Math.log10(step)));
  const ticks: number[] = [];
  for (let k = Math.floor(lo / step + 1e-9); k <= Math.ceil(hi / step - 1e-9); k++) ticks.push(Number((k * step).toFixed(places)));
  return ticks;
}

interface Axis {
  /** Value to pixel. */
  at(v: number): number;
  ticks: number[];
}

/** A linear or (for values over more than `logAbove` times their range) logarithmic axis from `from` to `to` pixels. */
function valueAxis(values: number[], from: number, to: number, logAbove: number, fromZero: boolean): Axis {
  const finite = values.filter(Number.isFinite);
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (finite.length === 0) [lo, hi] = [0, 1];
  if (lo > 0 && hi / lo > logAbove) {
    const [a, b] = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
    const ticks = Array.from({ length: b - a + 1 }, (_, i) => 10 ** (a + i));
    return { at: (v) => from + ((Math.log10(v) - a) / (b - a || 1)) * (to - from), ticks };
  }
  if (fromZero) lo = Math.min(0, lo);
  else {
    const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  if (hi === lo) hi = lo + 1;
  const ticks = linearTicks(lo, hi);
  [lo, hi] = [ticks[0], ticks[ticks.length - 1]];
  return { at: (v) => from + ((v - lo) / (hi - lo)) * (to - from), ticks };
}

/** The svg element, a white background and the title at (titleX, 20). */
function opening(width: number, height: number, title: string, titleX: number): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${titleX}" y="20" font-weight="bold">${escapeXml(title)}</text>`,
  ];
}

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface ScalingPlot {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

/**
 * x: the distinct counts measured; on a log scale when they span ten times or more (100, 1,000,
 * 10,000), else evenly spaced in order (0, 100, 1,000 policies: a log scale has no 0).
 */
function countAxis(xs: number[], from: number, to: number): (x: number) => number {
  const distinct = [...new Set(xs)].sort((a, b) => a - b);
  const [lo, hi] = [distinct[0], distinct[distinct.length - 1]];
  if (distinct.length === 1) return () => (from + to) / 2;
  if (lo > 0 && hi / lo >= 10) {
    const pad = (to - from) * 0.06;
    return (x) => from + pad + ((Math.log10(x) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (to - from - 2 * pad);
  }
  return (x) => from + ((distinct.indexOf(x) + 0.5) / distinct.length) * (to - from);
}

export function scalingPlotSvg(p: ScalingPlot): string {
  const legendWidth = Math.max(...p.series.map((s) => s.name.length), 6) * CHAR + 40;
  const [width, height] = [600 + legendWidth, 340];
  const [left, right, top, bottom] = [72, width - legendWidth, 40, height - 48];
  const points = p.series.flatMap((s) => s.points.filter((pt) => Number.isFinite(pt.y)));
  const xAt = countAxis(points.map((pt) => pt.x), left, right);
  const y = valueAxis(points.map((pt) => pt.y), bottom, top, 100, true);
  const out = opening(width, height, p.title, left);
  for (const t of y.ticks) {
    const py = c(y.at(t));
    out.push(`<line x1="${left}" x2="${right}" y1="${py}" y2="${py}" stroke="#e0e0e0"/>`, `<text x="${left - 6}" y="${py}" dy="4" text-anchor="end" fill="#555">${label(t)}</text>`);
  }
  for (const x of [...new Set(points.map((pt) => pt.x))]) {
    out.push(`<text x="${c(xAt(x))}" y="${bottom + 18}" text-anchor="middle" fill="#555">${label(x)}</text>`);
  }
  out.push(
    `<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`,
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#333"/>`,
    `<text x="${(left + right) / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(p.xLabel)}</text>`,
    `<text x="16" y="${(top + bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(top + bottom) / 2})">${escapeXml(p.yLabel)}</text>`,
  );
  p.series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length];
    const pts = s.points.filter((pt) => Number.isFinite(pt.y)).sort((a, b) => a.x - b.x);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((pt) => `${c(xAt(pt.x))},${c(y.at(pt.y))}`).join(' ')}"/>`);
    for (const pt of pts) {
      const tip = `${s.name}: ${label(pt.x)} ${p.xLabel} -> ${label(pt.y)} ${p.yLabel}`;
      out.push(`<circle cx="${c(xAt(pt.x))}" cy="${c(y.at(pt.y))}" r="4" fill="${color}" data-series="${escapeXml(s.name)}" data-x="${pt.x}" data-y="${pt.y}"><title>${escapeXml(tip)}</title></circle>`);
    }
    const ly = top + 8 + k * 20;
    out.push(`<rect x="${right + 16}" y="${ly - 6}" width="14" height="4" fill="${color}"/>`, `<text x="${right + 36}" y="${ly}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface DistributionRow {
  name: string;
  samples: number[];
}

export interface DistributionPlot {
  title: string;
  unit: string;
  rows: DistributionRow[];
}

const ROW = 22;
/** Longer row names are cut (the tooltip has them whole). */
const MAX_LABEL = 60;

/** A small deterministic vertical offset for sample `i`, so equal values do not hide each other. */
const jitter = (i: number): number => (((i * 37) % 11) - 5) * 1.2;

export function distributionSvg(p: DistributionPlot): string {
  const labelWidth = Math.min(Math.max(...p.rows.map((r) => r.name.length), 4) * CHAR + 24, MAX_LABEL * CHAR + 24);
  const width = labelWidth + 560;
  const [left, right, top] = [labelWidth, width - 24, 40];
  const bottom = top + p.rows.length * ROW + 8;
  const height = bottom + 44;
  const x = valueAxis(p.rows.flatMap((r) => r.samples), left, right, 20, false);
  const out = opening(width, height, p.title, 8);
  for (const t of x.ticks) {
    const px = c(x.at(t));
    out.push(`<line x1="${px}" x2="${px}" y1="${top}" y2="${bottom}" stroke="#e0e0e0"/>`, `<text x="${px}" y="${bottom + 16}" text-anchor="middle" fill="#555">${label(t)}</text>`);
  }
  out.push(`<text x="${(left + right) / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(p.unit)}</text>`);
  p.rows.forEach((r, k) => {
    const color = COLORS[k % COLORS.length];
    const cy = top + k * ROW + ROW / 2;
    const sorted = r.samples.filter(Number.isFinite).sort((a, b) => a - b);
    const [q1, med, q3] = [0.25, 0.5, 0.75].map((q) => quantile(sorted, q));
    const [min, max] = [sorted[0], sorted[sorted.length - 1]];
    const tip = `${r.name}: median ${label(med)} ${p.unit}, quartiles ${label(q1)}-${label(q3)}, min ${label(min)}, max ${label(max)}, ${sorted.length} samples`;
    out.push(`<g><title>${escapeXml(tip)}</title>`, `<text x="${left - 8}" y="${cy + 4}" text-anchor="end">${escapeXml(r.name.length > MAX_LABEL ? `${r.name.slice(0, MAX_LABEL - 1)}…` : r.name)}</text>`);
    if (sorted.length > 0) {
      out.push(
        `<line x1="${c(x.at(min))}" x2="${c(x.at(max))}" y1="${cy}" y2="${cy}" stroke="#9e9e9e"/>`,
        `<rect x="${c(x.at(q1))}" y="${cy - 7}" width="${c(Math.max(1, x.at(q3) - x.at(q1)))}" height="14" fill="${color}" fill-opacity="0.25" stroke="${color}"/>`,
        `<line x1="${c(x.at(med))}" x2="${c(x.at(med))}" y1="${cy - 8}" y2="${cy + 8}" stroke="#212121" stroke-width="2" data-median="${med}"/>`,
      );
      r.samples.forEach((v, i) => {
        if (Number.isFinite(v)) out.push(`<circle cx="${c(x.at(v))}" cy="${c(cy + jitter(i))}" r="2" fill="${color}" fill-opacity="0.6" data-value="${v}"/>`);
      });
    }
    out.push('</g>');
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
