import test from 'ava';
import { formatSummary, summarizeTap } from '../helpers/summary';

const tap = (pass: number, fail: number, skip = 0) =>
  `TAP version 13\nok 1 - a\n\n1..${pass + fail}\n# tests ${pass + fail}\n# pass ${pass}\n# skip ${skip}\n# fail ${fail}\n`;

test('counts passes, failures and skips from the TAP plan', (t) => {
  t.deepEqual(summarizeTap(tap(5, 2, 1), 1), { passed: 5, failed: 2, skipped: 1 });
  t.is(formatSummary(summarizeTap(tap(5, 0), 0)), '5 passed, 0 failed');
  t.is(formatSummary(summarizeTap(tap(5, 2, 1), 1)), '5 passed, 2 failed, 1 skipped');
});

test('a run without a TAP plan is a failure', (t) => {
  t.deepEqual(summarizeTap('Error: cannot find module\n', 1), { passed: 0, failed: 1, skipped: 0 });
});

test('a non-zero exit with no counted failure is still a failure', (t) => {
  t.deepEqual(summarizeTap(tap(3, 0), 1), { passed: 3, failed: 1, skipped: 0 });
});
