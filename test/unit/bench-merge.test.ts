import test from 'ava';
import { mergeResults } from '../../bench/merge';
import { BENCH_NAMES } from '../../bench/select';
import { rec, runResults } from '../helpers/bench-results';

const figure = (bench: string, name: string, value: number) => rec(bench, { name, unit: 'ms', value });

test('partial runs of one tree merge into one; a figure measured twice keeps its newest value', (t) => {
  const first = runResults([figure('services', 'full sync', 100), figure('ipam', 'ADD', 60)], {
    date: '2026-12-04T10:00:00.000Z',
    benches: ['services', 'ipam'],
    args: ['--only', 'services,ipam'],
    notes: [{ bench: 'services', text: 'noisy' }],
  });
  const second = runResults([figure('services', 'full sync', 90)], {
    date: '2026-12-04T11:00:00.000Z',
    benches: ['services'],
    args: ['--only', 'services'],
    notes: [{ bench: 'services', text: 'quiet' }],
  });
  // Given newest first: the order of the files does not matter, their dates do.
  const merged = mergeResults([second, first]);
  t.deepEqual(
    merged.records.map((r) => [r.bench, r.name, r.value]),
    [
      ['ipam', 'ADD', 60],
      ['services', 'full sync', 90],
    ],
  );
  t.deepEqual(merged.notes, [{ bench: 'services', text: 'quiet' }], "a bench's notes come from its newest run");
  t.is(merged.date, first.date);
  t.is(merged.durationMs, first.durationMs + second.durationMs);
  t.deepEqual(merged.args, ['--only', 'services,ipam', '+', '--only', 'services']);
  t.false(merged.complete);
});

test('runs that together hold every bench make a complete run', (t) => {
  const runs = BENCH_NAMES.map((b, i) => runResults([figure(b, 'x', i)], { benches: [b], date: `2026-12-04T10:00:${String(i).padStart(2, '0')}.000Z` }));
  t.true(mergeResults(runs).complete);
  t.false(mergeResults(runs.slice(1)).complete);
});

test('runs of different trees are refused', (t) => {
  const a = runResults([], { weft: '0.1.0, commit aaaaaaa' });
  const b = runResults([], { weft: '0.1.0, commit bbbbbbb' });
  t.throws(() => mergeResults([a, b]), { message: /different trees/ });
  t.throws(() => mergeResults([]), { message: /no results files/ });
});
