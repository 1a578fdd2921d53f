import test from 'ava';
import { betterOf, KEEP_SAMPLES, makeRecord, Recorder, spreadOf, tooWide } from '../../bench/results';

test('a figure from samples: the median, their spread, and the samples kept', (t) => {
  const r = makeRecord('ipam', { name: 'weft-ipam ADD', unit: 'ms', samples: [12, 10, 11, 30, 13] });
  t.is(r.bench, 'ipam');
  t.is(r.value, 12);
  t.deepEqual(r.samples, [12, 10, 11, 30, 13]);
  t.like(r.spread, { n: 5, min: 10, max: 30, measure: 'max/min', relative: 2 });
  t.is(r.better, 'lower');
  t.is(r.reference, undefined);
  t.is(r.ratio, undefined);
});

test('a figure against its reference: the ratio of the medians, both spreads', (t) => {
  const r = makeRecord('ipam', { name: 'weft-ipam ADD', unit: 'ms', samples: [6, 6, 6], reference: { name: 'host-local ADD', samples: [3, 4, 3] } });
  t.is(r.reference?.name, 'host-local ADD');
  t.is(r.reference?.value, 3);
  t.is(r.ratio, 2);
  t.like(r.reference?.spread, { min: 3, max: 4 });
  const byValue = makeRecord('attach', { name: 'burst', unit: 'ms', value: 500, reference: { name: 'ref burst', value: 400 } });
  t.is(byValue.ratio, 1.25);
  t.is(byValue.spread, undefined, 'one measurement has no spread');
});

test('spread: max/min over a few runs, the interquartile range over many samples', (t) => {
  t.like(spreadOf([100, 110, 125]), { measure: 'max/min', relative: 0.25 });
  t.true(tooWide(spreadOf([100, 110, 125])), 'max/min 25% is beyond 20%');
  t.false(tooWide(spreadOf([100, 110, 115])));
  // Many samples: two outliers do not make the figure untrustworthy, a wide middle does.
  const steady = [...Array.from({ length: 18 }, (_, i) => 100 + i), 400, 900];
  t.is(spreadOf(steady)?.measure, 'IQR/median');
  t.false(tooWide(spreadOf(steady)));
  t.true(tooWide(spreadOf(Array.from({ length: 20 }, (_, i) => 50 + i * 10))));
  t.is(spreadOf([5]), undefined);
  t.is(spreadOf([5, 5])?.relative, 0);
});

test('targets on the figure or on its ratio, each comparison', (t) => {
  const fast = makeRecord('services', { name: 'sync', unit: 'ms', value: 40, target: { op: '<', limit: 50 } });
  t.deepEqual(fast.target, { of: 'value', op: '<', limit: 50, text: '< 50 ms', met: true });
  t.false(makeRecord('services', { name: 'sync', unit: 'ms', value: 50, target: { op: '<', limit: 50 } }).target!.met);
  t.true(makeRecord('services', { name: 'sync', unit: 'ms', value: 50, target: { op: '<=', limit: 50 } }).target!.met);
  const path = makeRecord('overlay', { name: 'throughput', unit: 'Gbit/s', value: 9, reference: { name: 'hand', value: 10 }, target: { of: 'ratio', op: '>=', limit: 0.95 } });
  t.like(path.target, { of: 'ratio', text: '>= 0.95x', met: false });
  t.true(makeRecord('overlay', { name: 'x', unit: 'Gbit/s', value: 9.6, reference: { name: 'hand', value: 10 }, target: { of: 'ratio', op: '>', limit: 0.95 } }).target!.met);
  t.false(makeRecord('x', { name: 'x', unit: 'ms', value: NaN, target: { op: '<', limit: 50 } }).target!.met, 'what was not measured meets no target');
});

test('which way is better follows the unit unless given', (t) => {
  t.is(betterOf('ms'), 'lower');
  t.is(betterOf('MiB'), 'lower');
  t.is(betterOf('Gbit/s'), 'higher');
  t.is(betterOf('conn/s'), 'higher');
  t.is(makeRecord('b', { name: 'n', unit: 'ms', value: 1, better: 'higher' }).better, 'higher');
});

test('many samples are summarized, not kept', (t) => {
  const many = Array.from({ length: KEEP_SAMPLES + 1 }, (_, i) => i);
  const r = makeRecord('b', { name: 'n', unit: 'ms', samples: many });
  t.is(r.samples, undefined);
  t.is(r.spread?.n, KEEP_SAMPLES + 1);
  t.is(r.value, KEEP_SAMPLES / 2);
});

test('the recorder files records and notes under the bench begun, a name used twice gets a number', (t) => {
  const recorder = new Recorder();
  recorder.begin('ipam');
  recorder.record({ name: 'ADD', unit: 'ms', value: 1 });
  recorder.note('data directory in tmpfs');
  recorder.begin('attach');
  recorder.record({ name: 'ADD', unit: 'ms', value: 2 });
  recorder.record({ name: 'ADD', unit: 'ms', value: 3 });
  t.deepEqual(recorder.records.map((r) => `${r.bench}/${r.name}=${r.value}`), ['ipam/ADD=1', 'attach/ADD=2', 'attach/ADD (2)=3']);
  t.deepEqual(recorder.notes, [{ bench: 'ipam', text: 'data directory in tmpfs' }]);
});
