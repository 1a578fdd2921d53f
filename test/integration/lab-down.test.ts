/**
 * `lab down` without help: after weftctl and every lab process were killed -9 in the middle of
 * `lab up` (and the state file was left half-written), and for a lab known only by its
 * namespaces -- without touching a lab whose name merely starts the same way.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { createNamedNetns, deleteNamedNetns, inNetns, listNamedNetns } from '../../kernel/netns';
import { labDown } from '../../lab/cluster/down';
import { nodeNetnsName, podNetnsName } from '../../lab/cluster/names';
import { labUp } from '../../lab/cluster/up';
import { labName, labRoot, leftovers, nothingLeft, processesOf, WEFTCTL, weftctlOk } from './lab-fixture';
import { childEnv } from '../../lab/child-env';

async function until(what: string, fn: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('lab down after weftctl and every lab process were killed -9 in the middle of lab up', async (t) => {
  const lab = labName('kill');
  const root = labRoot(t, lab);
  const env = childEnv({ WEFT_LAB_ROOT: root });
  const up = spawn(process.execPath, [WEFTCTL, 'lab', 'up', '--name', lab, '--nodes', '2', '--pods-per-node', '3'], { env, stdio: 'ignore' });
  const closed = once(up, 'close');
  // Killed once pods are being attached: agents run, some pods exist, others are half made.
  const podsDir = path.join(root, lab, 'pods');
  await until('the first pod', () => fs.existsSync(podsDir) && fs.readdirSync(podsDir).length > 0);
  up.kill('SIGKILL');
  await closed;
  const procs = processesOf(root, lab);
  t.true(procs.length >= 2, 'agents were running'); // the two agents at least
  for (const pid of procs) process.kill(pid, 'SIGKILL');
  // A crash while writing it: the state file is unreadable.
  fs.writeFileSync(path.join(root, lab, 'state.json'), '{"version": 1, "name": "');
  t.not(leftovers(root, lab).namespaces.length, 0);

  t.regex(await weftctlOk(t, root, ['lab', 'down', '--name', lab]), /removed/);
  t.deepEqual(leftovers(root, lab), nothingLeft);
});

test('lab down of a lab known only by its namespaces kills what runs inside, and spares a similarly named lab', async (t) => {
  const lab = labName('ns');
  const other = `${lab}-pod-1`; // its namespaces start with lab's prefix
  const root = labRoot(t, lab, other);
  const mine = [createNamedNetns(nodeNetnsName(lab, 0)), createNamedNetns(podNetnsName(lab, 3))];
  const theirs = createNamedNetns(nodeNetnsName(other, 0));
  t.teardown(() => [...mine, theirs].forEach((ns) => deleteNamedNetns(ns)));
  const sleeper = inNetns(mine[1], () => spawn('sleep', ['600'], { stdio: 'ignore', detached: true }));
  const spared = inNetns(theirs, () => spawn('sleep', ['600'], { stdio: 'ignore', detached: true }));
  t.teardown(() => void spared.kill('SIGKILL'));
  const sleeperGone = once(sleeper, 'exit');

  const report = await labDown(lab, root);
  t.like(report, { existed: true, namespaces: 2, swept: 1 });
  await sleeperGone;
  t.deepEqual(listNamedNetns().filter((n) => n.includes(lab)), [path.basename(theirs)]);
  t.is(spared.exitCode, null);
  t.deepEqual(await labDown(lab, root), { existed: false, pods: 0, namespaces: 0, swept: 0 });
});

test('a lab up that fails removes what it created and says why, with the agent log', async (t) => {
  const lab = labName('fail');
  const root = labRoot(t, lab);
  // No agent answers within a millisecond: the readiness wait fails, as for a broken agent.
  const err = await t.throwsAsync(labUp({ name: lab, root, nodes: 2, podsPerNode: 1, ports: [80], agentTimeoutMs: 1 }));
  t.regex(err?.message ?? '', /^weft-agent of node-\d \(pid \d+\) was not ready within .*; last lines of .*agent\.log:/);
  t.deepEqual(leftovers(root, lab), nothingLeft);
});
