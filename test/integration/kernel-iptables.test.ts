import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { execTool, systemBinary } from '../../kernel/exec';
import { IptablesCli, IptablesError, IptablesTransaction, iptablesPrograms, type IptablesBinary, type SavedTable } from '../../kernel/iptables';
import { tempNetns } from '../helpers/netns';
import { loopbackUp, tcpConnectLoopback } from '../helpers/loopback';

const BACKENDS: IptablesBinary[] = ['iptables-nft', 'iptables-legacy'];

/**
 * Read-only checks that nothing leaked into the root namespace: no weft nft table, no WEFT-
 * chain in nftables (iptables-nft) or in the legacy tables that already exist there (only
 * existing tables are read, so that nothing gets created by looking).
 */
function assertRootUntouched(t: ExecutionContext): void {
  const ruleset = spawnSync(systemBinary('nft'), ['list', 'ruleset'], { encoding: 'utf8' });
  t.is(ruleset.status, 0, ruleset.stderr);
  t.false(/\btable inet weft\b/.test(ruleset.stdout), 'the root namespace must have no weft table');
  t.false(ruleset.stdout.includes('WEFT-'), 'the root namespace must have no WEFT- chains');
  let legacyTables: string[] = [];
  try {
    legacyTables = fs.readFileSync('/proc/net/ip_tables_names', 'utf8').split('\n').filter(Boolean);
  } catch {
    // no legacy iptables in this kernel: nothing to leak into
  }
  for (const table of legacyTables) {
    const saved = spawnSync(systemBinary('iptables-legacy-save'), ['-t', table], { encoding: 'utf8' });
    t.false(saved.stdout.includes('WEFT-'), `root legacy table ${table} must have no WEFT- chains`);
  }
}


/** Restores text as some other program would, to set up state weft does not own. */
async function foreignRestore(ns: string, binary: IptablesBinary, input: string): Promise<void> {
  const r = await execTool(systemBinary(iptablesPrograms('ipv4', binary).restore), ['-w', '5', '--noflush'], { netns: ns, input });
  if (r.code !== 0) throw new Error(r.stderr);
}

const rulesOf = (saved: SavedTable, chain: string) => saved.rules.filter((r) => r.chain === chain).map((r) => r.text);
const chainNames = (saved: SavedTable) => saved.chains.map((c) => c.name);

function weftFilter(): IptablesTransaction {
  return new IptablesTransaction('ipv4')
    .chain('filter', 'WEFT-FORWARD')
    .chain('filter', 'WEFT-PODS')
    .rule('filter', 'WEFT-FORWARD', '-j WEFT-PODS', 'to pods')
    .rule('filter', 'WEFT-PODS', ['-s', '10.244.0.0/16', '-j', 'ACCEPT'])
    .rule('filter', 'WEFT-PODS', '-d 10.244.0.0/16 -m comment --comment "say \\"hi\\"" -j ACCEPT')
    .ensureJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-FORWARD', comment: 'weft forwarding' });
}

for (const binary of BACKENDS) {
  const setup = (t: ExecutionContext) => {
    const ns = tempNetns(t, binary.replace('iptables-', 'ipt'));
    return { ns, ipt: new IptablesCli({ family: 'ipv4', netns: ns, binary }) };
  };

  test(`${binary}: creates chains, rules and a jump, reads them back, and applies again idempotently`, async (t) => {
    const { ipt } = setup(t);
    await ipt.run(weftFilter());
    let saved = await ipt.save('filter');
    t.deepEqual(chainNames(saved), ['INPUT', 'FORWARD', 'OUTPUT', 'WEFT-FORWARD', 'WEFT-PODS']);
    t.like(saved.chains[1], { name: 'FORWARD', builtin: true, policy: 'ACCEPT' });
    t.like(saved.chains[3], { name: 'WEFT-FORWARD', builtin: false });
    t.deepEqual(rulesOf(saved, 'FORWARD'), ['-m comment --comment "weft forwarding" -j WEFT-FORWARD']);
    t.deepEqual(rulesOf(saved, 'WEFT-FORWARD'), ['-m comment --comment "to pods" -j WEFT-PODS']);
    t.deepEqual(rulesOf(saved, 'WEFT-PODS'), ['-s 10.244.0.0/16 -j ACCEPT', '-d 10.244.0.0/16 -m comment --comment "say \\"hi\\"" -j ACCEPT']);
    const pods = saved.rules.filter((r) => r.chain === 'WEFT-PODS');
    t.is(pods[1].comment, 'say "hi"');
    t.is(pods[1].target, 'ACCEPT');
    t.deepEqual(pods[1].counter, { packets: 0, bytes: 0 });

    // Same desired state again: the jump is not duplicated, the chains are rewritten, not appended to.
    await ipt.run(weftFilter());
    saved = await ipt.save('filter');
    t.is(rulesOf(saved, 'FORWARD').length, 1);
    t.is(rulesOf(saved, 'WEFT-PODS').length, 2);
    assertRootUntouched(t);
  });

  test(`${binary}: replaces only the declared chains' rules and keeps other rules`, async (t) => {
    const { ns, ipt } = setup(t);
    await foreignRestore(ns, binary, '*filter\n:OTHER - [0:0]\n-A OTHER -j ACCEPT\n-A FORWARD -s 192.0.2.9/32 -j DROP\nCOMMIT\n');
    await ipt.run(weftFilter());
    await ipt.run(
      new IptablesTransaction('ipv4')
        .chain('filter', 'WEFT-PODS')
        .rule('filter', 'WEFT-PODS', '-s 10.245.0.0/16 -j DROP', 'new')
        .ensureJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-FORWARD', comment: 'weft forwarding' }),
    );
    const saved = await ipt.save('filter');
    t.deepEqual(rulesOf(saved, 'WEFT-PODS'), ['-s 10.245.0.0/16 -m comment --comment new -j DROP']);
    t.deepEqual(rulesOf(saved, 'WEFT-FORWARD'), ['-m comment --comment "to pods" -j WEFT-PODS'], 'undeclared: untouched');
    t.deepEqual(rulesOf(saved, 'OTHER'), ['-j ACCEPT']);
    t.deepEqual(rulesOf(saved, 'FORWARD'), ['-m comment --comment "weft forwarding" -j WEFT-FORWARD', '-s 192.0.2.9/32 -j DROP']);
    assertRootUntouched(t);
  });

  test(`${binary}: a jump whose form changed is replaced, and removed on request`, async (t) => {
    const { ipt } = setup(t);
    await ipt.run(weftFilter());
    await ipt.run(
      new IptablesTransaction('ipv4').ensureJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-FORWARD', matches: '-i eth0', comment: 'v2', position: 'last' }),
    );
    let saved = await ipt.save('filter');
    t.deepEqual(rulesOf(saved, 'FORWARD'), ['-i eth0 -m comment --comment v2 -j WEFT-FORWARD']);
    await ipt.run(new IptablesTransaction('ipv4').removeJump({ table: 'filter', chain: 'FORWARD', target: 'WEFT-FORWARD' }));
    saved = await ipt.save('filter');
    t.deepEqual(rulesOf(saved, 'FORWARD'), []);
    t.true(chainNames(saved).includes('WEFT-FORWARD'), 'removing the jump leaves the chain');
    assertRootUntouched(t);
  });

  test(`${binary}: deleting chains also removes the jumps into them`, async (t) => {
    const { ipt } = setup(t);
    await ipt.run(weftFilter());
    await ipt.run(new IptablesTransaction('ipv4').deleteChain('filter', 'WEFT-FORWARD').deleteChain('filter', 'WEFT-PODS').deleteChain('filter', 'WEFT-NEVER-EXISTED'));
    const saved = await ipt.save('filter');
    t.deepEqual(chainNames(saved), ['INPUT', 'FORWARD', 'OUTPUT']);
    t.deepEqual(saved.rules, []);
    assertRootUntouched(t);
  });

  test(`${binary}: a failing transaction applies nothing and names the line`, async (t) => {
    const { ipt } = setup(t);
    await ipt.run(weftFilter());
    const tx = new IptablesTransaction('ipv4')
      .chain('filter', 'WEFT-PODS')
      .chain('filter', 'WEFT-NEW')
      .rule('filter', 'WEFT-PODS', '-s 10.0.0.1 -j DROP')
      .rule('filter', 'WEFT-PODS', '-p tcp --no-such-option 1 -j ACCEPT');
    const err = await t.throwsAsync(ipt.run(tx), { instanceOf: IptablesError });
    t.is(err?.line, 5);
    t.is(err?.lineText, '-A WEFT-PODS -p tcp --no-such-option 1 -j ACCEPT');
    t.regex(err?.message ?? '', /no-such-option/);
    const saved = await ipt.save('filter');
    t.false(chainNames(saved).includes('WEFT-NEW'));
    t.is(rulesOf(saved, 'WEFT-PODS').length, 2, 'the old rules are still there');
    assertRootUntouched(t);
  });

  test(`${binary}: check does not apply`, async (t) => {
    const { ipt } = setup(t);
    await ipt.check(weftFilter());
    t.false(chainNames(await ipt.save('filter')).includes('WEFT-PODS'));
    const err = await t.throwsAsync(ipt.check(new IptablesTransaction('ipv4').chain('filter', 'WEFT-X').rule('filter', 'WEFT-X', '-p tcp --no-such-option 1')), {
      instanceOf: IptablesError,
    });
    t.is(err?.line, 3);
    assertRootUntouched(t);
  });

  test(`${binary}: a drop rule stops a real TCP connection on loopback and counts it`, async (t) => {
    const { ns, ipt } = setup(t);
    await loopbackUp(ns);
    const port = 18081;
    t.is(await tcpConnectLoopback(ns, port), 'connected');

    const block = () =>
      new IptablesTransaction('ipv4')
        .chain('filter', 'WEFT-OUT')
        .ensureJump({ table: 'filter', chain: 'OUTPUT', target: 'WEFT-OUT' });
    await ipt.run(block().rule('filter', 'WEFT-OUT', `-d 127.0.0.1 -p tcp --dport ${port} -j DROP`, 'block test port'));
    t.is(await tcpConnectLoopback(ns, port), 'timeout');
    const [rule] = (await ipt.save('filter')).rules.filter((r) => r.chain === 'WEFT-OUT');
    t.is(rule.comment, 'block test port');
    t.true((rule.counter?.packets ?? 0) >= 1, 'the dropped SYN was counted');
    t.true((rule.counter?.bytes ?? 0) >= 40);

    await ipt.run(block());
    t.is(await tcpConnectLoopback(ns, port), 'connected', 'an empty declared chain lets traffic through');
    assertRootUntouched(t);
  });
}

test('ip6tables: an IPv6 transaction goes to ip6tables-restore', async (t) => {
  const ns = tempNetns(t, 'ip6t');
  const ipt6 = new IptablesCli({ family: 'ipv6', netns: ns });
  await ipt6.run(
    new IptablesTransaction('ipv6')
      .chain('filter', 'WEFT-V6')
      .rule('filter', 'WEFT-V6', '-s fd00::/64 -j ACCEPT')
      .ensureJump({ table: 'filter', chain: 'INPUT', target: 'WEFT-V6' }),
  );
  const saved = await ipt6.save('filter');
  t.deepEqual(rulesOf(saved, 'WEFT-V6'), ['-s fd00::/64 -j ACCEPT']);
  t.deepEqual(rulesOf(saved, 'INPUT'), ['-j WEFT-V6']);
  const ipt4 = new IptablesCli({ family: 'ipv4', netns: ns });
  t.false(chainNames(await ipt4.save('filter')).includes('WEFT-V6'), 'IPv4 tables are separate');
  await t.throwsAsync(ipt4.run(new IptablesTransaction('ipv6').chain('filter', 'WEFT-X')), { message: /ipv6 transaction/ });
  assertRootUntouched(t);
});
