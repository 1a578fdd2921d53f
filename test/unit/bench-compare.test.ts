import test from 'ava';
import { compareRecords, compareResults, DEFAULT_NOISE, formatComparison } from '../../bench/compare';
import { rec, runResults } from '../helpers/bench-results';

const sync = (samples: number[]) => rec('services', { name: 'nftables, 1000 services: full sync', unit: 'ms', samples });

test('a figure slower by more than its spread is flagged, one within its spread is not', (t) => {
  const old = sync([100, 105, 110]); // max/min 10%
  const slower = compareRecords(old, sync([125, 130, 128]));
  t.like(slower, { on: 'value', old: 105, new: 128, verdict: 'slower' });
  t.is(Math.round(slower.change * 1000) / 1000, 0.219);
  t.is(Math.round(slower.noise * 100) / 100, 0.1);
  t.is(compareRecords(old, sync([108, 112, 110])).verdict, 'same', '+4.8% is within 10%');
  t.is(compareRecords(old, sync([80, 82, 81])).verdict, 'faster');
  // The wider spread of the two runs is the noise: a noisy new run proves nothing.
  t.is(compareRecords(old, sync([90, 128, 150])).verdict, 'same');
});

test('for a rate, a lower figure is the slower one', (t) => {
  const rate = (samples: number[]) => rec('services', { name: 'connections', unit: 'conn/s', samples });
  t.is(compareRecords(rate([1000, 1010, 1005]), rate([800, 805, 810])).verdict, 'slower');
  t.is(compareRecords(rate([1000, 1010, 1005]), rate([1300, 1305, 1310])).verdict, 'faster');
});

test('where both runs have a reference, the ratio is compared (a busier machine slows both)', (t) => {
  const add = (weft: number[], host: number[]) => rec('ipam', { name: 'weft-ipam ADD', unit: 'ms', samples: weft, reference: { name: 'host-local ADD', samples: host } });
  const row = compareRecords(add([6, 6, 6], [3, 3, 3]), add([12, 12, 12], [6, 6, 6]));
  t.like(row, { on: 'ratio', unit: 'x', old: 2, new: 2, change: 0, verdict: 'same' });
  t.like(compareRecords(add([6, 6, 6], [3, 3, 3]), add([9, 9, 9], [3, 3, 3])), { on: 'ratio', verdict: 'slower' });
  // A noisy reference makes the ratio as noisy: +16.7% is within the reference's 33%.
  t.like(compareRecords(add([6, 6, 6], [3, 3, 4]), add([7, 7, 7], [3, 3, 3])), { on: 'ratio', verdict: 'same' });
  // Without a reference in the old run, the figures themselves.
  t.like(compareRecords(sync([6, 6, 6]), add([9, 9, 9], [3, 3, 3])), { on: 'value', old: 6, new: 9 });
});

test('a single measurement is compared against the default noise', (t) => {
  const one = (value: number) => rec('attach', { name: 'bridge 50 ADDs at once', unit: 'ms', value });
  t.like(compareRecords(one(1000), one(1090)), { noise: DEFAULT_NOISE, verdict: 'same' });
  t.is(compareRecords(one(1000), one(1150)).verdict, 'slower');
});

test('runs are matched figure by figure; what only one has is listed, and the text says it all', (t) => {
  const old = runResults([sync([100, 101, 102]), rec('ipam', { name: 'gone', unit: 'ms', value: 1 })]);
  const now = runResults([sync([150, 151, 152]), rec('ipam', { name: 'new', unit: 'ms', value: 1 })]);
  const c = compareResults(old, now);
  t.deepEqual(c.rows.map((r) => r.name), ['nftables, 1000 services: full sync']);
  t.deepEqual(c.onlyOld, ['ipam: gone']);
  t.deepEqual(c.onlyNew, ['ipam: new']);
  const text = formatComparison(c, 'old.json', 'new.json');
  t.regex(text, /services: nftables, 1000 services: full sync\s+101 ms\s+151 ms\s+\+49\.5%\s+SLOWER beyond spread \(±2\.0%\)/);
  t.regex(text, /1 figures compared: 1 slower, 0 faster beyond their spread; 1 only in the old run, 1 only in the new/);
});
