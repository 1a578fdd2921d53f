/**
 * A run's results as a Markdown report with SVG plots: the machine, a summary (targets missed,
 * figures whose spread is too wide to trust, benches that failed), then per bench its notes, a
 * table of every figure (value, reference and ratio, spread, target) and its plots: scaling
 * curves for figures measured at several scales, latency distributions for figures with their
 * samples. renderReport is pure; writeReport puts the files in place.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tooWide, TRUST_LIMIT, type BenchRecord, type Spread } from './results';
import type { RunResults } from './results-file';
import { distributionSvg, label, scalingPlotSvg } from './svg';
import { elapsed } from './progress';

export interface Report {
  markdown: string;
  /** File names (relative to the plot directory) and contents. */
  plots: { file: string; svg: string }[];
}

/** Figures with at least this many samples get a row in their bench's distribution plot. */
const DISTRIBUTION_MIN_SAMPLES = 5;

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
const slug = (text: string): string => text.toLowerCase().replace(/µ/g, 'u').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';

export function valueText(v: number, unit: string): string {
  return Number.isFinite(v) ? `${label(v)} ${unit}` : 'not measured';
}

export function spreadText(s: Spread | undefined): string {
  if (!s) return '';
  const p90 = s.p90 !== undefined ? `, p90 ${label(s.p90)}` : '';
  const warn = tooWide(s) ? ' **spread too wide to trust**' : '';
  return `${label(s.min)}-${label(s.max)}${p90} (n ${s.n}, ${s.measure} ${pct(s.relative)})${warn}`;
}

function targetText(r: BenchRecord): string {
  if (!r.target) return '';
  return `${r.target.text}: ${r.target.met ? 'met' : '**missed**'}`;
}

function figureRow(r: BenchRecord, withNotes: boolean): string {
  const ref = r.reference ? `${r.reference.name}: ${valueText(r.reference.value, r.unit)}` : '';
  const ratio = r.ratio !== undefined && Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}x` : '';
  const cells = [r.name, valueText(r.value, r.unit), ref, ratio, spreadText(r.spread), targetText(r), ...(withNotes ? [r.notes ?? ''] : [])];
  return `| ${cells.map(cell).join(' | ')} |`;
}

/** The benches with anything to show, in the order they ran (their records came in that order). */
function benchOrder(r: RunResults): string[] {
  return [...new Set([...r.records.map((x) => x.bench), ...r.notes.map((n) => n.bench), ...r.failures.map((f) => f.bench)])];
}

function scalingPlots(bench: string, records: BenchRecord[]): { file: string; title: string; svg: string }[] {
  const byPlot = new Map<string, BenchRecord[]>();
  for (const r of records) if (r.scale) byPlot.set(r.scale.plot, [...(byPlot.get(r.scale.plot) ?? []), r]);
  return [...byPlot].map(([plot, rs]) => {
    const seriesNames = [...new Set(rs.map((r) => r.scale!.series))];
    const series = seriesNames.map((name) => ({ name, points: rs.filter((r) => r.scale!.series === name).map((r) => ({ x: r.scale!.x, y: r.value })) }));
    const title = rs[0].scale!.title;
    return { file: `${slug(bench)}-${slug(plot)}.svg`, title, svg: scalingPlotSvg({ title, xLabel: rs[0].scale!.xLabel, yLabel: rs[0].unit, series }) };
  });
}

function distributionPlots(bench: string, records: BenchRecord[]): { file: string; title: string; svg: string }[] {
  const withSamples = records.filter((r) => (r.samples?.length ?? 0) >= DISTRIBUTION_MIN_SAMPLES);
  const units = [...new Set(withSamples.map((r) => r.unit))];
  return units.map((unit) => {
    const title = `${bench}: distribution of the samples, ${unit}`;
    const rows = withSamples.filter((r) => r.unit === unit).map((r) => ({ name: r.name, samples: r.samples! }));
    return { file: `${slug(bench)}-distribution-${slug(unit)}.svg`, title, svg: distributionSvg({ title, unit, rows }) };
  });
}

function machineSection(r: RunResults): string[] {
  const m = r.machine;
  const rows: [string, string][] = [
    ['CPU', `${m.cpu} (${m.cores} cores, ${m.arch})`],
    ['memory', `${m.memoryGiB} GiB`],
    ['kernel', m.kernel],
    ['distribution', m.distro],
    ['Node.js', m.node],
    ...Object.entries(m.tools).map(([tool, version]): [string, string] => [tool, version]),
  ];
  return ['## Machine', '', '| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`), ''];
}

function summarySection(r: RunResults): string[] {
  const targets = r.records.filter((x) => x.target);
  const missed = targets.filter((x) => !x.target!.met);
  const wide = r.records.filter((x) => tooWide(x.spread));
  const out = ['## Summary', '', `- ${r.records.length} figures from ${plural(new Set(r.records.map((x) => x.bench)).size, 'bench', 'benches')}; targets met: ${targets.length - missed.length} of ${targets.length}.`];
  for (const x of missed) out.push(`- target missed: ${x.bench}, ${x.name}: ${x.target!.of === 'ratio' ? `${x.ratio?.toFixed(2)}x` : valueText(x.value, x.unit)} (target ${x.target!.text})`);
  for (const x of wide) out.push(`- spread too wide to trust: ${x.bench}, ${x.name} (${x.spread!.measure} ${pct(x.spread!.relative)})`);
  for (const f of r.failures) out.push(`- **failed**: ${f.bench}: ${cell(f.error.split('\n')[0])}`);
  out.push('');
  return out;
}

/** The report; plots are linked as `<plotLink>/<file>`. */
export function renderReport(r: RunResults, plotLink: string): Report {
  const plots: Report['plots'] = [];
  const md = [
    '# weft benchmark results',
    '',
    `Run of ${r.date} (${elapsed(r.durationMs)}${r.weft ? `, weft ${r.weft}` : ''}): \`npm run bench${r.args.length ? ` -- ${r.args.join(' ')}` : ''}\`, ${r.complete ? 'every bench' : `benches: ${r.benches.join(', ')}`}.`,
    'Each figure is the median of its runs, next to its reference measured in the same run where it has one (ratio = figure / reference).',
    `Spread: min-max (p90), and over a few runs max/min, over many samples the interquartile range over the median; beyond ${pct(TRUST_LIMIT['max/min'])} (max/min) or ${pct(TRUST_LIMIT['IQR/median'])} (IQR/median) a figure is marked as too wide to trust.`,
    '',
    ...machineSection(r),
    ...summarySection(r),
  ];
  for (const bench of benchOrder(r)) {
    const records = r.records.filter((x) => x.bench === bench);
    md.push(`## ${bench}`, '');
    for (const f of r.failures.filter((x) => x.bench === bench)) md.push(`**Failed:** ${cell(f.error.split('\n')[0])}`, '');
    for (const n of r.notes.filter((x) => x.bench === bench)) md.push(`- ${n.text}`);
    if (r.notes.some((x) => x.bench === bench)) md.push('');
    if (records.length > 0) {
      const withNotes = records.some((x) => x.notes);
      md.push(`| figure | value | reference | ratio | spread | target |${withNotes ? ' notes |' : ''}`, `|${' --- |'.repeat(withNotes ? 7 : 6)}`);
      for (const x of records) md.push(figureRow(x, withNotes));
      md.push('');
    }
    for (const p of [...scalingPlots(bench, records), ...distributionPlots(bench, records)]) {
      plots.push({ file: p.file, svg: p.svg });
      md.push(`![${cell(p.title)}](${plotLink}/${p.file})`, '');
    }
  }
  return { markdown: `${md.join('\n').trimEnd()}\n`, plots };
}

/**
 * Writes the report to `mdFile` and its plots into `plotDir` (emptied of earlier plots first, so
 * none is left from a bench no longer run).
 */
export function writeReport(r: RunResults, mdFile: string, plotDir: string): Report {
  const link = path.relative(path.dirname(mdFile), plotDir).split(path.sep).join('/') || '.';
  const report = renderReport(r, link);
  fs.mkdirSync(plotDir, { recursive: true });
  for (const f of fs.readdirSync(plotDir)) if (f.endsWith('.svg')) fs.rmSync(path.join(plotDir, f));
  for (const p of report.plots) fs.writeFileSync(path.join(plotDir, p.file), p.svg);
  fs.writeFileSync(mdFile, report.markdown);
  return report;
}
