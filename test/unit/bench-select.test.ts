import test from 'ava';
import { BENCH_NAMES, GROUPS, recordsAs, selectBenches } from '../../bench/select';

test('without --only: every bench, the CLI part of policy-trace only once (inside policy-trace)', (t) => {
  const all = selectBenches();
  t.deepEqual(all, BENCH_NAMES.filter((n) => n !== 'policy-trace-cli'));
  t.deepEqual(selectBenches(''), all);
});

test('groups select their benches, in the order of a full run', (t) => {
  t.deepEqual(selectBenches('cni'), ['startup', 'sea-startup', 'ipam', 'attach']);
  t.deepEqual(selectBenches('dataplane'), ['lab', 'agent', 'overlay']);
  t.deepEqual(selectBenches('policy'), ['policy-compile', 'policy-sync', 'cnp-sync', 'policy-datapath', 'policy-trace']);
  t.deepEqual(selectBenches('services'), ['services']);
  t.deepEqual(selectBenches('cli'), ['policy-trace-cli']);
});

test('single names keep working, and mix with groups', (t) => {
  for (const name of ['startup', 'sea-startup', 'ipam', 'attach', 'lab', 'agent', 'overlay', 'policy-sync', 'policy-datapath', 'policy-trace', 'services'] as const) {
    t.deepEqual(selectBenches(name), [name]);
  }
  t.deepEqual(selectBenches('services,ipam'), ['ipam', 'services']);
  t.deepEqual(selectBenches('ipam,cni, ipam'), ['startup', 'sea-startup', 'ipam', 'attach']);
  t.deepEqual(selectBenches('cli,policy'), ['policy-compile', 'policy-sync', 'cnp-sync', 'policy-datapath', 'policy-trace'], 'policy-trace has the CLI part');
  t.deepEqual(selectBenches('cli,services'), ['policy-trace-cli', 'services']);
});

test('the CLI part records its figures as policy-trace, so that a cli run compares with a full one', (t) => {
  t.is(recordsAs('policy-trace-cli'), 'policy-trace');
  t.is(recordsAs('policy-trace'), 'policy-trace');
  t.is(recordsAs('ipam'), 'ipam');
});

test('every group names known benches; an unknown name is an error that lists the choices', (t) => {
  for (const members of Object.values(GROUPS)) for (const m of members) t.true(BENCH_NAMES.includes(m));
  const err = t.throws(() => selectBenches('ipam,nosuch'));
  t.regex(err!.message, /--only nosuch: no such bench or group; groups: cni, dataplane, policy, services, cli; benches: startup/);
});
