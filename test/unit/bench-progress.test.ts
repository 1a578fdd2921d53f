import test from 'ava';
import { elapsed, progressBench, startProgress, statusLine, step, stopProgress } from '../../bench/progress';

test('elapsed time as m:ss, h:mm:ss past an hour', (t) => {
  t.is(elapsed(0), '0:00');
  t.is(elapsed(61_999), '1:01');
  t.is(elapsed(3_725_000), '1:02:05');
});

test('the status line: bench k of n, time in the bench and the run, step and count', (t) => {
  const line = statusLine({ index: 3, total: 12, bench: 'attach', step: 'ADD, CHECK, DEL', count: { i: 5, n: 30 }, benchStarted: 1000, runStarted: 0 }, 43_000);
  t.is(line, '[3/12 attach 0:42 | run 0:43] ADD, CHECK, DEL 5/30');
});

test('not on a terminal: a line per bench and per new step, none per run, nothing on stdout', (t) => {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  step('before the run started: not shown');
  startProgress(2, stream);
  try {
    progressBench(1, 'ipam');
    step('ADD and DEL', { i: 1, n: 30 });
    step('ADD and DEL', { i: 2, n: 30 });
    progressBench(2, 'services');
    step('full sync');
  } finally {
    stopProgress();
  }
  step('after the run: not shown');
  t.deepEqual(lines.map((l) => l.replace(/\d+:\d\d/g, 'T')), ['bench 1/2: ipam (run T)\n', '  ipam T: ADD and DEL\n', 'bench 2/2: services (run T)\n', '  services T: full sync\n']);
});
