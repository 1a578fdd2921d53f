/**
 * Several partial runs of one tree into one: the full suite takes over an hour, and on a shared
 * machine its parts are best run when the machine is quiet (`--only policy`, later `--only
 * services`, ...). Merging keeps each figure from the newest run that measured it, so a bench
 * re-run after a noisy first attempt replaces that attempt instead of doubling it (figures are
 * matched by bench and name: `--only policy-trace-cli` replaces only the CLI figures of an
 * earlier whole policy-trace). Runs of different trees are refused: a report mixing commits would
 * compare nothing.
 */
import type { BenchRecord } from './results';
import { recordsAs, selectBenches, type BenchName } from './select';
import type { RunResults } from './results-file';

export function mergeResults(runs: readonly RunResults[]): RunResults {
  if (runs.length === 0) throw new Error('--merge: no results files');
  const trees = new Set(runs.map((r) => r.weft ?? 'unknown'));
  if (trees.size > 1) throw new Error(`--merge: the runs measured different trees (${[...trees].join(', ')}); merge runs of one commit`);
  const byDate = [...runs].sort((a, b) => a.date.localeCompare(b.date));
  const figure = (r: BenchRecord) => `${r.bench}\n${r.name}`;
  /** Each figure's newest run, and each bench's (for its notes and failures). */
  const figureOwner = new Map<string, RunResults>();
  const benchOwner = new Map<string, RunResults>();
  for (const run of byDate) {
    for (const rec of run.records) figureOwner.set(figure(rec), run);
    for (const bench of run.benches) benchOwner.set(recordsAs(bench as BenchName), run);
  }
  const owns = (run: RunResults, bench: string) => benchOwner.get(bench) === run;
  const benches = [...new Set(byDate.flatMap((r) => r.benches))];
  const newest = byDate[byDate.length - 1];
  return {
    format: 'weft-bench-results',
    version: 1,
    date: byDate[0].date,
    ...(newest.weft ? { weft: newest.weft } : {}),
    durationMs: byDate.reduce((sum, r) => sum + r.durationMs, 0),
    args: byDate.flatMap((r, i) => [...(i > 0 ? ['+'] : []), ...(r.args.length > 0 ? r.args : ['(all)'])]),
    benches,
    complete: selectBenches().every((b) => benches.includes(b)),
    machine: newest.machine,
    records: byDate.flatMap((r) => r.records.filter((rec) => figureOwner.get(figure(rec)) === r)),
    notes: byDate.flatMap((r) => r.notes.filter((n) => owns(r, n.bench))),
    failures: byDate.flatMap((r) => r.failures.filter((f) => owns(r, f.bench))),
  };
}
