import test, { type ExecutionContext } from 'ava';
import { restoreError } from '../../kernel/iptables/errors';
import { parseSavedRule } from '../../kernel/iptables/parse-save';
import {
  IptablesTransaction,
  IptablesValidationError,
  iptablesPrograms,
  optionGroups,
  parseIptablesSave,
  parseRestoreErrorLine,
  quoteWord,
  splitWords,
  type SavedTable,
} from '../../kernel/iptables';

const invalid = (t: ExecutionContext, fn: () => unknown, message?: RegExp): void => {
  const err = t.throws(fn, { instanceOf: IptablesValidationError });
  if (message) t.regex(err?.message ?? '', message);
};

const lines = (...l: string[]) => `${l.join('\n')}\n`;

/** A saved filter table holding the given rules ([chain, text]). */
function filterWith(...rules: [string, string][]): SavedTable {
  return {
    table: 'filter',
    chains: [],
    rules: rules.map(([chain, text]) => parseSavedRule(chain, text)),
  };
}

// ---- words ----

test('splitWords splits like iptables-restore: spaces, quotes, escapes inside quotes', (t) => {
  t.deepEqual(splitWords('-s 10.0.0.0/8   -j ACCEPT'), ['-s', '10.0.0.0/8', '-j', 'ACCEPT']);
  t.deepEqual(splitWords('-m comment --comment "hello world" -j X'), ['-m', 'comment', '--comment', 'hello world', '-j', 'X']);
  t.deepEqual(splitWords('--comment "say \\"hi\\" \\\\ ok"'), ['--comment', 'say "hi" \\ ok']);
  t.deepEqual(splitWords('--comment ""'), ['--comment', '']);
  t.deepEqual(splitWords('a\tb'), ['a', 'b']);
  t.deepEqual(splitWords('  '), []);
  invalid(t, () => splitWords('--comment "open'), /unbalanced/);
});

test('quoteWord leaves plain words bare and quotes the rest with escapes', (t) => {
  for (const w of ['-s', '10.0.0.0/8', 'fd00::/64', 'WEFT-FORWARD', '!', '80:90', 'tcp,udp', '0x1/0xff']) t.is(quoteWord(w), w);
  t.is(quoteWord('hello world'), '"hello world"');
  t.is(quoteWord('say "hi"'), '"say \\"hi\\""');
  t.is(quoteWord('back\\slash'), '"back\\\\slash"');
  t.is(quoteWord(''), '""');
  t.is(quoteWord("it's"), '"it\'s"');
  invalid(t, () => quoteWord('a\nCOMMIT'), /control characters/);
  invalid(t, () => quoteWord('a\rb'), /control characters/);
  invalid(t, () => quoteWord('a\u0000b'), /control characters/);
});

test('quoting and splitting round-trip', (t) => {
  const words = ['-m', 'comment', '--comment', 'a "b" \\c d', '', 'x y', '-j', 'ACCEPT'];
  t.deepEqual(splitWords(words.map(quoteWord).join(' ')), words);
});

test('option groups compare rules regardless of option order, not regardless of values', (t) => {
  const g = (s: string) => JSON.stringify(optionGroups(splitWords(s)));
  t.is(g('-m comment --comment x -s 10.0.0.0/8 -j X'), g('-s 10.0.0.0/8 -m comment --comment x -j X'));
  t.not(g('-s 10.0.0.1 -d 10.0.0.2 -j X'), g('-s 10.0.0.2 -d 10.0.0.1 -j X'));
  t.not(g('! -i lo -j X'), g('-i lo -j X'));
  t.is(g('! -i lo -j X'), g('-j X ! -i lo'));
  t.not(g('-j X'), g('-j X -i lo'));
});

// ---- transaction rendering ----

test('declared chains, then rules in order, then COMMIT, with comments first', (t) => {
  const tx = new IptablesTransaction('ipv4')
    .chain('filter', 'WEFT-A')
    .chain('filter', 'WEFT-B')
    .rule('filter', 'WEFT-A', '-s 10.0.0.0/8 -j WEFT-B', 'pods')
    .rule('filter', 'WEFT-B', ['-m', 'comment', '--comment', 'two words', '-j', 'ACCEPT'])
    .rule('filter', 'WEFT-A', '-j RETURN');
  t.is(
    tx.render(),
    lines(
      '*filter',
      ':WEFT-A - [0:0]',
      ':WEFT-B - [0:0]',
      '-A WEFT-A -m comment --comment pods -s 10.0.0.0/8 -j WEFT-B',
      '-A WEFT-B -m comment --comment "two words" -j ACCEPT',
      '-A WEFT-A -j RETURN',
      'COMMIT',
    ),
  );
  t.deepEqual(tx.tablesNeedingState(), []);
});

test('a declared chain with no rules is emptied; declaring twice declares once', (t) => {
  const tx = new IptablesTransaction('ipv6').chain('filter', 'WEFT-A').chain('filter', 'WEFT-A');
  t.is(tx.render(), lines('*filter', ':WEFT-A - [0:0]', 'COMMIT'));
});

test('tables come out in a fixed order, each with its own COMMIT', (t) => {
  const tx = new IptablesTransaction('ipv4').chain('raw', 'WEFT-R').chain('nat', 'WEFT-N').chain('mangle', 'WEFT-M').chain('filter', 'WEFT-F');
  t.is(
    tx.render(),
    lines('*filter', ':WEFT-F - [0:0]', 'COMMIT', '*nat', ':WEFT-N - [0:0]', 'COMMIT', '*mangle', ':WEFT-M - [0:0]', 'COMMIT', '*raw', ':WEFT-R - [0:0]', 'COMMIT'),
  );
  t.is(new IptablesTransaction('ipv4').render(), '');
  t.true(new IptablesTransaction('ipv4').isEmpty);
});

test('a rule string with quoted words is re-quoted canonically', (t) => {
  const tx = new IptablesTransaction('ipv4').chain('filter', 'WEFT-A').rule('filter', 'WEFT-A', '-m comment --comment "a \\"q\\"" -j ACCEPT');
  t.is(tx.render(), lines('*filter', ':WEFT-A - [0:0]', '-A WEFT-A -m comment --comment "a \\"q\\"" -j ACCEPT', 'COMMIT'));
});

// ---- validation ----

test('rules go only into chains this transaction declares', (t) => {
  const tx = new IptablesTransaction('ipv4').chain('filter', 'WEFT-A');
  invalid(t, () => tx.rule('filter', 'WEFT-B', '-j ACCEPT'), /not declared/);
  invalid(t, () => tx.rule('filter', 'FORWARD', '-j WEFT-A'), /not declared/);
  invalid(t, () => tx.rule('nat', 'WEFT-A', '-j ACCEPT'), /not declared/);
  invalid(t, () => tx.rule('filter', 'WEFT-A', ''), /empty/);
});

test('built-in chains are never declared or deleted', (t) => {
  const tx = new IptablesTransaction('ipv4');
  invalid(t, () => tx.chain('filter', 'FORWARD'), /built-in/);
  invalid(t, () => tx.chain('nat', 'POSTROUTING'), /built-in/);
  invalid(t, () => tx.chain('raw', 'PREROUTING'), /built-in/);
  invalid(t, () => tx.deleteChain('mangle', 'OUTPUT'), /built-in/);
  // FORWARD is not built in to nat, so it is an ordinary name there.
  t.notThrows(() => new IptablesTransaction('ipv4').chain('nat', 'FORWARD'));
});

test('names, tables, families, words and comments are checked', (t) => {
  const tx = new IptablesTransaction('ipv4').chain('filter', 'WEFT-A');
  for (const name of ['', 'WEFT A', '-WEFT', 'x'.repeat(29), 'WEFT\n', 'WEFT"']) invalid(t, () => tx.chain('filter', name), /chain name/);
  t.notThrows(() => new IptablesTransaction('ipv4').chain('filter', 'K'.repeat(28)));
  invalid(t, () => tx.chain('security' as 'filter', 'WEFT-A'), /invalid table/);
  invalid(t, () => new IptablesTransaction('ipv5' as 'ipv4'), /family/);
  invalid(t, () => tx.rule('filter', 'WEFT-A', '-j ACCEPT\nCOMMIT'), /control characters/);
  invalid(t, () => tx.rule('filter', 'WEFT-A', ['-j', 'ACCEPT\n-F']), /control characters/);
  invalid(t, () => tx.rule('filter', 'WEFT-A', '-j ACCEPT', 'a\nb'), /control characters/);
  invalid(t, () => tx.rule('filter', 'WEFT-A', '-j ACCEPT', 'x'.repeat(256)), /256 bytes/);
  t.notThrows(() => tx.rule('filter', 'WEFT-A', '-j ACCEPT', 'x'.repeat(255)));
  invalid(t, () => tx.rule('filter', 'WEFT-A', '--comment "open'), /unbalanced/);
});

test('a refused call leaves no trace', (t) => {
  const tx = new IptablesTransaction('ipv4');
  invalid(t, () => tx.chain('nat', 'POSTROUTING'));
  invalid(t, () => tx.rule('mangle', 'WEFT-X', '-j ACCEPT'));
  t.true(tx.isEmpty);
  t.is(tx.render(), '');
});

test('declared and deleted, or jumps from our own chains, are contradictions', (t) => {
  invalid(t, () => new IptablesTransaction('ipv4').chain('filter', 'WEFT-A').deleteChain('filter', 'WEFT-A'), /both declared and deleted/);
  invalid(t, () => new IptablesTransaction('ipv4').deleteChain('filter', 'WEFT-A').chain('filter', 'WEFT-A'), /both declared and deleted/);
  invalid(t, () => new IptablesTransaction('ipv4').chain('filter', 'WEFT-A').ensureJump({ table: 'filter', chain: 'WEFT-A', target: 'WEFT-B' }), /ordinary rules/);
  invalid(t, () => new IptablesTransaction('ipv4').ensureJump({ table: 'filter', chain: 'WEFT-A', target: 'WEFT-B' }).chain('filter', 'WEFT-A'), /jumps managed/);
  invalid(t, () => new IptablesTransaction('ipv4').chain('filter', 'WEFT-A').removeJump({ table: 'filter', chain: 'WEFT-A', target: 'WEFT-B' }), /declared/);
  invalid(t, () => new IptablesTransaction('ipv4').ensureJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-B', matches: '-j ACCEPT' }), /target/);
  invalid(t, () => new IptablesTransaction('ipv4').ensureJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-B', position: 'middle' as 'first' }), /position/);
  invalid(
    t,
    () => new IptablesTransaction('ipv4').chain('filter', 'WEFT-A').rule('filter', 'WEFT-A', '-j WEFT-OLD').deleteChain('filter', 'WEFT-OLD').render(),
    /deletes/,
  );
  invalid(
    t,
    () => new IptablesTransaction('ipv4').ensureJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-OLD' }).deleteChain('filter', 'WEFT-OLD').render(),
    /deleted/,
  );
});

// ---- jumps ----

test('a missing jump is inserted first (or appended last)', (t) => {
  const first = new IptablesTransaction('ipv4').ensureJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-F', comment: 'weft' });
  t.deepEqual(first.tablesNeedingState(), ['filter']);
  t.is(first.render({ filter: filterWith() }), lines('*filter', '-I FORWARD 1 -m comment --comment weft -j WEFT-F', 'COMMIT'));
  const last = new IptablesTransaction('ipv4').ensureJump({ table: 'nat', chain: 'POSTROUTING', target: 'WEFT-N', matches: ['-s', '10.244.0.0/16'], position: 'last' });
  t.is(last.render(), lines('*nat', '-A POSTROUTING -s 10.244.0.0/16 -j WEFT-N', 'COMMIT'));
});

test('a jump already present, in any option order, is left alone', (t) => {
  const tx = new IptablesTransaction('ipv4').ensureJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-F', matches: '-i weft0', comment: 'weft fwd' });
  t.is(
    tx.render({ filter: filterWith(['FORWARD', '-s 192.0.2.1/32 -j DROP'], ['FORWARD', '-i weft0 -m comment --comment "weft fwd" -j WEFT-F']) }),
    lines('*filter', 'COMMIT'),
  );
  t.is(tx.render({ filter: filterWith(['FORWARD', '-m comment --comment "weft fwd" -i weft0 -j WEFT-F']) }), lines('*filter', 'COMMIT'));
});

test('a stale or duplicated jump is deleted by its saved text and written anew', (t) => {
  const tx = new IptablesTransaction('ipv4').ensureJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-F', comment: 'v2' });
  t.is(
    tx.render({ filter: filterWith(['FORWARD', '-m comment --comment "v1 old" -j WEFT-F'], ['INPUT', '-j WEFT-F']) }),
    lines('*filter', '-D FORWARD -m comment --comment "v1 old" -j WEFT-F', '-I FORWARD 1 -m comment --comment v2 -j WEFT-F', 'COMMIT'),
  );
  t.is(
    tx.render({ filter: filterWith(['FORWARD', '-m comment --comment v2 -j WEFT-F'], ['FORWARD', '-j ACCEPT'], ['FORWARD', '-m comment --comment v2 -j WEFT-F']) }),
    lines('*filter', '-D FORWARD -m comment --comment v2 -j WEFT-F', '-D FORWARD -m comment --comment v2 -j WEFT-F', '-I FORWARD 1 -m comment --comment v2 -j WEFT-F', 'COMMIT'),
  );
});

test('removeJump deletes every jump to the target from that chain only', (t) => {
  const tx = new IptablesTransaction('ipv4').removeJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-F' });
  t.is(
    tx.render({ filter: filterWith(['FORWARD', '-j WEFT-F'], ['INPUT', '-j WEFT-F'], ['FORWARD', '-i eth0 -j WEFT-F'], ['FORWARD', '-j ACCEPT']) }),
    lines('*filter', '-D FORWARD -j WEFT-F', '-D FORWARD -i eth0 -j WEFT-F', 'COMMIT'),
  );
  t.is(tx.render({ filter: filterWith() }), lines('*filter', 'COMMIT'));
  // The later call for the same pair wins.
  const again = new IptablesTransaction('ipv4').removeJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-F' }).ensureJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-F' });
  t.is(again.render({ filter: filterWith(['FORWARD', '-j WEFT-F']) }), lines('*filter', 'COMMIT'));
});

test('deleting a chain empties it, removes jumps into it from chains not declared here, then -X', (t) => {
  const tx = new IptablesTransaction('ipv4').chain('filter', 'WEFT-NEW').rule('filter', 'WEFT-NEW', '-j ACCEPT').deleteChain('filter', 'WEFT-OLD');
  t.deepEqual(tx.tablesNeedingState(), ['filter']);
  const current = filterWith(
    ['FORWARD', '-m comment --comment "old jump" -j WEFT-OLD'],
    ['WEFT-NEW', '-j WEFT-OLD'],
    ['WEFT-OLD', '-j ACCEPT'],
    ['WEFT-OTHER', '-g WEFT-OLD'],
  );
  t.is(
    tx.render({ filter: current }),
    lines(
      '*filter',
      ':WEFT-NEW - [0:0]',
      ':WEFT-OLD - [0:0]',
      '-D FORWARD -m comment --comment "old jump" -j WEFT-OLD',
      '-D WEFT-OTHER -g WEFT-OLD',
      '-A WEFT-NEW -j ACCEPT',
      '-X WEFT-OLD',
      'COMMIT',
    ),
  );
});

// ---- programs ----

test('the restore and save programs follow the family and the build', (t) => {
  t.deepEqual(iptablesPrograms('ipv4'), { restore: 'iptables-restore', save: 'iptables-save' });
  t.deepEqual(iptablesPrograms('ipv6'), { restore: 'ip6tables-restore', save: 'ip6tables-save' });
  t.deepEqual(iptablesPrograms('ipv4', 'iptables-legacy'), { restore: 'iptables-legacy-restore', save: 'iptables-legacy-save' });
  t.deepEqual(iptablesPrograms('ipv6', 'iptables-nft'), { restore: 'ip6tables-nft-restore', save: 'ip6tables-nft-save' });
  invalid(t, () => iptablesPrograms('ipv4', 'sh -c x' as 'iptables'), /binary/);
});

// ---- reading back ----

const SAVED = `# Generated by iptables-nft-save v1.8.9 (nf_tables) on Tue Nov 24 19:33:34 2026
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [12:3456]
:OUTPUT ACCEPT [0:0]
:WEFT-A - [0:0]
[3:180] -A INPUT -j WEFT-A
[0:0] -A WEFT-A -s 10.0.0.0/8 -m comment --comment "hello \\"world\\"" -j ACCEPT
[0:0] -A WEFT-A ! -i lo -g WEFT-B
COMMIT
# Completed on Tue Nov 24 19:33:34 2026
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -j RETURN
COMMIT
`;

test('iptables-save output parses into chains and rules with counters, targets and comments', (t) => {
  const [filter, nat] = parseIptablesSave(SAVED);
  t.is(filter.table, 'filter');
  t.deepEqual(filter.chains, [
    { name: 'INPUT', builtin: true, policy: 'ACCEPT', counter: { packets: 0, bytes: 0 } },
    { name: 'FORWARD', builtin: true, policy: 'DROP', counter: { packets: 12, bytes: 3456 } },
    { name: 'OUTPUT', builtin: true, policy: 'ACCEPT', counter: { packets: 0, bytes: 0 } },
    { name: 'WEFT-A', builtin: false, counter: { packets: 0, bytes: 0 } },
  ]);
  t.deepEqual(filter.rules, [
    { chain: 'INPUT', text: '-j WEFT-A', args: ['-j', 'WEFT-A'], target: 'WEFT-A', counter: { packets: 3, bytes: 180 } },
    {
      chain: 'WEFT-A',
      text: '-s 10.0.0.0/8 -m comment --comment "hello \\"world\\"" -j ACCEPT',
      args: ['-s', '10.0.0.0/8', '-m', 'comment', '--comment', 'hello "world"', '-j', 'ACCEPT'],
      target: 'ACCEPT',
      comment: 'hello "world"',
      counter: { packets: 0, bytes: 0 },
    },
    { chain: 'WEFT-A', text: '! -i lo -g WEFT-B', args: ['!', '-i', 'lo', '-g', 'WEFT-B'], target: 'WEFT-B', counter: { packets: 0, bytes: 0 } },
  ]);
  t.deepEqual(nat, {
    table: 'nat',
    chains: [{ name: 'PREROUTING', builtin: true, policy: 'ACCEPT', counter: { packets: 0, bytes: 0 } }],
    rules: [{ chain: 'PREROUTING', text: '-j RETURN', args: ['-j', 'RETURN'], target: 'RETURN' }],
  });
  t.deepEqual(parseIptablesSave(''), []);
});

// ---- errors ----

test('the failing line is found in every form iptables-restore reports it', (t) => {
  t.is(parseRestoreErrorLine('iptables-nft-restore v1.8.9 (nf_tables): unknown option "--bogus"\nError occurred at line: 3\nTry `iptables-nft-restore -h\''), 3);
  t.is(parseRestoreErrorLine('iptables-restore: line 7 failed\n'), 7);
  t.is(parseRestoreErrorLine('iptables-nft-restore v1.8.9 (nf_tables): \nline 4: CHAIN_DEL failed (Device or resource busy): chain WEFT-A\n'), 4);
  t.is(parseRestoreErrorLine('iptables-restore: COMMIT expected at line 9\n'), 9);
  t.is(parseRestoreErrorLine('Another app is currently holding the xtables lock.\n'), undefined);
});

test('a restore error carries the line text and a readable reason', (t) => {
  const input = lines('*filter', ':WEFT-A - [0:0]', '-A WEFT-A -p tcp --bogus 1 -j ACCEPT', 'COMMIT');
  const stderr = 'iptables-nft-restore v1.8.9 (nf_tables): unknown option "--bogus"\nError occurred at line: 3\nTry `iptables-nft-restore -h\' or \'iptables-nft-restore --help\' for more information.\n';
  const err = restoreError('iptables-nft-restore', input, stderr, 2);
  t.is(err.name, 'IptablesError');
  t.is(err.line, 3);
  t.is(err.lineText, '-A WEFT-A -p tcp --bogus 1 -j ACCEPT');
  t.is(err.exitCode, 2);
  t.is(err.input, input);
  t.is(err.message, 'iptables-nft-restore failed at line 3 (-A WEFT-A -p tcp --bogus 1 -j ACCEPT): iptables-nft-restore v1.8.9 (nf_tables): unknown option "--bogus"');
  const kernel = restoreError('iptables-nft-restore', input, 'iptables-nft-restore v1.8.9 (nf_tables): \nline 2: CHAIN_DEL failed (Device or resource busy): chain WEFT-A\n', 4);
  t.is(kernel.message, 'iptables-nft-restore failed at line 2 (:WEFT-A - [0:0]): line 2: CHAIN_DEL failed (Device or resource busy): chain WEFT-A');
});
