/**
 * Output for scripts beside the tables: `-o json` (output.ts) and `-o yaml`, through the yaml
 * library the agent already reads manifests with.
 */
import { printJson } from './output';

export type ReportFormat = 'table' | 'json' | 'yaml';
export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'json', 'yaml'];

/** `value` as YAML; the library is loaded when YAML is asked for (it costs ~15 ms of a start). */
export function yamlText(value: unknown): string {
  const { stringify } = require('yaml') as typeof import('yaml');
  return stringify(value, { lineWidth: 0 });
}

/** Prints `value` as JSON or YAML, or for people as `text` makes it. */
export function printReport<T>(format: string, value: T, text: (value: T) => string): void {
  if (format === 'json') printJson(value);
  else if (format === 'yaml') process.stdout.write(yamlText(value));
  else process.stdout.write(text(value));
}
