import test from 'ava';
import { FakeNft, NftError, Transaction, nft, type TableRef } from '../../kernel/nft';

const W: TableRef = { family: 'inet', name: 'weft' };

function base(): Transaction {
  return new Transaction(W)
    .add(nft.table({ comment: 't' }))
    .add(nft.chain({ name: 'input', type: 'filter', hook: 'input', priority: 'filter', comment: 'in' }))
    .add(nft.chain({ name: 'svc' }))
    .add(nft.set({ name: 'ports', type: 'inet_proto . inet_service', flags: ['interval'] }))
    .add(nft.map({ name: 'vm', type: 'ipv4_addr : verdict' }))
    .add(nft.rule({ chain: 'input', rule: 'meta l4proto . th dport @ports accept', comment: 'r1' }))
    .add(nft.rule({ chain: 'input', rule: 'ip daddr vmap @vm' }))
    .add(nft.element({ set: 'ports', key: ['tcp', '80'] }))
    .add(nft.element({ map: 'vm', key: ['10.96.0.1'], value: ['jump svc'], comment: 'svc' }));
}

test('records tables, chains, rules, sets, maps and elements and lists them back', async (t) => {
  const fake = new FakeNft();
  await fake.run(base());
  const rs = await fake.listRuleset(W);
  t.deepEqual(rs?.table, { family: 'inet', name: 'weft', handle: 1, comment: 't' });
  t.deepEqual(rs?.chains, [
    { name: 'input', handle: 1, type: 'filter', hook: 'input', priority: 0, policy: 'accept', comment: 'in' },
    { name: 'svc', handle: 2 },
  ]);
  t.deepEqual(rs?.rules, [
    { chain: 'input', handle: 5, rule: 'meta l4proto . th dport @ports accept', comment: 'r1' },
    { chain: 'input', handle: 6, rule: 'ip daddr vmap @vm' },
  ]);
  t.deepEqual(rs?.sets, [{ name: 'ports', handle: 3, type: 'inet_proto . inet_service', flags: ['interval'], elements: [{ key: ['tcp', '80'] }] }]);
  t.deepEqual(rs?.maps, [{ name: 'vm', handle: 4, type: 'ipv4_addr : verdict', flags: [], elements: [{ key: ['10.96.0.1'], value: ['jump svc'], comment: 'svc' }] }]);
  t.deepEqual(await fake.listTables(), [W]);
  t.deepEqual((await fake.list(W, 'chains')).map((c) => c.name), ['input', 'svc']);
  t.deepEqual(await fake.list({ family: 'ip', name: 'weft' }, 'rules'), []);
  t.is(fake.history.length, 1);
});

test('a failing transaction changes nothing and names the failing line', async (t) => {
  const fake = new FakeNft();
  await fake.run(base());
  const before = await fake.listRuleset(W);
  const tx = new Transaction(W)
    .flush({ kind: 'chain', name: 'input' })
    .add(nft.chain({ name: 'new' }))
    .add(nft.rule({ chain: 'input', rule: 'jump nowhere' }));
  const err = await t.throwsAsync(fake.run(tx), { instanceOf: NftError });
  t.is(err?.line, 3);
  t.is(err?.lineText, 'add rule inet weft input jump nowhere');
  t.deepEqual(err?.operation, tx.operations()[2]);
  t.regex(err?.stderr ?? '', /^\/dev\/stdin:3:1-\d+: Error: Could not process rule: No such file or directory\n/);
  t.deepEqual(await fake.listRuleset(W), before);
  t.is(fake.history.length, 1);
});

test('check applies nothing but fails like run', async (t) => {
  const fake = new FakeNft();
  await fake.check(base());
  t.deepEqual(await fake.listTables(), []);
  const err = await t.throwsAsync(fake.check(new Transaction(W).add(nft.chain({ name: 'c' }))), { instanceOf: NftError });
  t.is(err?.line, 1);
});

test('existence rules: add is idempotent, create is not, delete and flush need the object', async (t) => {
  const fake = new FakeNft();
  const fails = async (tx: Transaction, message: RegExp) => {
    const err = await t.throwsAsync(fake.run(tx), { instanceOf: NftError });
    t.regex(err?.message ?? '', message);
  };
  await fails(new Transaction(W).delete(nft.table()), /No such file/);
  await fails(new Transaction(W).flush(nft.table()), /No such file/);
  await fails(new Transaction(W).add(nft.chain({ name: 'c' })), /No such file/);
  await fake.run(base());
  await fake.run(base().add(nft.element({ map: 'vm', key: ['10.96.0.1'], value: ['jump svc'] })));
  t.is((await fake.list(W, 'rules')).length, 4, 'rules are appended on every add');
  t.is((await fake.list(W, 'chains')).length, 2, 'chains are not');
  await fails(new Transaction(W).create(nft.table()), /File exists/);
  await fails(new Transaction(W).create(nft.chain({ name: 'svc' })), /File exists/);
  await fails(new Transaction(W).create(nft.set({ name: 'ports', type: 'ipv4_addr' })), /File exists/);
  await fails(new Transaction(W).add(nft.set({ name: 'vm', type: 'ipv4_addr' })), /File exists/);
  await fails(new Transaction(W).create(nft.element({ set: 'ports', key: ['tcp', '80'] })), /File exists/);
  await fails(new Transaction(W).add(nft.element({ map: 'vm', key: ['10.96.0.1'], value: ['drop'] })), /File exists/);
  await fails(new Transaction(W).delete({ kind: 'chain', name: 'nope' }), /No such file/);
  await fails(new Transaction(W).flush({ kind: 'set', name: 'nope' }), /No such file/);
  await fails(new Transaction(W).delete({ kind: 'map', name: 'ports' }), /No such file/);
  await fails(new Transaction(W).delete({ kind: 'element', set: 'ports', key: ['udp', '53'] }), /No such file/);
  await fails(new Transaction(W).add(nft.element({ set: 'vm', key: ['1.2.3.4'] })), /No such file/);
  await fails(new Transaction(W).delete({ kind: 'rule', chain: 'input', handle: 999 }), /No such file/);
});

test('objects in use cannot be deleted', async (t) => {
  const fake = new FakeNft();
  await fake.run(base());
  const busy = async (tx: Transaction) => {
    const err = await t.throwsAsync(fake.run(tx), { instanceOf: NftError });
    t.regex(err?.message ?? '', /busy/);
  };
  await busy(new Transaction(W).delete({ kind: 'chain', name: 'input' }));
  await busy(new Transaction(W).delete({ kind: 'chain', name: 'svc' }));
  await busy(new Transaction(W).delete({ kind: 'set', name: 'ports' }));
  await busy(new Transaction(W).delete({ kind: 'map', name: 'vm' }));
  await fake.run(
    new Transaction(W)
      .flush(nft.table())
      .flush({ kind: 'map', name: 'vm' })
      .delete({ kind: 'chain', name: 'svc' })
      .delete({ kind: 'set', name: 'ports' })
      .delete({ kind: 'map', name: 'vm' }),
  );
  const rs = await fake.listRuleset(W);
  t.deepEqual(rs?.chains.map((c) => c.name), ['input']);
  t.deepEqual([rs?.rules, rs?.sets, rs?.maps], [[], [], []]);
  // References inside quoted strings are not references.
  await fake.run(new Transaction(W).add(nft.rule({ chain: 'input', rule: 'log prefix "jump nowhere @nothing" accept' })));
  t.is((await fake.list(W, 'rules')).length, 1);
});

test('rules are placed by handle and index like nft places them', async (t) => {
  const fake = new FakeNft();
  await fake.run(new Transaction(W).add(nft.table()).add(nft.chain({ name: 'c' })).add(nft.rule({ chain: 'c', rule: 'a' })).add(nft.rule({ chain: 'c', rule: 'b' })));
  const [a, b] = await fake.list(W, 'rules');
  await fake.run(
    new Transaction(W)
      .insert(nft.rule({ chain: 'c', rule: 'first' }))
      .add(nft.rule({ chain: 'c', rule: 'after-a', handle: a.handle }))
      .insert(nft.rule({ chain: 'c', rule: 'before-b', handle: b.handle }))
      .add(nft.rule({ chain: 'c', rule: 'after-index-0', index: 0 }))
      .insert(nft.rule({ chain: 'c', rule: 'at-index-1', index: 1 })),
  );
  t.deepEqual((await fake.list(W, 'rules')).map((r) => r.rule), ['first', 'at-index-1', 'after-index-0', 'a', 'after-a', 'before-b', 'b']);
  await fake.run(new Transaction(W).replace({ kind: 'rule', chain: 'c', handle: a.handle, rule: 'A', comment: 'new' }));
  const replaced = (await fake.list(W, 'rules')).find((r) => r.handle === a.handle);
  t.deepEqual(replaced, { chain: 'c', handle: a.handle, rule: 'A', comment: 'new' });
  const err = await t.throwsAsync(fake.run(new Transaction(W).add(nft.rule({ chain: 'c', rule: 'x', index: 99 }))), { instanceOf: NftError });
  t.is(err?.line, 1);
});

test('element keys and values must fit the set type', async (t) => {
  const fake = new FakeNft();
  await fake.run(base());
  const err = await t.throwsAsync(fake.run(new Transaction(W).add(nft.element({ set: 'ports', key: ['80'] }))), { instanceOf: NftError });
  t.regex(err?.message ?? '', /datatype mismatch/);
  await fake.run(new Transaction(W).add(nft.map({ name: 'dnat', type: 'ipv4_addr . inet_service : ipv4_addr . inet_service' })));
  await t.throwsAsync(fake.run(new Transaction(W).add(nft.element({ map: 'dnat', key: ['1.2.3.4', '80'], value: ['10.0.0.1'] }))), { message: /datatype mismatch/ });
  await fake.run(new Transaction(W).add(nft.element({ map: 'dnat', key: ['1.2.3.4', '80'], value: ['10.0.0.1', '8080'] })));
  await t.throwsAsync(fake.run(new Transaction(W).add(nft.element({ map: 'vm', key: ['1.2.3.5'], value: ['goto nowhere'] }))), { message: /No such file/ });
});

test('dump is a deterministic script of the table', async (t) => {
  const one = new FakeNft();
  await one.run(base());
  // The same objects added in another order dump the same.
  const two = new FakeNft();
  await two.run(
    new Transaction(W)
      .add(nft.table({ comment: 't' }))
      .add(nft.map({ name: 'vm', type: 'ipv4_addr : verdict' }))
      .add(nft.set({ name: 'ports', type: 'inet_proto . inet_service', flags: ['interval'] }))
      .add(nft.chain({ name: 'svc' }))
      .add(nft.chain({ name: 'input', type: 'filter', hook: 'input', priority: 0, comment: 'in' }))
      .add(nft.element({ map: 'vm', key: ['10.96.0.1'], value: ['jump svc'], comment: 'svc' }))
      .add(nft.element({ set: 'ports', key: ['tcp', '80'] }))
      .add(nft.rule({ chain: 'input', rule: 'meta l4proto . th dport @ports accept', comment: 'r1' }))
      .add(nft.rule({ chain: 'input', rule: 'ip daddr vmap @vm' })),
  );
  t.is(one.dump(W), two.dump(W));
  t.is(
    one.dump(W),
    [
      'add table inet weft { comment "t" ; }',
      'add chain inet weft input { type filter hook input priority 0 ; policy accept ; comment "in" ; }',
      'add chain inet weft svc',
      'add set inet weft ports { type inet_proto . inet_service ; flags interval ; }',
      'add map inet weft vm { type ipv4_addr : verdict ; }',
      'add rule inet weft input meta l4proto . th dport @ports accept comment "r1"',
      'add rule inet weft input ip daddr vmap @vm',
      'add element inet weft ports { tcp . 80 }',
      'add element inet weft vm { 10.96.0.1 comment "svc" : jump svc }',
      '',
    ].join('\n'),
  );
  t.is(new FakeNft().dump(W), '');
});
