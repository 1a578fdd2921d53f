/**
 * Output for weftctl: aligned tables for people, JSON for scripts (-o json), and the one-line
 * error convention (`weftctl: <message>` on stderr, exit code 1).
 */

export type OutputFormat = 'table' | 'json' | 'wide';
export const OUTPUT_CHOICES: readonly OutputFormat[] = ['table', 'wide', 'json'];

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i])))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function labelsText(labels: Record<string, string>): string {
  const text = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return text || '<none>';
}

/** A usage mistake (unknown option, missing argument): said with a pointer to --help. */
export class UsageError extends Error {
  override name = 'UsageError';
}
