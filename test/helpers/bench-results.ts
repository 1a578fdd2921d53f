/** Results of made-up bench runs for the bench suite's unit tests. */
import { makeRecord, type BenchRecord, type FigureInput } from '../../bench/results';
import type { RunResults } from '../../bench/results-file';

export function runResults(records: BenchRecord[], extra: Partial<RunResults> = {}): RunResults {
  return {
    format: 'weft-bench-results',
    version: 1,
    date: '2025-03-01T14:05:09.123Z',
    weft: '0.1.0, commit 499d992',
    durationMs: 754_000,
    args: ['--only', 'services'],
    benches: [...new Set(records.map((r) => r.bench))],
    complete: false,
    machine: { cpu: 'Test CPU @ 2.0GHz', cores: 2, memoryGiB: 7.8, arch: 'x64', kernel: 'Linux 6.1.0', distro: 'Debian GNU/Linux 12 (bookworm)', node: 'v20.0.0', tools: { nft: 'nftables v1.0.6', iptables: 'iptables v1.8.9 (nf_tables)' } },
    records,
    notes: [],
    failures: [],
    ...extra,
  };
}

/** One record of `bench`. */
export const rec = (bench: string, input: FigureInput): BenchRecord => makeRecord(bench, input);

/** Full sync times of the services bench: three runs per backend and scale. */
export function servicesScaling(): BenchRecord[] {
  const points: [string, number, number[]][] = [
    ['nftables', 100, [40, 42, 41]],
    ['nftables', 1000, [120, 125, 118]],
    ['nftables', 10_000, [900, 950, 910]],
    ['iptables-legacy', 100, [60, 61, 63]],
    ['iptables-legacy', 1000, [800, 820, 790]],
    ['iptables-legacy', 10_000, [14_600, 14_200, 15_000]],
  ];
  return points.map(([backend, n, samples]) =>
    rec('services', {
      name: `${backend}, ${n} services: full sync`,
      unit: 'ms',
      samples,
      target: n === 10_000 ? { op: '<', limit: 2000 } : undefined,
      scale: { plot: 'full-sync', title: 'Service full sync vs services', x: n, xLabel: 'services', series: backend },
    }),
  );
}
