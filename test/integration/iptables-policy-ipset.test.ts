/**
 * kernel/ipset against the real ipset in a network namespace: transactions applied and read
 * back in the canonical form, errors with their line, swap keeping rules on the name, and a
 * set in use refusing to go.
 */
import test from 'ava';
import { execTool, systemBinary } from '../../kernel/exec';
import { IptablesCli, IptablesTransaction } from '../../kernel/iptables';
import { IpsetCli, IpsetError, IpsetTransaction, canonicalElement } from '../../kernel/ipset';
import { tempNetns } from '../helpers/netns';

const references = async (ns: string, name: string): Promise<number> => {
  const r = await execTool(systemBinary('ipset'), ['list', '-t', name], { netns: ns });
  return Number(/References: (\d+)/.exec(r.stdout)?.[1]);
};

test('ipset: a transaction applied and read back as written, in the canonical form; other sets filtered out', async (t) => {
  const ns = tempNetns(t, 'ipset');
  const ipset = new IpsetCli({ netns: ns });
  t.regex(await ipset.version(), /^v\d+\.\d+/);
  const elements = ['10.0.0.1,tcp:80,10.1.2.3/16', '10.0.0.1,udp:53,10.9.9.9/32', '10.0.0.1,sctp:9,0.0.0.0/1'];
  await ipset.run(
    new IpsetTransaction()
      .create('t-ports', { type: 'hash:ip,port,net', family: 'inet', maxelem: 131072 })
      .create('t-six', { type: 'hash:ip', family: 'inet6' })
      .create('other', { type: 'hash:net', family: 'inet' })
      .add('t-six', 'fd00:0:0::0001')
      .add('t-ports', elements[0])
      .add('t-ports', elements[1])
      .add('t-ports', elements[2]),
  );
  const sets = await ipset.save((name) => name.startsWith('t-'));
  t.deepEqual(
    sets.map((s) => s.name),
    ['t-ports', 't-six'],
  );
  const ports = sets[0];
  t.like(ports, { type: 'hash:ip,port,net', family: 'inet', flags: [], decoratedElements: 0 });
  t.is(ports.options.maxelem, '131072');
  t.deepEqual([...ports.elements].sort(), elements.map((e) => canonicalElement('hash:ip,port,net', 'inet', e)).sort());
  t.deepEqual(sets[1].elements, ['fd00::1']);

  // -exist: adding what is there and deleting what is not are no errors.
  await ipset.run(new IpsetTransaction().add('t-six', 'fd00::1').del('t-six', 'fd00::2').destroy('never-was'));
  const err = await t.throwsAsync(ipset.run(new IpsetTransaction().add('t-six', 'fd00::3').add('t-six', '10.0.0.1')), { instanceOf: IpsetError });
  t.is(err?.line, 2);
  t.is(err?.lineText, 'add t-six 10.0.0.1');
});

test('ipset: swap exchanges contents under the names rules use; a set in use cannot be destroyed', async (t) => {
  const ns = tempNetns(t, 'ipswap');
  const ipset = new IpsetCli({ netns: ns });
  const ipt = new IptablesCli({ family: 'ipv4', netns: ns });
  await ipset.run(new IpsetTransaction().create('t-live', { type: 'hash:ip', family: 'inet' }).add('t-live', '10.0.0.1'));
  await ipt.run(new IptablesTransaction('ipv4').chain('filter', 'T-CHAIN').rule('filter', 'T-CHAIN', '-m set --match-set t-live src -j RETURN'));
  await ipset.run(new IpsetTransaction().create('t-new', { type: 'hash:ip', family: 'inet', maxelem: 4 }).add('t-new', '10.0.0.2').swap('t-live', 't-new'));
  t.is(await references(ns, 't-live'), 1, 'the rule still refers to t-live');
  t.is(await references(ns, 't-new'), 0);
  const live = (await ipset.save((n) => n === 't-live'))[0];
  t.deepEqual(live.elements, ['10.0.0.2']);
  t.is(live.options.maxelem, '4', 'the new set, with its header, is under the old name');
  await ipset.run(new IpsetTransaction().destroy('t-new'));

  const err = await t.throwsAsync(ipset.run(new IpsetTransaction().destroy('t-live')), { instanceOf: IpsetError });
  t.true(err?.inUse);
  await ipt.run(new IptablesTransaction('ipv4').deleteChain('filter', 'T-CHAIN'));
  await ipset.run(new IpsetTransaction().destroy('t-live'));
  t.deepEqual(await ipset.save(), []);
});

test('ipset: two transactions appended run as one restore, in order; canonical elements added as given', async (t) => {
  const ns = tempNetns(t, 'ipappend');
  const ipset = new IpsetCli({ netns: ns });
  const before = new IpsetTransaction().create('t-a', { type: 'hash:ip,port,net', family: 'inet' }).addCanonical('t-a', '10.0.0.1,tcp:80,10.1.0.0/16').add('t-a', '10.0.0.1,tcp:81,10.1.0.0/16');
  const after = new IpsetTransaction().del('t-a', '10.0.0.1,tcp:80,10.1.0.0/16').add('t-a', '10.0.0.2,udp:53,10.2.0.0/24');
  before.append(after);
  t.is(before.operations.length, 5);
  await ipset.run(before);
  const [set] = await ipset.save((n) => n === 't-a');
  t.deepEqual([...set.elements].sort(), ['10.0.0.1,tcp:81,10.1.0.0/16', '10.0.0.2,udp:53,10.2.0.0/24'], 'the deletion ran after the add it undoes');
  t.throws(() => new IpsetTransaction().addCanonical('t-a', '10.0.0.1,tcp:80\nflush'), { message: /one word/ });
});
