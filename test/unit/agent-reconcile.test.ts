/** The reconcile loop's scheduling: coalescing, one sync at a time, backoff, holding, waiting for a sync. */
import test from 'ava';
import { Reconciler } from '../../agent/reconcile';

function controlled() {
  let calls = 0;
  let failNext = 0;
  let gate: Promise<void> = Promise.resolve();
  let running = 0;
  let maxRunning = 0;
  return {
    get calls() {
      return calls;
    },
    get maxRunning() {
      return maxRunning;
    },
    failTimes(n: number) {
      failNext = n;
    },
    block(): () => void {
      let release: () => void = () => undefined;
      gate = new Promise((r) => (release = r));
      return release;
    },
    sync: async () => {
      calls++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      await gate;
      running--;
      if (failNext > 0) {
        failNext--;
        throw new Error('nft refused');
      }
      return { changes: 1, rules: 1 };
    },
  };
}

test('a burst of triggers gives one sync', async (t) => {
  const c = controlled();
  const r = new Reconciler({ sync: c.sync, coalesceMs: 5, resyncIntervalMs: 0 });
  for (let i = 0; i < 100; i++) r.trigger();
  await r.idle();
  t.is(c.calls, 1);
  t.is(r.status.syncs, 1);
  t.true(r.status.everSucceeded);
});

test('triggers during a sync give exactly one more sync, never two at once', async (t) => {
  const c = controlled();
  const r = new Reconciler({ sync: c.sync, coalesceMs: 1, resyncIntervalMs: 0 });
  const release = c.block();
  r.trigger();
  while (c.calls === 0) await new Promise((res) => setTimeout(res, 1));
  for (let i = 0; i < 10; i++) r.trigger();
  release();
  await r.idle();
  t.is(c.calls, 2);
  t.is(c.maxRunning, 1);
});

test('failures are retried with growing delays until a sync succeeds', async (t) => {
  const c = controlled();
  const delays: number[] = [];
  c.failTimes(3);
  const r = new Reconciler({ sync: c.sync, coalesceMs: 1, initialRetryMs: 2, maxRetryMs: 5, resyncIntervalMs: 0, onFailed: (_e, retryIn) => delays.push(retryIn) });
  r.trigger();
  await r.idle();
  t.is(c.calls, 4);
  t.deepEqual(delays, [2, 4, 5]);
  t.is(r.status.failures, 3);
  t.is(r.status.lastError, '');
});

test('held triggers wait until released; syncedAfterNow settles with the sync that includes the change', async (t) => {
  const c = controlled();
  let held = true;
  const r = new Reconciler({ sync: c.sync, coalesceMs: 1, resyncIntervalMs: 0, held: () => held });
  let settled = false;
  const waiting = r.syncedAfterNow().then(() => (settled = true));
  await new Promise((res) => setTimeout(res, 20));
  t.is(c.calls, 0);
  t.false(settled);
  held = false;
  r.trigger();
  await waiting;
  t.is(c.calls, 1);
});

test('syncedAfterNow rejects with the error of a failed sync', async (t) => {
  const c = controlled();
  c.failTimes(1);
  const r = new Reconciler({ sync: c.sync, coalesceMs: 1, initialRetryMs: 1, resyncIntervalMs: 0 });
  await t.throwsAsync(r.syncedAfterNow(), { message: 'nft refused' });
  await r.idle();
  await r.stop();
});

test('stop rejects waiters and runs nothing more', async (t) => {
  const c = controlled();
  const r = new Reconciler({ sync: c.sync, coalesceMs: 50, resyncIntervalMs: 0 });
  const waiting = r.syncedAfterNow();
  await r.stop();
  await t.throwsAsync(waiting, { message: /stopping/ });
  r.trigger();
  await new Promise((res) => setTimeout(res, 60));
  t.is(c.calls, 0);
});

test('the periodic resync, and the sync after a failure, ask to read the kernel back; syncs for changes do not', async (t) => {
  const reconciler = (resyncIntervalMs: number, contexts: boolean[], failures: { left: number }) =>
    new Reconciler({
      coalesceMs: 1,
      initialRetryMs: 1,
      resyncIntervalMs,
      sync: async ({ resync }) => {
        contexts.push(resync);
        if (failures.left-- > 0) throw new Error('nft refused');
        return { changes: 0, rules: 0 };
      },
    });
  const periodic: boolean[] = [];
  const r = reconciler(30, periodic, { left: 0 });
  await r.syncedAfterNow();
  await new Promise((resolve) => setTimeout(resolve, 60)); // the resync timer fires
  await r.idle();
  await r.stop();
  t.is(periodic[0], false, 'a sync for a change trusts what was committed');
  t.true(periodic.length >= 2 && periodic.slice(1).every(Boolean), 'the periodic resync reads back');

  const retried: boolean[] = [];
  const q = reconciler(0, retried, { left: 1 });
  await t.throwsAsync(q.syncedAfterNow());
  await q.idle();
  await q.syncedAfterNow();
  await q.stop();
  t.deepEqual(retried, [false, true, false], 'the retry after a failure reads back, the next change does not');
});

test('a trigger after a quiet spell syncs at once; one right after a sync waits out coalesceMs', async (t) => {
  const c = controlled();
  // An hour of coalescing: the first sync can only have run because nothing made it wait.
  const r = new Reconciler({ sync: c.sync, coalesceMs: 3_600_000, resyncIntervalMs: 0 });
  r.trigger();
  await r.idle();
  t.is(c.calls, 1);
  r.trigger();
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(c.calls, 1, 'the second trigger waits for the interval after the first sync');
  await r.stop();
});
