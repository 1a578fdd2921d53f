import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { ExecError, execTool, systemBinary } from '../../kernel/exec';
import { netnsId } from '../../kernel/netns';
import { FakeNft, NftCli, NftError, Transaction, nft, type Nft, type TableRef } from '../../kernel/nft';
import { tempNetns } from '../helpers/netns';
import { loopbackUp, tcpConnectLoopback } from '../helpers/loopback';

const WEFT: TableRef = { family: 'inet', name: 'weft' };

/** Read-only check that nothing leaked into the root namespace. */
function assertRootUntouched(t: ExecutionContext): void {
  const out = spawnSync(systemBinary('nft'), ['list', 'tables'], { encoding: 'utf8' });
  t.is(out.status, 0, out.stderr);
  t.false(/\btable inet weft\b/.test(out.stdout), 'the root namespace must have no weft table');
}

/** A fresh namespace and an Nft running inside it. */
function setup(t: ExecutionContext): { ns: string; kernel: NftCli } {
  const ns = tempNetns(t, 'nft');
  return { ns, kernel: new NftCli({ netns: ns }) };
}


/** A small but complete ruleset: base chain, regular chain, sets, a verdict map, rules, elements. */
function fullTransaction(): Transaction {
  return new Transaction(WEFT)
    .add(nft.table({ comment: 'weft test table' }))
    .add(nft.chain({ name: 'input', type: 'filter', hook: 'input', priority: 'filter - 5', policy: 'accept', comment: 'entry point' }))
    .add(nft.chain({ name: 'svc-a', comment: 'service a' }))
    .add(nft.set({ name: 'blocked', type: 'ipv4_addr . inet_proto . inet_service', flags: ['interval'], comment: 'blocked tuples' }))
    .add(nft.set({ name: 'addrs', type: 'ipv4_addr', flags: ['timeout'], timeout: 600 }))
    .add(nft.map({ name: 'svcs', type: 'ipv4_addr . inet_service : verdict' }))
    .add(nft.rule({ chain: 'svc-a', rule: 'counter accept', comment: 'to a' }))
    .add(nft.rule({ chain: 'input', rule: 'ip daddr . meta l4proto . th dport @blocked drop', comment: 'block' }))
    .add(nft.rule({ chain: 'input', rule: 'ip daddr . tcp dport vmap @svcs' }))
    .add(nft.element({ set: 'blocked', key: ['10.0.0.0/8', 'tcp', '80'], comment: 'web' }))
    .add(nft.element({ set: 'blocked', key: ['192.0.2.1', 'udp', '53-54'] }))
    .add(nft.element({ set: 'addrs', key: ['192.0.2.7'], timeout: 60 }))
    .add(nft.element({ map: 'svcs', key: ['10.96.0.1', '443'], value: ['jump svc-a'], comment: 'svc a' }));
}

test('creates a table with chains, sets, maps, rules and elements, and reads them back', async (t) => {
  const { kernel } = setup(t);
  await kernel.run(fullTransaction());

  const rs = await kernel.listRuleset(WEFT);
  if (!rs) return t.fail('table missing');
  t.like(rs.table, { family: 'inet', name: 'weft', comment: 'weft test table' });
  t.deepEqual(
    rs.chains.map(({ handle: _h, ...c }) => c),
    [
      { name: 'input', type: 'filter', hook: 'input', priority: -5, policy: 'accept', comment: 'entry point' },
      { name: 'svc-a', comment: 'service a' },
    ],
  );
  t.deepEqual(
    rs.rules.map(({ handle: _h, ...r }) => r),
    [
      { chain: 'input', rule: 'ip daddr . meta l4proto . th dport @blocked drop', comment: 'block' },
      { chain: 'input', rule: 'ip daddr . tcp dport vmap @svcs' },
      { chain: 'svc-a', rule: 'counter accept', comment: 'to a', counter: { packets: 0, bytes: 0 } },
    ],
  );
  t.true(rs.rules.every((r) => Number.isInteger(r.handle) && r.handle > 0));

  const blocked = rs.sets.find((s) => s.name === 'blocked');
  t.like(blocked, { type: 'ipv4_addr . inet_proto . inet_service', flags: ['interval'], comment: 'blocked tuples' });
  t.deepEqual(blocked?.elements, [{ key: ['10.0.0.0/8', 'tcp', '80'], comment: 'web' }, { key: ['192.0.2.1', 'udp', '53-54'] }]);
  const addrs = rs.sets.find((s) => s.name === 'addrs');
  t.like(addrs, { type: 'ipv4_addr', flags: ['timeout'], timeout: 600 });
  t.like(addrs?.elements[0], { key: ['192.0.2.7'], timeout: 60 });
  t.true((addrs?.elements[0].expires ?? 0) > 50, 'a timed element shows when it expires');
  t.deepEqual(rs.maps, [
    {
      name: 'svcs',
      handle: rs.maps[0].handle,
      type: 'ipv4_addr . inet_service : verdict',
      flags: [],
      elements: [{ key: ['10.96.0.1', '443'], value: ['jump svc-a'], comment: 'svc a' }],
    },
  ]);

  t.deepEqual((await kernel.list(WEFT, 'chains')).map((c) => c.name), ['input', 'svc-a']);
  t.deepEqual((await kernel.list(WEFT, 'sets')).map((s) => s.name).sort(), ['addrs', 'blocked']);
  t.deepEqual(await kernel.listTables(), [WEFT]);
  t.is(await kernel.listRuleset({ family: 'ip', name: 'weft' }), undefined, 'another family is another table');
  t.deepEqual(await kernel.list({ family: 'inet', name: 'nope' }, 'rules'), []);
  assertRootUntouched(t);
});

test("replaces a chain's rules atomically and edits rules by handle", async (t) => {
  const { kernel } = setup(t);
  await kernel.run(
    new Transaction(WEFT)
      .add(nft.table())
      .add(nft.chain({ name: 'pods' }))
      .add(nft.rule({ chain: 'pods', rule: 'ip saddr 10.0.0.1 accept', comment: 'old 1' }))
      .add(nft.rule({ chain: 'pods', rule: 'ip saddr 10.0.0.2 accept', comment: 'old 2' })),
  );

  // The full-sync idiom: flush and refill in one transaction, no moment without rules.
  await kernel.run(
    new Transaction(WEFT)
      .flush({ kind: 'chain', name: 'pods' })
      .add(nft.rule({ chain: 'pods', rule: 'ip saddr 10.0.0.3 accept', comment: 'new 3' }))
      .add(nft.rule({ chain: 'pods', rule: 'ip saddr 10.0.0.4 drop', comment: 'new 4' })),
  );
  let rules = await kernel.list(WEFT, 'rules');
  t.deepEqual(rules.map((r) => r.comment), ['new 3', 'new 4']);

  const [first, second] = rules;
  await kernel.run(
    new Transaction(WEFT)
      .replace({ kind: 'rule', chain: 'pods', handle: second.handle, rule: 'ip saddr 10.0.0.4 accept', comment: 'replaced' })
      .insert(nft.rule({ chain: 'pods', rule: 'ip saddr 10.0.0.5 drop', comment: 'inserted first' }))
      .add(nft.rule({ chain: 'pods', handle: first.handle, rule: 'ip saddr 10.0.0.6 drop', comment: 'after first' })),
  );
  rules = await kernel.list(WEFT, 'rules');
  t.deepEqual(
    rules.map((r) => [r.comment, r.rule]),
    [
      ['inserted first', 'ip saddr 10.0.0.5 drop'],
      ['new 3', 'ip saddr 10.0.0.3 accept'],
      ['after first', 'ip saddr 10.0.0.6 drop'],
      ['replaced', 'ip saddr 10.0.0.4 accept'],
    ],
  );
  t.is(rules[3].handle, second.handle, 'replace keeps the handle');

  await kernel.run(new Transaction(WEFT).delete({ kind: 'rule', chain: 'pods', handle: first.handle }));
  t.deepEqual((await kernel.list(WEFT, 'rules')).map((r) => r.comment), ['inserted first', 'after first', 'replaced']);
  assertRootUntouched(t);
});

test('a transaction whose third operation fails applies nothing, and the error names that line', async (t) => {
  const { kernel } = setup(t);
  const tx = new Transaction(WEFT)
    .add(nft.table())
    .add(nft.chain({ name: 'good' }))
    .add(nft.rule({ chain: 'absent', rule: 'accept' }))
    .add(nft.chain({ name: 'also-good' }));
  const err = await t.throwsAsync(kernel.run(tx), { instanceOf: NftError });
  t.is(err?.line, 3);
  t.is(err?.lineText, 'add rule inet weft absent accept');
  t.deepEqual(err?.operation, { verb: 'add', object: { kind: 'rule', chain: 'absent', rule: 'accept' } });
  t.regex(err?.message ?? '', /No such file or directory/);
  t.regex(err?.stderr ?? '', /\/dev\/stdin:3:/);
  t.is(await kernel.listRuleset(WEFT), undefined, 'the table of operation 1 was not created');
  t.deepEqual(await kernel.listTables(), []);
  assertRootUntouched(t);
});

test('a failing replace leaves the existing rules in place', async (t) => {
  const { kernel } = setup(t);
  await kernel.run(new Transaction(WEFT).add(nft.table()).add(nft.chain({ name: 'c' })).add(nft.rule({ chain: 'c', rule: 'accept', comment: 'keep me' })));
  const tx = new Transaction(WEFT)
    .flush({ kind: 'chain', name: 'c' })
    .add(nft.rule({ chain: 'c', rule: 'drop', comment: 'new' }))
    .add(nft.rule({ chain: 'c', rule: 'jump nowhere' }));
  const err = await t.throwsAsync(kernel.run(tx), { instanceOf: NftError });
  t.is(err?.line, 3);
  t.deepEqual((await kernel.list(WEFT, 'rules')).map((r) => r.comment), ['keep me']);
  assertRootUntouched(t);
});

test('an error in a rule reports its line, column and message', async (t) => {
  const { kernel } = setup(t);
  const tx = new Transaction(WEFT).add(nft.table()).add(nft.chain({ name: 'c' })).add(nft.rule({ chain: 'c', rule: 'ip daddr 192.0.2.1 tcp dport nosuchservice accept' }));
  const err = await t.throwsAsync(kernel.run(tx), { instanceOf: NftError });
  t.is(err?.line, 3);
  t.is(err?.lineText, 'add rule inet weft c ip daddr 192.0.2.1 tcp dport nosuchservice accept');
  const d = err?.diagnostics[0];
  t.is(err?.lineText?.slice((d?.columnStart ?? 1) - 1, d?.columnEnd), 'nosuchservice');
  t.regex(d?.message ?? '', /Could not resolve service/);
  t.is(await kernel.listRuleset(WEFT), undefined);
  assertRootUntouched(t);
});

test('check validates against the kernel without applying', async (t) => {
  const { kernel } = setup(t);
  await kernel.check(fullTransaction());
  t.deepEqual(await kernel.listTables(), [], 'check applied nothing');
  await kernel.run(new Transaction(WEFT).add(nft.table()));
  // create of an existing table is only refused by the kernel, so this shows check reaches it.
  const err = await t.throwsAsync(kernel.check(new Transaction(WEFT).create(nft.table())), { instanceOf: NftError });
  t.regex(err?.message ?? '', /File exists/);
  t.is(err?.line, 1);
  assertRootUntouched(t);
});

test('deleting a chain in use fails; delete table removes everything', async (t) => {
  const { kernel } = setup(t);
  await kernel.run(fullTransaction());
  const err = await t.throwsAsync(kernel.run(new Transaction(WEFT).delete({ kind: 'chain', name: 'svc-a' })), { instanceOf: NftError });
  t.regex(err?.message ?? '', /busy/);
  await kernel.run(new Transaction(WEFT).delete({ kind: 'element', map: 'svcs', key: ['10.96.0.1', '443'] }).flush({ kind: 'chain', name: 'svc-a' }).delete({ kind: 'chain', name: 'svc-a' }));
  t.deepEqual((await kernel.list(WEFT, 'chains')).map((c) => c.name), ['input']);
  await kernel.run(new Transaction(WEFT).delete(nft.table()));
  t.is(await kernel.listRuleset(WEFT), undefined);
  assertRootUntouched(t);
});

test('a drop rule stops a real TCP connection on loopback, counts it, and removing it lets it through', async (t) => {
  const { ns, kernel } = setup(t);
  await loopbackUp(ns);
  const port = 18080;
  t.is(await tcpConnectLoopback(ns, port), 'connected', 'no rules yet');

  await kernel.run(
    new Transaction(WEFT)
      .add(nft.table())
      .add(nft.chain({ name: 'output', type: 'filter', hook: 'output', priority: 0, policy: 'accept' }))
      .add(nft.rule({ chain: 'output', rule: `ip daddr 127.0.0.1 tcp dport ${port} counter drop`, comment: 'block test port' })),
  );
  t.is(await tcpConnectLoopback(ns, port), 'timeout');

  const [rule] = await kernel.list(WEFT, 'rules');
  t.is(rule.rule, `ip daddr 127.0.0.1 tcp dport ${port} counter drop`);
  t.true((rule.counter?.packets ?? 0) >= 1, 'the dropped SYN was counted');
  t.true((rule.counter?.bytes ?? 0) >= 40);

  await kernel.run(new Transaction(WEFT).delete({ kind: 'rule', chain: 'output', handle: rule.handle }));
  t.is(await tcpConnectLoopback(ns, port), 'connected');
  assertRootUntouched(t);
});

test('FakeNft accepts and refuses the same transactions as nft, at the same lines', async (t) => {
  const { kernel } = setup(t);
  const fake = new FakeNft();
  const both = async (tx: Transaction): Promise<[number | undefined, number | undefined]> => {
    const line = (nftImpl: Nft) =>
      nftImpl.run(tx).then(
        () => undefined,
        (err: unknown) => (err instanceof NftError ? (err.line ?? -1) : -2),
      );
    return [await line(kernel), await line(fake)];
  };

  const cases: [string, Transaction][] = [
    ['full', fullTransaction()],
    ['create existing chain', new Transaction(WEFT).add(nft.chain({ name: 'x' })).create(nft.chain({ name: 'x' }))],
    ['delete chain with rules', new Transaction(WEFT).delete({ kind: 'chain', name: 'svc-a' })],
    ['delete set in use', new Transaction(WEFT).delete({ kind: 'set', name: 'blocked' })],
    ['jump to missing chain', new Transaction(WEFT).add(nft.rule({ chain: 'input', rule: 'jump nowhere' }))],
    ['missing handle', new Transaction(WEFT).delete({ kind: 'rule', chain: 'input', handle: 999 })],
    ['element already mapped elsewhere', new Transaction(WEFT).add(nft.element({ map: 'svcs', key: ['10.96.0.1', '443'], value: ['drop'] }))],
    ['same element again', new Transaction(WEFT).add(nft.element({ map: 'svcs', key: ['10.96.0.1', '443'], value: ['jump svc-a'] }))],
    ['delete missing element', new Transaction(WEFT).delete({ kind: 'element', set: 'blocked', key: ['192.0.2.99', 'tcp', '1'] })],
    ['flush and delete', new Transaction(WEFT).flush({ kind: 'chain', name: 'input' }).delete({ kind: 'map', name: 'svcs' })],
  ];
  for (const [name, tx] of cases) {
    const [real, faked] = await both(tx);
    t.is(faked, real, name);
  }
  const [real, faked] = [await kernel.listRuleset(WEFT), await fake.listRuleset(WEFT)];
  const shape = (rs: typeof real) => ({
    chains: rs?.chains.map((c) => [c.name, c.hook, c.priority, c.comment]),
    rules: rs?.rules.map((r) => [r.chain, r.comment]),
    sets: rs?.sets.map((s) => [s.name, s.type, s.flags, s.elements.map((e) => e.key.join(' . '))]),
    maps: rs?.maps.map((m) => m.name),
  });
  t.deepEqual(shape(faked), shape(real));
  assertRootUntouched(t);
});

test('the ruleset generation moves by one per committed batch, of any table or tool, and not when read, failed or elsewhere', async (t) => {
  const { ns, kernel } = setup(t);
  const other = setup(t);
  const start = await kernel.generation();
  t.true(Number.isInteger(start));
  const otherStart = await other.kernel.generation();
  await kernel.run(fullTransaction());
  t.is(await kernel.generation(), start! + 1, 'one batch of 13 operations is one commit');
  await kernel.listRuleset(WEFT);
  await kernel.listObjects(WEFT);
  t.is(await kernel.generation(), start! + 1, 'reading commits nothing');
  await t.throwsAsync(kernel.run(new Transaction(WEFT).add(nft.rule({ chain: 'input', rule: 'jump nowhere' }))));
  t.is(await kernel.generation(), start! + 1, 'a refused batch commits nothing');
  // Another writer: nft by hand on another table, then iptables-nft.
  await execTool(systemBinary('nft'), ['add', 'table', 'ip', 'someone-else'], { netns: ns });
  t.is(await kernel.generation(), start! + 2);
  const ipt = await execTool(systemBinary('iptables'), ['-w', '-A', 'INPUT', '-s', '192.0.2.1', '-j', 'ACCEPT'], { netns: ns });
  t.is(ipt.code, 0, ipt.stderr);
  t.true((await kernel.generation())! > start! + 2, 'iptables-nft commits too');
  t.is(await other.kernel.generation(), otherStart, "another namespace's ruleset is its own");
  assertRootUntouched(t);
});

test('tools run inside the namespace, are found in system directories, and a missing one is an ExecError', async (t) => {
  const ns = tempNetns(t, 'exec');
  const r = await execTool('readlink', ['/proc/self/ns/net'], { netns: ns });
  t.is(r.stdout.trim(), `net:[${netnsId(ns)}]`);
  const echoed = await execTool('cat', [], { netns: ns, input: 'line 1\nline 2\n' });
  t.is(echoed.stdout, 'line 1\nline 2\n');
  // Under npm, PATH starts with node_modules/.bin, which has an unrelated `nft` (@vercel/nft).
  t.true(systemBinary('nft').startsWith('/') && !systemBinary('nft').includes('node_modules'));
  t.is(systemBinary('./relative/tool'), './relative/tool');
  const missing = new NftCli({ netns: ns, binary: '/nonexistent/nft' });
  await t.throwsAsync(missing.run(new Transaction(WEFT).add(nft.table())), { instanceOf: ExecError });
  const slow = await execTool('sleep', ['5'], { netns: ns, timeoutMs: 100 });
  t.true(slow.timedOut);
  t.is(slow.signal, 'SIGKILL');
});

test('runAll applies transactions on several tables as one batch, all or nothing; listObjects skips rules', async (t) => {
  const { kernel } = setup(t);
  for (const impl of [kernel, new FakeNft()] as Nft[]) {
    const other: TableRef = { family: 'bridge', name: 'weft-other' };
    const first = new Transaction(WEFT).add(nft.table()).add(nft.map({ name: 'm', type: 'ipv4_addr : verdict' })).add(nft.chain({ name: 'c' }));
    const broken = new Transaction(other).add(nft.table()).add(nft.rule({ chain: 'absent', rule: 'accept' }));
    const err = await t.throwsAsync(impl.runAll([first, broken]), { instanceOf: NftError });
    t.is(err?.line, 5, 'lines count across the transactions');
    t.is(await impl.listObjects(WEFT), undefined, 'the first transaction was not applied either');

    const element = nft.element({ map: 'm', key: ['10.0.0.2'], value: ['jump c'], comment: 'pod a' });
    const rule = nft.rule({ chain: 'c', rule: 'accept' });
    await impl.runAll([new Transaction(WEFT).add(nft.table()).add(nft.map({ name: 'm', type: 'ipv4_addr : verdict' })).add(nft.chain({ name: 'c' })).add(rule).add(element), new Transaction(other).add(nft.table())]);
    const objects = await impl.listObjects(WEFT);
    t.deepEqual(objects?.chains.map((c) => c.name), ['c']);
    t.deepEqual(objects?.maps[0].elements.map((e) => [e.key, e.value, e.comment]), [[['10.0.0.2'], ['jump c'], 'pod a']]);
    t.false(objects !== undefined && 'rules' in objects);
    t.truthy(await impl.listObjects(other));
    await impl.run(new Transaction(WEFT).delete(nft.table()));
    await impl.run(new Transaction(other).delete(nft.table()));
  }
  assertRootUntouched(t);
});
