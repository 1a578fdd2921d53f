import test from 'ava';
import { nftErrorFromOutput, parseNftDiagnostics } from '../../kernel/nft/errors';
import { NftValidationError, Transaction, nft, renderOperation, renderOperations, type Operation, type TableRef } from '../../kernel/nft';

const W: TableRef = { family: 'inet', name: 'weft' };
const line = (op: Operation, table: TableRef = W): string => renderOperation(table, op);
const invalid = (t: import('ava').ExecutionContext, fn: () => unknown, message?: RegExp): void => {
  const err = t.throws(fn, { instanceOf: NftValidationError });
  if (message) t.regex(err?.message ?? '', message);
};

// ---- tables ----

test('table: every verb, with and without a comment', (t) => {
  t.is(line({ verb: 'add', object: nft.table() }), 'add table inet weft');
  t.is(line({ verb: 'create', object: nft.table() }), 'create table inet weft');
  t.is(line({ verb: 'add', object: nft.table({ comment: 'weft data plane' }) }), 'add table inet weft { comment "weft data plane" ; }');
  t.is(line({ verb: 'create', object: nft.table({ comment: 'c' }) }), 'create table inet weft { comment "c" ; }');
  // delete and flush name the table only; a comment is irrelevant there.
  t.is(line({ verb: 'delete', object: nft.table({ comment: 'ignored' }) }), 'delete table inet weft');
  t.is(line({ verb: 'flush', object: nft.table() }), 'flush table inet weft');
  t.is(line({ verb: 'add', object: nft.table() }, { family: 'ip6', name: 'x-1' }), 'add table ip6 x-1');
});

test('table reference: family and name are checked', (t) => {
  for (const family of ['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev'] as const) {
    t.is(line({ verb: 'add', object: nft.table() }, { family, name: 't' }), `add table ${family} t`);
  }
  invalid(t, () => new Transaction({ family: 'ipv4' as 'ip', name: 'weft' }), /family/);
  invalid(t, () => new Transaction({ family: 'inet', name: 'we ft' }), /table name/);
  invalid(t, () => new Transaction({ family: 'inet', name: '' }), /table name/);
});

// ---- chains ----

test('chain: regular chain, with a comment, and by name for delete and flush', (t) => {
  t.is(line({ verb: 'add', object: nft.chain({ name: 'svc-a' }) }), 'add chain inet weft svc-a');
  t.is(line({ verb: 'create', object: nft.chain({ name: 'svc-a' }) }), 'create chain inet weft svc-a');
  t.is(line({ verb: 'add', object: nft.chain({ name: 'svc-a', comment: 'ns/svc' }) }), 'add chain inet weft svc-a { comment "ns/svc" ; }');
  t.is(line({ verb: 'delete', object: { kind: 'chain', name: 'svc-a' } }), 'delete chain inet weft svc-a');
  t.is(line({ verb: 'flush', object: { kind: 'chain', name: 'svc-a' } }), 'flush chain inet weft svc-a');
});

test('chain: base chain with type, hook, priority, policy and comment, in nft order', (t) => {
  t.is(
    line({ verb: 'add', object: nft.chain({ name: 'input', type: 'filter', hook: 'input', priority: 0, policy: 'drop', comment: 'in' }) }),
    'add chain inet weft input { type filter hook input priority 0 ; policy drop ; comment "in" ; }',
  );
  t.is(
    line({ verb: 'add', object: nft.chain({ name: 'pre', type: 'nat', hook: 'prerouting', priority: 'dstnat' }) }),
    'add chain inet weft pre { type nat hook prerouting priority -100 ; }',
  );
});

test('chain: named priorities become numbers, per family, with offsets', (t) => {
  const prio = (priority: string | number, family: TableRef['family'] = 'inet'): string =>
    /priority (\S+) ;/.exec(line({ verb: 'add', object: nft.chain({ name: 'c', type: 'filter', hook: 'forward', priority }) }, { family, name: 't' }))?.[1] ?? '';
  t.is(prio('raw'), '-300');
  t.is(prio('mangle'), '-150');
  t.is(prio('dstnat'), '-100');
  t.is(prio('filter'), '0');
  t.is(prio('security'), '50');
  t.is(prio('srcnat'), '100');
  t.is(prio('filter - 5'), '-5');
  t.is(prio('srcnat+10'), '110');
  t.is(prio('dstnat -1'), '-101');
  t.is(prio('-42'), '-42');
  t.is(prio(' 7 '), '7');
  t.is(prio(-300), '-300');
  t.is(prio('filter', 'ip'), '0');
  t.is(prio('filter', 'bridge'), '-200');
  t.is(prio('out', 'bridge'), '100');
  t.is(prio('filter', 'netdev'), '0');
  invalid(t, () => prio('out'), /priority/);
  invalid(t, () => prio('nonsense'), /priority/);
  invalid(t, () => prio('filter * 2'), /priority/);
  invalid(t, () => prio(1.5), /priority/);
});

test('chain: a base chain needs type, hook and priority together; a regular chain takes no policy', (t) => {
  invalid(t, () => line({ verb: 'add', object: nft.chain({ name: 'c', hook: 'input' }) }), /type, hook and priority/);
  invalid(t, () => line({ verb: 'add', object: nft.chain({ name: 'c', type: 'filter', hook: 'input' }) }), /type, hook and priority/);
  invalid(t, () => line({ verb: 'add', object: nft.chain({ name: 'c', priority: 0 }) }), /type, hook and priority/);
  invalid(t, () => line({ verb: 'add', object: nft.chain({ name: 'c', policy: 'drop' }) }), /policy/);
  invalid(t, () => line({ verb: 'add', object: nft.chain({ name: 'c', type: 'bogus' as 'nat', hook: 'input', priority: 0 }) }), /chain type/);
  invalid(t, () => line({ verb: 'add', object: nft.chain({ name: 'c', type: 'nat', hook: 'bogus' as 'input', priority: 0 }) }), /chain hook/);
  invalid(t, () => line({ verb: 'add', object: nft.chain({ name: 'c', type: 'nat', hook: 'input', priority: 0, policy: 'reject' as 'drop' }) }), /policy/);
});

// ---- names ----

test('names: nft identifiers are accepted, anything that could break the line is not', (t) => {
  for (const name of ['KUBE-SVC-X.y/z_1', '_x', '.x', 'a', 'A9', 'x'.repeat(255)]) {
    t.is(line({ verb: 'add', object: nft.chain({ name }) }), `add chain inet weft ${name}`);
  }
  for (const name of ['', 'a b', 'a;b', 'a"b', 'a$b', '9x', '-x', 'a\nb', 'a{', 'a#', 'x'.repeat(256), 'ä']) {
    invalid(t, () => line({ verb: 'add', object: nft.chain({ name }) }), /chain name/);
  }
  invalid(t, () => line({ verb: 'add', object: nft.set({ name: 'bad name', type: 'ipv4_addr' }) }), /set name/);
  invalid(t, () => line({ verb: 'add', object: nft.map({ name: 'bad name', type: 'ipv4_addr : verdict' }) }), /map name/);
  invalid(t, () => line({ verb: 'add', object: nft.rule({ chain: 'bad chain', rule: 'accept' }) }), /chain name/);
  invalid(t, () => line({ verb: 'add', object: nft.element({ set: 'bad set', key: ['1'] }) }), /set name/);
});

// ---- comments ----

test('comments: quoted; quotes, control characters and more than 128 bytes are refused', (t) => {
  const withComment = (comment: string) => line({ verb: 'add', object: nft.rule({ chain: 'c', rule: 'accept', comment }) });
  t.is(withComment(''), 'add rule inet weft c accept comment ""');
  t.is(withComment("it's {a} ; # $x \\ ok"), 'add rule inet weft c accept comment "it\'s {a} ; # $x \\ ok"');
  t.is(withComment('x'.repeat(128)), `add rule inet weft c accept comment "${'x'.repeat(128)}"`);
  invalid(t, () => withComment('x'.repeat(129)), /129 bytes/);
  invalid(t, () => withComment('é'.repeat(65)), /130 bytes/);
  t.notThrows(() => withComment('é'.repeat(64)));
  invalid(t, () => withComment('say "hi"'), /cannot contain '"'/);
  invalid(t, () => withComment('a\nadd table inet evil'), /control characters/);
  invalid(t, () => withComment('a\rb'), /control characters/);
  invalid(t, () => withComment('a\tb'), /control characters/);
  invalid(t, () => withComment('a\u0000b'), /control characters/);
  invalid(t, () => line({ verb: 'add', object: nft.table({ comment: 'a"b' }) }));
  invalid(t, () => line({ verb: 'add', object: nft.chain({ name: 'c', comment: 'a"b' }) }));
  invalid(t, () => line({ verb: 'add', object: nft.set({ name: 's', type: 'ipv4_addr', comment: 'a"b' }) }));
  invalid(t, () => line({ verb: 'add', object: nft.element({ set: 's', key: ['1.2.3.4'], comment: 'a"b' }) }));
});

// ---- rules ----

test('rule: add, insert, replace and delete, placed by handle or index', (t) => {
  const r = { chain: 'input', rule: 'tcp dport 80 accept' };
  t.is(line({ verb: 'add', object: nft.rule(r) }), 'add rule inet weft input tcp dport 80 accept');
  t.is(line({ verb: 'add', object: nft.rule({ ...r, comment: 'web' }) }), 'add rule inet weft input tcp dport 80 accept comment "web"');
  t.is(line({ verb: 'add', object: nft.rule({ ...r, handle: 7 }) }), 'add rule inet weft input handle 7 tcp dport 80 accept');
  t.is(line({ verb: 'add', object: nft.rule({ ...r, index: 0 }) }), 'add rule inet weft input index 0 tcp dport 80 accept');
  t.is(line({ verb: 'insert', object: nft.rule(r) }), 'insert rule inet weft input tcp dport 80 accept');
  t.is(line({ verb: 'insert', object: nft.rule({ ...r, index: 2, comment: 'c' }) }), 'insert rule inet weft input index 2 tcp dport 80 accept comment "c"');
  t.is(line({ verb: 'insert', object: nft.rule({ ...r, handle: 3 }) }), 'insert rule inet weft input handle 3 tcp dport 80 accept');
  t.is(line({ verb: 'replace', object: { ...nft.rule(r), handle: 9 } }), 'replace rule inet weft input handle 9 tcp dport 80 accept');
  t.is(line({ verb: 'delete', object: { kind: 'rule', chain: 'input', handle: 9 } }), 'delete rule inet weft input handle 9');
});

test('rule: handle and index are checked', (t) => {
  const r = { chain: 'input', rule: 'accept' };
  invalid(t, () => line({ verb: 'add', object: nft.rule({ ...r, handle: 1, index: 1 }) }), /not both/);
  invalid(t, () => line({ verb: 'replace', object: nft.rule(r) as never }), /handle/);
  invalid(t, () => line({ verb: 'replace', object: { ...nft.rule({ ...r, index: 1 }), handle: 2 } }), /not both/);
  invalid(t, () => line({ verb: 'delete', object: { kind: 'rule', chain: 'input' } as never }), /handle/);
  invalid(t, () => line({ verb: 'add', object: nft.rule({ ...r, handle: -1 }) }), /handle/);
  invalid(t, () => line({ verb: 'add', object: nft.rule({ ...r, index: 1.5 }) }), /index/);
});

test('rule text: a second command cannot be smuggled in', (t) => {
  const add = (rule: string) => line({ verb: 'add', object: nft.rule({ chain: 'c', rule }) });
  invalid(t, () => add('drop ; delete table inet weft'), /';' outside/);
  invalid(t, () => add('drop\ndelete table inet weft'), /control characters/);
  invalid(t, () => add('drop\rdelete'), /control characters/);
  invalid(t, () => add('drop # the rest'), /'#' outside/);
  invalid(t, () => add('iifname "eth0 drop'), /unbalanced/);
  invalid(t, () => add(''), /empty/);
  invalid(t, () => add('   '), /empty/);
  // Inside quotes both are just characters.
  t.is(add('iifname "a;b#c" accept'), 'add rule inet weft c iifname "a;b#c" accept');
  t.is(add('  ip daddr { 10.0.0.1, 10.0.0.2 } accept  '), 'add rule inet weft c ip daddr { 10.0.0.1, 10.0.0.2 } accept');
});

// ---- sets and maps ----

test('set: type canonicalised, flags sorted and unique, timeout, comment', (t) => {
  t.is(line({ verb: 'add', object: nft.set({ name: 's', type: 'ipv4_addr' }) }), 'add set inet weft s { type ipv4_addr ; }');
  t.is(
    line({ verb: 'add', object: nft.set({ name: 's', type: 'ipv4_addr.inet_proto .  inet_service', flags: ['timeout', 'interval', 'timeout'], timeout: 30, comment: 'x' }) }),
    'add set inet weft s { type ipv4_addr . inet_proto . inet_service ; flags interval,timeout ; timeout 30s ; comment "x" ; }',
  );
  t.is(line({ verb: 'create', object: nft.set({ name: 's', type: 'ipv6_addr', flags: [] }) }), 'create set inet weft s { type ipv6_addr ; }');
  t.is(line({ verb: 'delete', object: { kind: 'set', name: 's' } }), 'delete set inet weft s');
  t.is(line({ verb: 'flush', object: { kind: 'set', name: 's' } }), 'flush set inet weft s');
  invalid(t, () => line({ verb: 'add', object: nft.set({ name: 's', type: 'ipv4_addr ; flags x' }) }), /set type/);
  invalid(t, () => line({ verb: 'add', object: nft.set({ name: 's', type: 'ipv4_addr : verdict' }) }), /set type/);
  invalid(t, () => line({ verb: 'add', object: nft.set({ name: 's', type: '' }) }), /set type/);
  invalid(t, () => line({ verb: 'add', object: nft.set({ name: 's', type: 'ipv4_addr', flags: ['bogus' as 'interval'] }) }), /set flag/);
  invalid(t, () => line({ verb: 'add', object: nft.set({ name: 's', type: 'ipv4_addr', timeout: 0 }) }), /timeout/);
  invalid(t, () => line({ verb: 'add', object: nft.set({ name: 's', type: 'ipv4_addr', timeout: 1.5 }) }), /timeout/);
});

test('map: KEY : VALUE type, each side canonicalised', (t) => {
  t.is(line({ verb: 'add', object: nft.map({ name: 'm', type: 'ipv4_addr:verdict' }) }), 'add map inet weft m { type ipv4_addr : verdict ; }');
  t.is(
    line({ verb: 'add', object: nft.map({ name: 'm', type: 'ipv4_addr . inet_service : ipv4_addr . inet_service', flags: ['interval'], comment: 'dnat' }) }),
    'add map inet weft m { type ipv4_addr . inet_service : ipv4_addr . inet_service ; flags interval ; comment "dnat" ; }',
  );
  t.is(line({ verb: 'delete', object: { kind: 'map', name: 'm' } }), 'delete map inet weft m');
  t.is(line({ verb: 'flush', object: { kind: 'map', name: 'm' } }), 'flush map inet weft m');
  invalid(t, () => line({ verb: 'add', object: nft.map({ name: 'm', type: 'ipv4_addr' }) }), /KEY : VALUE/);
  invalid(t, () => line({ verb: 'add', object: nft.map({ name: 'm', type: 'a : b : c' }) }), /KEY : VALUE/);
  invalid(t, () => line({ verb: 'add', object: nft.map({ name: 'm', type: 'ipv4_addr : Verdict' }) }), /map type/);
});

// ---- elements ----

test('element: set keys, concatenations, timeout and comment', (t) => {
  t.is(line({ verb: 'add', object: nft.element({ set: 's', key: ['10.0.0.1'] }) }), 'add element inet weft s { 10.0.0.1 }');
  t.is(
    line({ verb: 'add', object: nft.element({ set: 's', key: ['10.0.0.0/8', 'tcp', '80-90'], timeout: 10, comment: 'e' }) }),
    'add element inet weft s { 10.0.0.0/8 . tcp . 80-90 timeout 10s comment "e" }',
  );
  t.is(line({ verb: 'create', object: nft.element({ set: 's', key: ['fd00::1', '443'] }) }), 'create element inet weft s { fd00::1 . 443 }');
  t.is(line({ verb: 'add', object: nft.element({ set: 'ifs', key: ['"eth0"'] }) }), 'add element inet weft ifs { "eth0" }');
  t.is(line({ verb: 'add', object: nft.element({ set: 'ifs', key: ['veth*'] }) }), 'add element inet weft ifs { veth* }');
});

test('element: map values, verdicts, and delete by key only', (t) => {
  t.is(
    line({ verb: 'add', object: nft.element({ map: 'm', key: ['10.96.0.1', 'tcp', '80'], value: ['jump svc-a'], comment: 'ns/a' }) }),
    'add element inet weft m { 10.96.0.1 . tcp . 80 comment "ns/a" : jump svc-a }',
  );
  t.is(line({ verb: 'add', object: nft.element({ map: 'm', key: ['10.96.0.1'], value: ['drop'] }) }), 'add element inet weft m { 10.96.0.1 : drop }');
  t.is(
    line({ verb: 'add', object: nft.element({ map: 'dnat', key: ['10.96.0.1', '80'], value: ['10.244.1.5', '8080'] }) }),
    'add element inet weft dnat { 10.96.0.1 . 80 : 10.244.1.5 . 8080 }',
  );
  t.is(
    line({ verb: 'delete', object: { kind: 'element', map: 'm', key: ['10.96.0.1', 'tcp', '80'] } }),
    'delete element inet weft m { 10.96.0.1 . tcp . 80 }',
  );
  // A delete renders the key alone, even when given a whole element.
  t.is(
    line({ verb: 'delete', object: nft.element({ set: 's', key: ['1.2.3.4'], comment: 'c', timeout: 5 }) }),
    'delete element inet weft s { 1.2.3.4 }',
  );
});

test('element: malformed elements are refused', (t) => {
  const add = (e: Parameters<typeof nft.element>[0]) => line({ verb: 'add', object: nft.element(e) });
  invalid(t, () => add({ key: ['1.2.3.4'] }), /exactly one of set or map/);
  invalid(t, () => add({ set: 's', map: 'm', key: ['1.2.3.4'] }), /exactly one of set or map/);
  invalid(t, () => add({ map: 'm', key: ['1.2.3.4'] }), /needs a value/);
  invalid(t, () => add({ set: 's', key: ['1.2.3.4'], value: ['accept'] }), /cannot have a value/);
  invalid(t, () => add({ set: 's', key: [] }), /non-empty/);
  invalid(t, () => add({ map: 'm', key: ['1'], value: [] }), /non-empty/);
  invalid(t, () => add({ set: 's', key: ['1.2.3.4 comment "x"'] }), /key part/);
  invalid(t, () => add({ set: 's', key: ['1.2.3.4 }; delete table inet weft {'] }), /key part/);
  invalid(t, () => add({ set: 's', key: ['1.2.3.4,5.6.7.8'] }), /key part/);
  invalid(t, () => add({ set: 's', key: [''] }), /key part/);
  invalid(t, () => add({ map: 'm', key: ['1'], value: ['accept }'] }), /value part/);
  invalid(t, () => add({ map: 'm', key: ['1'], value: ['jump  x'] }), /value part/);
  invalid(t, () => add({ map: 'm', key: ['1'], value: ['accept;'] }), /value part/);
  invalid(t, () => add({ set: 's', key: ['1'], timeout: -1 }), /timeout/);
});

// ---- verbs x kinds ----

test('verbs take only the kinds nft allows', (t) => {
  const bad: Operation[] = [
    { verb: 'create', object: nft.rule({ chain: 'c', rule: 'accept' }) } as unknown as Operation,
    { verb: 'insert', object: nft.chain({ name: 'c' }) } as unknown as Operation,
    { verb: 'replace', object: nft.set({ name: 's', type: 'ipv4_addr' }) } as unknown as Operation,
    { verb: 'flush', object: { kind: 'rule', chain: 'c', handle: 1 } } as unknown as Operation,
    { verb: 'flush', object: nft.element({ set: 's', key: ['1'] }) } as unknown as Operation,
    { verb: 'add', object: { kind: 'flowtable', name: 'f' } } as unknown as Operation,
    { verb: 'destroy', object: nft.table() } as unknown as Operation,
  ];
  for (const op of bad) invalid(t, () => line(op), /does not apply/);
});

// ---- transactions ----

test('transaction: one line per operation, in order, each ending in a newline', (t) => {
  const tx = new Transaction(W)
    .add(nft.table())
    .add(nft.chain({ name: 'c' }))
    .add(nft.rule({ chain: 'c', rule: 'accept' }))
    .flush({ kind: 'chain', name: 'c' })
    .delete({ kind: 'chain', name: 'c' });
  t.is(tx.size, 5);
  t.is(
    tx.render(),
    'add table inet weft\nadd chain inet weft c\nadd rule inet weft c accept\nflush chain inet weft c\ndelete chain inet weft c\n',
  );
  const lines = tx.render().split('\n');
  tx.operations().forEach((op, i) => t.is(lines[i], renderOperation(W, op)));
  t.is(renderOperations(W, tx.operations()), tx.render());
  t.is(new Transaction(W).render(), '');
});

test('transaction: an invalid operation throws at add and is not recorded', (t) => {
  const tx = new Transaction(W).add(nft.table());
  invalid(t, () => tx.add(nft.rule({ chain: 'c', rule: 'drop; flush ruleset' })));
  t.is(tx.size, 1);
  t.is(tx.render(), 'add table inet weft\n');
});

test('transaction: later changes to an added object do not change what was rendered', (t) => {
  const rule = nft.rule({ chain: 'c', rule: 'accept' });
  const element = nft.element({ set: 's', key: ['1.2.3.4'] });
  const tx = new Transaction(W).add(rule).add(element);
  rule.rule = 'drop; flush ruleset';
  element.key.push('evil }');
  t.is(tx.render(), 'add rule inet weft c accept\nadd element inet weft s { 1.2.3.4 }\n');
  t.deepEqual(tx.operations()[0], { verb: 'add', object: { kind: 'rule', chain: 'c', rule: 'accept' } });
});

test('transaction: the table reference is copied', (t) => {
  const ref: TableRef = { family: 'inet', name: 'weft' };
  const tx = new Transaction(ref);
  ref.name = 'other';
  t.is(tx.add(nft.table()).render(), 'add table inet weft\n');
});

// ---- errors ----

test('nft diagnostics are parsed, every one, in order', (t) => {
  const stderr = [
    '/dev/stdin:3:51-63: Error: Could not resolve service: Servname not supported for ai_socktype',
    'add rule inet weft c ip daddr 192.0.2.1 tcp dport nosuchservice accept',
    '                                                  ^^^^^^^^^^^^^',
    '/dev/stdin:4:31-41: Error: Could not resolve hostname: Name or service not known',
    'add rule inet weft c ip daddr 192.0.2.300 accept',
    '                              ^^^^^^^^^^^',
    '',
  ].join('\n');
  t.deepEqual(parseNftDiagnostics(stderr), [
    { line: 3, columnStart: 51, columnEnd: 63, message: 'Could not resolve service: Servname not supported for ai_socktype' },
    { line: 4, columnStart: 31, columnEnd: 41, message: 'Could not resolve hostname: Name or service not known' },
  ]);
  t.deepEqual(parseNftDiagnostics('Error: syntax error\n'), []);
});

test('an nft error points at the rendered line and its operation', (t) => {
  const tx = new Transaction(W).add(nft.table()).add(nft.chain({ name: 'c' })).add(nft.rule({ chain: 'gone', rule: 'accept' }));
  const stderr = '/dev/stdin:3:20-23: Error: Could not process rule: No such file or directory\nadd rule inet weft gone accept\n                   ^^^^\n';
  const err = nftErrorFromOutput(tx.render(), tx.operations(), stderr, 1);
  t.is(err.name, 'NftError');
  t.is(err.line, 3);
  t.is(err.lineText, 'add rule inet weft gone accept');
  t.is(err.operation, tx.operations()[2]);
  t.is(err.exitCode, 1);
  t.is(err.stderr, stderr);
  t.is(err.message, 'nft: line 3: Could not process rule: No such file or directory: add rule inet weft gone accept');

  const unlocated = nftErrorFromOutput(tx.render(), tx.operations(), 'Error: Could not process rule: Operation not permitted\n', 1);
  t.is(unlocated.line, undefined);
  t.is(unlocated.operation, undefined);
  t.regex(unlocated.message, /Operation not permitted/);
});
