/**
 * Output for scripts beside the tables: `-o json` (output.ts) and `-o yaml`, through the yaml
 * library the agent already reads manifests with.
 */
import { stringify } from 'yaml';
import { printJson } from './output';

export type ReportFormat = 'table' | 'json' | 'yaml';
export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'json', 'yaml'];

/** Prints `value` as JSON or YAML, or for people as `text` makes it. */
export function printReport<T>(format: string, value: T, text: (value: T) => string): void {
  if (format === 'json') printJson(value);
  else if (format === 'yaml') process.stdout.write(stringify(value, { lineWidth: 0 }));
  else process.stdout.write(text(value));
}
