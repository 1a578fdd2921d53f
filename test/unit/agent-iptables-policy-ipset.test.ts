/**
 * kernel/ipset without a kernel (save parsing, canonical elements, restore rendering) and the
 * iptables backend's set diff (diff-sets.ts): what one sync adds, deletes, rebuilds and destroys,
 * and in which of its steps.
 */
import test from 'ava';
import { committedSets, diffIpsets, maxelemFor } from '../../agent/backend/iptables/diff-sets';
import type { DesiredIpset } from '../../agent/backend/iptables/desired';
import { IptablesNames } from '../../agent/backend/iptables/names';
import { IpsetTransaction, IpsetValidationError, canonicalElement, parseIpsetSave, parseRestoreErrorLine, type SavedIpset } from '../../kernel/ipset';

test('parseIpsetSave: headers, options and flags, elements, decorated elements', (t) => {
  const sets = parseIpsetSave(
    [
      'create weft-pods4 hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x936b7ea5',
      'add weft-pods4 10.244.0.11',
      'add weft-pods4 10.244.0.12',
      'create other hash:net family inet6 hashsize 64 maxelem 8 counters comment',
      'add other fd00::/64 packets 0 bytes 0 comment "x y"',
      'create empty hash:ip,port,net family inet hashsize 1024 maxelem 65536',
      '',
    ].join('\n'),
  );
  t.deepEqual(sets[0], {
    name: 'weft-pods4',
    type: 'hash:ip',
    family: 'inet',
    options: { family: 'inet', hashsize: '1024', maxelem: '65536', bucketsize: '12', initval: '0x936b7ea5' },
    flags: [],
    elements: ['10.244.0.11', '10.244.0.12'],
    decoratedElements: 0,
  });
  t.like(sets[1], { name: 'other', family: 'inet6', flags: ['counters', 'comment'], elements: ['fd00::/64'], decoratedElements: 1 });
  t.like(sets[2], { name: 'empty', type: 'hash:ip,port,net', elements: [] });
});

test('canonicalElement: the form ipset save prints', (t) => {
  t.is(canonicalElement('hash:ip', 'inet6', 'FD00:0:0::0001'), 'fd00::1');
  t.is(canonicalElement('hash:net', 'inet', '10.1.2.3/16'), '10.1.0.0/16');
  t.is(canonicalElement('hash:net', 'inet', '10.1.2.3/32'), '10.1.2.3');
  t.is(canonicalElement('hash:net', 'inet6', 'fd00::5/128'), 'fd00::5');
  t.is(canonicalElement('hash:ip,port', 'inet', '10.0.0.1,80'), '10.0.0.1,tcp:80');
  t.is(canonicalElement('hash:ip,port,net', 'inet', '10.0.0.1,UDP:053,10.9.0.5/24'), '10.0.0.1,udp:53,10.9.0.0/24');
  for (const [type, family, element] of [
    ['hash:net', 'inet', '0.0.0.0/0'],
    ['hash:ip', 'inet', 'fd00::1'],
    ['hash:ip,port', 'inet', '10.0.0.1,tcp:80-90'],
    ['hash:ip,port', 'inet', '10.0.0.1'],
    ['hash:ip', 'inet', '10.0.0.1 nomatch'],
  ] as const) {
    t.throws(() => canonicalElement(type, family, element), { instanceOf: IpsetValidationError }, element);
  }
});

test('IpsetTransaction renders restore input; refuses names and words that would break a line', (t) => {
  const tx = new IpsetTransaction()
    .create('weft-x', { type: 'hash:ip,port,net', family: 'inet', maxelem: 131072 })
    .add('weft-x', '10.0.0.1,80,10.1.0.0/16')
    .del('weft-y', '10.0.0.1')
    .swap('weft-x', 'weft-t-0123456789')
    .destroy('weft-t-0123456789');
  t.is(
    tx.render(),
    [
      'create weft-x hash:ip,port,net family inet maxelem 131072',
      'add weft-x 10.0.0.1,tcp:80,10.1.0.0/16',
      'del weft-y 10.0.0.1',
      'swap weft-x weft-t-0123456789',
      'destroy weft-t-0123456789',
      '',
    ].join('\n'),
  );
  t.is(tx.operations.length, 5);
  t.true(new IpsetTransaction().isEmpty);
  t.throws(() => new IpsetTransaction().destroy('x'.repeat(32)), { instanceOf: IpsetValidationError });
  t.throws(() => new IpsetTransaction().add('a', '10.0.0.1\ndestroy b'), { instanceOf: IpsetValidationError });
  t.throws(() => new IpsetTransaction().create('a', { type: 'hash:ip', family: 'inet', maxelem: 0 }), { instanceOf: IpsetValidationError });
  t.throws(() => new IpsetTransaction().create('a', { type: 'hash:ip,mark' as never, family: 'inet' }), { instanceOf: IpsetValidationError });
  t.is(parseRestoreErrorLine('ipset v7.17: Error in line 3: Syntax error: cannot parse 10.0.0.x'), 3);
});

test('IpsetTransaction.append: the other operations after these, also as many as a full sync has', (t) => {
  const before = new IpsetTransaction().create('weft-a', { type: 'hash:ip', family: 'inet' }).add('weft-a', '10.0.0.1');
  const after = new IpsetTransaction().del('weft-b', '10.0.0.2');
  t.deepEqual(before.append(after).render().split('\n'), ['create weft-a hash:ip family inet', 'add weft-a 10.0.0.1', 'del weft-b 10.0.0.2', '']);
  // A full sync at 1,000 policies over 5,000 pods writes ~450,000 elements in one step.
  const big = new IpsetTransaction();
  for (let i = 0; i < 450_000; i++) big.addCanonical('weft-a', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  t.is(new IpsetTransaction().append(big).operations.length, 450_000);
});

// ---- the backend's set diff ----

const names = new IptablesNames('WEFT');
const saved = (name: string, type: string, elements: string[], extra: Partial<SavedIpset> = {}): SavedIpset => ({
  name,
  type,
  family: 'inet',
  options: { family: 'inet', maxelem: '65536' },
  flags: [],
  elements,
  decoratedElements: 0,
  ...extra,
});
const want = (name: string, role: DesiredIpset['role'], elements: string[], type: DesiredIpset['type'] = 'hash:ip'): DesiredIpset => ({ name, type, family: 'inet', elements, role });

test('set names: fixed and per-object names fit ipset, and only weft\'s own shapes are owned', (t) => {
  t.is(names.fixedSet('i-clsp', 4), 'weft-i-clsp4');
  t.regex(names.localSet('e', '10.0.0.1', 'all', 6), /^weft-e6-[0-9a-f]{10}$/);
  t.not(names.localSet('e', '10.0.0.1', 'all', 4), names.localSet('e', '10.0.0.1', 'tcp 1-100', 4));
  for (const n of ['weft-pods4', 'weft-e-iso6', 'weft-i-anyp4', 'weft-i4-0123456789', 'weft-t-abcdef0123']) t.true(names.ownsSet(n), n);
  for (const n of ['weft-lab-pods4', 'weft-x', 'weftpods4', 'other', 'weft-i4-0123']) t.false(names.ownsSet(n), n);
  t.throws(() => new IptablesNames('A-VERY-LONG-TABLE-NAME').localSet('e', '10.0.0.1', 'all', 4), { message: /longer than 31/ });
});

test('new sets are created filled before the rules; an unchanged set costs nothing', (t) => {
  const plan = diffIpsets([want('weft-pods4', 'allow', ['10.0.0.1']), want('weft-e-iso4', 'isolate', ['10.0.0.1'])], [saved('weft-pods4', 'hash:ip', ['10.0.0.1'])], names);
  t.deepEqual(plan.before.render().split('\n'), ['create weft-e-iso4 hash:ip family inet maxelem 65536', 'add weft-e-iso4 10.0.0.1', '']);
  t.true(plan.after.isEmpty);
  t.deepEqual(plan.destroy, []);
});

test('allowances grow before the rules and shrink after; isolation shrinks before and grows after', (t) => {
  const plan = diffIpsets(
    [want('weft-i-anyp4', 'allow', ['10.0.0.1,tcp:80', '10.0.0.2,tcp:80'], 'hash:ip,port'), want('weft-i-iso4', 'isolate', ['10.0.0.2', '10.0.0.3'])],
    [saved('weft-i-anyp4', 'hash:ip,port', ['10.0.0.1,tcp:80', '10.0.0.9,tcp:80']), saved('weft-i-iso4', 'hash:ip', ['10.0.0.2', '10.0.0.9'])],
    names,
  );
  t.deepEqual(plan.before.operations, [
    { op: 'add', name: 'weft-i-anyp4', element: '10.0.0.2,tcp:80' },
    { op: 'del', name: 'weft-i-iso4', element: '10.0.0.9' },
  ]);
  t.deepEqual(plan.after.operations, [
    { op: 'add', name: 'weft-i-iso4', element: '10.0.0.3' },
    { op: 'del', name: 'weft-i-anyp4', element: '10.0.0.9,tcp:80' },
  ]);
});

test('a pod is admitted by the bridge guard only after it is isolated, and leaves the guard before its isolation goes', (t) => {
  const plan = diffIpsets(
    [want('weft-pods4', 'admit', ['10.0.0.1', '10.0.0.2']), want('weft-i-iso4', 'isolate', ['10.0.0.1', '10.0.0.2'])],
    [saved('weft-i-iso4', 'hash:ip', ['10.0.0.1', '10.0.0.3']), saved('weft-pods4', 'hash:ip', ['10.0.0.1', '10.0.0.3'])],
    names,
  );
  t.deepEqual(plan.before.operations, [
    { op: 'del', name: 'weft-pods4', element: '10.0.0.3' },
    { op: 'del', name: 'weft-i-iso4', element: '10.0.0.3' },
  ]);
  t.deepEqual(plan.after.operations, [
    { op: 'add', name: 'weft-i-iso4', element: '10.0.0.2' },
    { op: 'add', name: 'weft-pods4', element: '10.0.0.2' },
  ]);
});

test('saved elements in another text form count as the same element; unparseable ones are deleted by their text', (t) => {
  const six = (elements: string[]): SavedIpset => ({ ...saved('weft-pods6', 'hash:ip', elements), family: 'inet6', options: { family: 'inet6', maxelem: '65536' } });
  const desired: DesiredIpset = { name: 'weft-pods6', type: 'hash:ip', family: 'inet6', elements: ['fd00::1', 'fd00::2'], role: 'admit' };
  const same = diffIpsets([desired], [six(['fd00:0::1', 'FD00::2'])], names);
  t.true(same.before.isEmpty && same.after.isEmpty);
  const other = diffIpsets([desired], [six(['fd00:0::1', 'fd00::0:1', 'bogus', 'fd00::3'])], names);
  t.deepEqual(other.before.operations, [
    { op: 'del', name: 'weft-pods6', element: 'bogus' },
    { op: 'del', name: 'weft-pods6', element: 'fd00::3' },
  ]);
  t.deepEqual(other.after.operations, [{ op: 'add', name: 'weft-pods6', element: 'fd00::2' }]);
});

test('sets nothing wants are destroyed after the rules; leftover temporary sets first; foreign sets never', (t) => {
  const plan = diffIpsets(
    [],
    [saved('weft-e4-0123456789', 'hash:net', []), saved('weft-t-0123456789', 'hash:ip', []), saved('weft-lab-pods4', 'hash:ip', []), saved('kube-x', 'hash:ip', [])],
    names,
  );
  t.deepEqual(plan.before.operations, [{ op: 'destroy', name: 'weft-t-0123456789' }]);
  t.deepEqual(plan.destroy, ['weft-e4-0123456789']);
});

test('a set too small for the sync, or with extensions, is rebuilt under a temporary name and swapped in', (t) => {
  const elements = Array.from({ length: 40000 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  const small = diffIpsets([want('weft-pods4', 'allow', elements)], [saved('weft-pods4', 'hash:ip', ['10.200.0.1'], { options: { family: 'inet', maxelem: '65536' } })], names);
  t.is(small.before.operations[0].op, 'add', 'room enough: elements are added in place');

  const full = diffIpsets([want('weft-pods4', 'allow', elements)], [saved('weft-pods4', 'hash:ip', ['10.200.0.1'], { options: { family: 'inet', maxelem: '1024' } })], names);
  const temp = names.tempSet('weft-pods4');
  const ops = full.before.operations;
  t.deepEqual(ops[0], { op: 'create', name: temp, header: { type: 'hash:ip', family: 'inet', maxelem: maxelemFor(40001) } });
  t.is(ops.filter((o) => o.op === 'add').length, 40001, 'the union: the old element stays until after the rules');
  t.deepEqual(ops.slice(-2), [
    { op: 'swap', name: 'weft-pods4', other: temp },
    { op: 'destroy', name: temp },
  ]);
  t.deepEqual(full.after.operations, [{ op: 'del', name: 'weft-pods4', element: '10.200.0.1' }]);

  const decorated = diffIpsets([want('weft-i-iso4', 'isolate', ['10.0.0.1', '10.0.0.2'])], [saved('weft-i-iso4', 'hash:ip', ['10.0.0.1', '10.0.0.3'], { flags: ['counters'] })], names);
  t.deepEqual(
    decorated.before.operations.map((o) => o.op),
    ['create', 'add', 'swap', 'destroy'],
    'isolation: the intersection first',
  );
  t.deepEqual(decorated.after.operations, [{ op: 'add', name: 'weft-i-iso4', element: '10.0.0.2' }]);
  t.is(maxelemFor(10), 65536);
  t.is(maxelemFor(40000), 131072);
});

test('a set of weft\'s name and another type is not taken over', (t) => {
  t.throws(() => diffIpsets([want('weft-pods4', 'allow', [])], [saved('weft-pods4', 'hash:net', [])], names), { message: /not made by this agent/ });
});

test('what a plan commits is what the next sync diffs against: kept, created and rebuilt sets with their maxelem; the same desired state then plans nothing', (t) => {
  const many = Array.from({ length: 70_000 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  const desired = [want('weft-pods4', 'admit', ['10.0.0.1']), want('weft-e-iso4', 'isolate', ['10.0.0.1']), want('weft-i-anya4', 'allow', many)];
  const plan = diffIpsets(desired, [saved('weft-pods4', 'hash:ip', ['10.0.0.2'], { options: { maxelem: '1024' } }), saved('weft-i-anya4', 'hash:ip', ['10.0.0.1']), saved('weft-i-anyp4', 'hash:ip,port', [])], names);
  const committed = committedSets(desired, plan);
  t.deepEqual(
    committed.map((s) => [s.name, s.options.maxelem, s.elements.length]),
    [
      ['weft-pods4', '1024', 1],
      ['weft-e-iso4', '65536', 1],
      ['weft-i-anya4', String(maxelemFor(70_001)), 70_000],
    ],
  );
  const again = diffIpsets(desired, committed, names);
  t.true(again.before.isEmpty && again.after.isEmpty);
  t.deepEqual(again.destroy, []);
});
