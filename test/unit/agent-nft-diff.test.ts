/** The nftables backend's diff: from nothing, from itself, from drift, against FakeNft. */
import test from 'ava';
import { NftablesBackend } from '../../agent/backend/nftables/backend';
import type { DesiredTable } from '../../agent/backend/nftables/desired';
import { diffTable, priorityNumber } from '../../agent/backend/nftables/diff';
import { renderNodeTable } from '../../agent/backend/nftables/render';
import type { NodeState } from '../../agent/dataplane/node-state';
import { FakeNft, Transaction, nft, type TableRef } from '../../kernel/nft';

const W: TableRef = { family: 'inet', name: 'weft' };

const state = (pods: [string, string[]][]): NodeState => ({
  nodeName: 'n1',
  localPods: pods.map(([name, ips]) => ({ namespace: 'default', name, ips })),
});

/** A FakeNft that counts the table reads (listObjects); `listObjects` reads without counting. */
function countingReads(): { fake: FakeNft; reads: { count: number }; listObjects: FakeNft['listObjects'] } {
  const fake = new FakeNft();
  const reads = { count: 0 };
  const listObjects = fake.listObjects.bind(fake);
  fake.listObjects = async (ref) => {
    reads.count++;
    return listObjects(ref);
  };
  return { fake, reads, listObjects };
}

async function applied(fake: FakeNft, desired: DesiredTable): Promise<Transaction> {
  const tx = diffTable(W, desired, await fake.listObjects(W));
  await fake.run(tx);
  return tx;
}

test('from nothing: the whole table in one transaction; then nothing to do', async (t) => {
  const fake = new FakeNft();
  const desired = renderNodeTable(state([['a', ['10.244.1.2', 'fd00::2']]]));
  const first = await applied(fake, desired);
  t.true(first.render().startsWith('add table inet weft'));
  const rs = await fake.listRuleset(W);
  t.deepEqual(rs?.sets.find((s) => s.name === 'local-pods-v4')?.elements, [{ key: ['10.244.1.2'], comment: 'default/a' }]);
  t.deepEqual(rs?.sets.find((s) => s.name === 'local-pods-v6')?.elements, [{ key: ['fd00::2'], comment: 'default/a' }]);
  // No Node object, so no masquerade: sets only, no chain hooked in.
  t.deepEqual(rs?.chains, []);
  t.is(diffTable(W, desired, await fake.listObjects(W)).size, 0);
});

test('pods coming and going change only their elements', async (t) => {
  const fake = new FakeNft();
  await applied(fake, renderNodeTable(state([['a', ['10.244.1.2']], ['b', ['10.244.1.3']]])));
  const tx = await applied(fake, renderNodeTable(state([['a', ['10.244.1.2']], ['c', ['10.244.1.4']]])));
  t.deepEqual(tx.render().trim().split('\n'), [
    'delete element inet weft local-pods-v4 { 10.244.1.3 }',
    'add element inet weft local-pods-v4 { 10.244.1.4 comment "default/c" }',
  ]);
});

test('a renamed pod keeping its address gets its element rewritten (the comment names the pod)', async (t) => {
  const fake = new FakeNft();
  await applied(fake, renderNodeTable(state([['a', ['10.244.1.2']]])));
  const tx = await applied(fake, renderNodeTable(state([['z', ['10.244.1.2']]])));
  t.is(tx.size, 2);
  t.deepEqual((await fake.listRuleset(W))?.sets[0].elements, [{ key: ['10.244.1.2'], comment: 'default/z' }]);
});

const table = (rules: string[], extra: Partial<DesiredTable> = {}): DesiredTable => ({
  comment: 'c',
  sets: [],
  chains: [{ name: 'forward', base: { type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' }, rules: rules.map((rule) => ({ rule, comment: rule })) }],
  ...extra,
});

test('a chain whose rules differ is flushed and refilled inside the same transaction', async (t) => {
  const fake = new FakeNft();
  await applied(fake, table(['counter', 'ip saddr 10.0.0.1 drop']));
  const tx = await applied(fake, table(['counter', 'ip saddr 10.0.0.2 drop']));
  const lines = tx.render().trim().split('\n');
  t.is(lines[0], 'flush chain inet weft forward');
  t.is(lines.length, 3);
  t.deepEqual((await fake.listRuleset(W))?.rules.map((r) => r.rule), ['counter', 'ip saddr 10.0.0.2 drop']);
});

test('a rule added behind the agent\'s back is removed; chains and sets nothing desires are deleted', async (t) => {
  const fake = new FakeNft();
  await applied(fake, table(['counter'], { chains: [...table(['counter']).chains, { name: 'old', rules: [] }], sets: [{ kind: 'set', name: 'gone', type: 'ipv4_addr', elements: [] }] }));
  await fake.run(new Transaction(W).add(nft.rule({ chain: 'forward', rule: 'ip daddr 10.1.1.1 accept' })));
  const tx = await applied(fake, table(['counter']));
  t.regex(tx.render(), /flush chain inet weft forward/);
  t.regex(tx.render(), /delete chain inet weft old/);
  t.regex(tx.render(), /delete set inet weft gone/);
  const rs = await fake.listRuleset(W);
  t.deepEqual(rs?.rules.map((r) => r.rule), ['counter']);
  t.deepEqual(rs?.chains.map((c) => c.name), ['forward']);
  t.deepEqual(rs?.sets, []);
});

test('a changed hook or set type rewrites the table atomically (delete and add in one transaction)', async (t) => {
  const fake = new FakeNft();
  await applied(fake, table(['counter'], { sets: [{ kind: 'set', name: 's', type: 'ipv4_addr', elements: [{ key: ['10.0.0.1'] }] }] }));
  const changed = table(['counter'], { sets: [{ kind: 'set', name: 's', type: 'ipv4_addr . inet_service', elements: [{ key: ['10.0.0.1', '80'] }] }] });
  const tx = await applied(fake, changed);
  const lines = tx.render().trim().split('\n');
  t.is(lines[0], 'delete table inet weft');
  t.is(lines[1], 'add table inet weft { comment "c" ; }');
  t.is(diffTable(W, changed, await fake.listObjects(W)).size, 0);
});

test('priority names compare with the numbers nft lists', (t) => {
  t.is(priorityNumber('filter'), 0);
  t.is(priorityNumber('dstnat - 10'), -110);
  t.is(priorityNumber('srcnat+5'), 105);
  t.is(priorityNumber(-5), -5);
  t.throws(() => priorityNumber('nonsense'));
});

test('the backend reports changes and rule counts, and a second apply changes nothing', async (t) => {
  const fake = new FakeNft();
  const backend = new NftablesBackend(fake, 'weft');
  const s = state([['a', ['10.244.1.2', 'fd00::2']], ['b', ['10.244.1.3']]]);
  const first = await backend.apply(s);
  t.true(first.changes > 0);
  t.is(first.rules, 3);
  t.deepEqual(await backend.apply(s), { changes: 0, rules: 3 });
  const withMasquerade = { ...s, masquerade: { sources: ['10.244.1.0/24'], exceptDestinations: ['10.244.0.0/16'] } };
  t.deepEqual(await backend.apply(withMasquerade), { changes: 2, rules: 4 });
  const rs = await fake.listRuleset(W);
  t.true(rs!.rules.every((r) => /\[#[0-9a-f]{8}\]$/.test(r.comment ?? '')));
  t.deepEqual(await backend.apply(withMasquerade), { changes: 0, rules: 4 });
  // Two transactions in all: the unchanged applies wrote nothing.
  t.is(fake.history.length, 2);
});

test('what an apply committed is what the kernel lists back, so later applies skip the read; a drift is reverted by the resync that reads', async (t) => {
  const { fake, reads, listObjects } = countingReads();
  const backend = new NftablesBackend(fake, 'weft');
  const withPolicy: NodeState = {
    ...state([['a', ['10.244.1.2', 'fd00::2']], ['b', ['10.244.1.3']]]),
    masquerade: { sources: ['10.244.1.0/24'], exceptDestinations: ['10.244.0.0/16'] },
    podBridge: 'weft0',
    policy: {
      ingress: { isolated: ['10.244.1.2'], anyPeer: [{ localIp: '10.244.1.2', ports: [{ protocol: 'tcp', first: 80, last: 81 }], policies: ['default/web'] }], classes: [{ key: 'k', cidrs: ['10.0.0.0/8', 'fd00::/8'], allow: [{ localIp: '10.244.1.2', ports: 'all', policies: ['default/all'] }] }] },
      egress: { isolated: [], anyPeer: [], classes: [] },
      problems: [],
    },
  };
  await backend.apply(withPolicy);
  t.is(reads.count, 1, 'the first apply reads the kernel');
  // The listing of what was committed diffs to nothing against the kernel's own listing.
  const desired = renderNodeTable(withPolicy);
  t.is(diffTable(W, desired, await listObjects(W)).size, 0);
  t.is((await backend.apply(withPolicy)).changes, 0);
  t.is((await backend.apply(state([['a', ['10.244.1.2']]]))).changes > 0, true);
  t.is(reads.count, 1, 'later applies diff against what was committed');
  t.is(diffTable(W, renderNodeTable(state([['a', ['10.244.1.2']]])), await listObjects(W)).size, 0, 'and the kernel has it');

  // Someone deletes an element behind the agent's back: only a read notices.
  await fake.run(new Transaction(W).delete({ kind: 'element', set: 'local-pods-v4', key: ['10.244.1.2'] }));
  t.is((await backend.apply(state([['a', ['10.244.1.2']]]))).changes, 0);
  t.is((await backend.apply(state([['a', ['10.244.1.2']]]), { fromKernel: true })).changes, 1);
  t.is(reads.count, 2);

  // A failed transaction leaves the kernel unknown: the next apply reads it.
  const run = fake.run.bind(fake);
  fake.run = async () => {
    throw new Error('nft failed');
  };
  await t.throwsAsync(backend.apply(state([['b', ['10.244.1.3']]])));
  fake.run = run;
  await backend.apply(state([['b', ['10.244.1.3']]]));
  t.is(reads.count, 3, 'only the apply after the failure read again');
  t.is(diffTable(W, renderNodeTable(state([['b', ['10.244.1.3']]])), await listObjects(W)).size, 0);
});

test("the periodic resync reads the kernel back only when the ruleset's generation moved since the backend's own commit", async (t) => {
  const { fake, reads, listObjects } = countingReads();
  const backend = new NftablesBackend(fake, 'weft');
  const s = state([['a', ['10.244.1.2']], ['b', ['10.244.1.3']]]);
  await backend.apply(s);
  t.is(reads.count, 1);
  // Nothing written since: the resync trusts the commit, with or without a change to make.
  t.is((await backend.apply(s, { fromKernel: 'if-changed' })).changes, 0);
  t.true((await backend.apply(state([['a', ['10.244.1.2']]]), { fromKernel: 'if-changed' })).changes > 0);
  t.is((await backend.apply(state([['a', ['10.244.1.2']]]), { fromKernel: 'if-changed' })).changes, 0);
  t.is(reads.count, 1, 'no read while only the backend wrote');
  // `fromKernel: true` still reads, always.
  t.is((await backend.apply(state([['a', ['10.244.1.2']]]), { fromKernel: true })).changes, 0);
  t.is(reads.count, 2);

  // Another writer commits, to another table: the generation moves, the resync reads.
  await fake.run(new Transaction({ family: 'ip', name: 'other' }).add({ kind: 'table' }));
  t.is((await backend.apply(state([['a', ['10.244.1.2']]]), { fromKernel: 'if-changed' })).changes, 0);
  t.is(reads.count, 3);
  // A drift in weft's own table between two of the backend's commits: its next commit is not
  // the only one since, so the resync after it reads, and reverts the drift.
  await fake.run(new Transaction(W).delete({ kind: 'element', set: 'local-pods-v4', key: ['10.244.1.2'] }));
  t.true((await backend.apply(s)).changes > 0);
  t.is(reads.count, 3);
  t.is((await backend.apply(s, { fromKernel: 'if-changed' })).changes, 1, 'the deleted element is back');
  t.is(reads.count, 4);
  t.is(diffTable(W, renderNodeTable(s), await listObjects(W)).size, 0);
  t.is((await backend.apply(s, { fromKernel: 'if-changed' })).changes, 0);
  t.is(reads.count, 4, 'trusted again after a read that no commit interrupted');
});

test("a set the data path fills (session affinity) keeps the kernel's elements; its flags compare without 'dynamic', which nft 1.0.x does not list", async (t) => {
  const fake = new FakeNft();
  const affinity = (): DesiredTable =>
    table(['ip saddr @aff update @aff { ip saddr }'], { sets: [{ kind: 'set', name: 'aff', type: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeout: 60, elements: [] }] });
  await applied(fake, affinity());
  const listed = (await fake.listObjects(W))!;
  const learned = {
    ...listed,
    sets: listed.sets.map((s) => (s.name === 'aff' ? { ...s, flags: ['timeout' as const], elements: [{ key: ['10.0.0.9'], timeout: 60 }] } : s)),
  };
  t.is(diffTable(W, affinity(), learned).size, 0, 'a client the kernel remembers stays remembered');
});
