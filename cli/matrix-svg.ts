/**
 * The policy matrix as an SVG picture, written by hand (no drawing library): a grid with a row
 * per source pod and a column per destination, each cell green (every port allowed), red (none)
 * or amber (some; the cell says how many), with the ports in its tooltip. Pure.
 */
import type { MatrixPair, MatrixResult } from '../policy/explain/matrix';

const CELL = 26;
/** Rough width of a character of the 12px sans-serif labels. */
const CHAR = 7;
const FOOTNOTE = 'rows: source pod; columns: destination pod; hover a cell for its ports';
const COLORS = { all: '#43a047', none: '#e53935', some: '#ffb300' };

const escape = (text: string): string => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function cell(pair: MatrixPair, x: number, y: number): string {
  const kind = pair.denied.length === 0 ? 'all' : pair.allowed.length === 0 ? 'none' : 'some';
  const mark = kind === 'all' ? '✓' : kind === 'none' ? '✗' : `${pair.allowed.length}/${pair.allowed.length + pair.denied.length}`;
  const title = `${pair.from} -> ${pair.to}: ${pair.allowed.length ? `allowed ${pair.allowed.join(', ')}` : ''}${pair.allowed.length && pair.denied.length ? '; ' : ''}${pair.denied.length ? `denied ${pair.denied.join(', ')}` : ''}`;
  return [
    `<g><title>${escape(title)}</title>`,
    `<rect x="${x}" y="${y}" width="${CELL}" height="${CELL}" fill="${COLORS[kind]}" stroke="#fff"/>`,
    `<text x="${x + CELL / 2}" y="${y + CELL / 2 + 4}" text-anchor="middle" font-size="${kind === 'some' ? 9 : 12}" fill="#fff">${mark}</text></g>`,
  ].join('');
}

export function matrixSvg(m: MatrixResult): string {
  const n = m.pods.length;
  const label = Math.max(...m.pods.map((p) => p.length)) * CHAR + 12;
  const left = label;
  // Column labels stand at 45 degrees: their height is about their length times sin 45.
  const top = Math.ceil(label * 0.72) + 24;
  const title = `weft policy matrix: ${m.ports.join(', ')}`;
  // Wide enough for the grid with its slanted labels, the title and the legend.
  const width = Math.max(left + n * CELL + Math.ceil(label * 0.72) + 10, title.length * 8 + 16, FOOTNOTE.length * CHAR + 16);
  const legendY = top + n * CELL + 24;
  const height = legendY + 44;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="8" y="16" font-weight="bold">${escape(title)}</text>`,
    `<text x="8" y="${top - 6}" fill="#555">from \\ to</text>`,
  ];
  m.pods.forEach((pod, i) => {
    out.push(`<text x="${left - 6}" y="${top + i * CELL + CELL / 2 + 4}" text-anchor="end">${escape(pod)}</text>`);
    const x = left + i * CELL + CELL / 2;
    out.push(`<text x="${x}" y="${top - 6}" transform="rotate(-45 ${x} ${top - 6})">${escape(pod)}</text>`);
  });
  m.pairs.forEach((pair, k) => out.push(cell(pair, left + (k % n) * CELL, top + Math.floor(k / n) * CELL)));
  const legend: [keyof typeof COLORS, string][] = [
    ['all', 'every port allowed'],
    ['some', 'some ports allowed'],
    ['none', 'denied'],
  ];
  legend.forEach(([kind, text], i) => {
    const x = 8 + i * 170;
    out.push(`<rect x="${x}" y="${legendY}" width="14" height="14" fill="${COLORS[kind]}"/>`, `<text x="${x + 20}" y="${legendY + 12}">${text}</text>`);
  });
  out.push(`<text x="8" y="${legendY + 34}" fill="#555">${FOOTNOTE}</text>`, '</svg>');
  return `${out.join('\n')}\n`;
}
