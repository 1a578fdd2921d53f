/**
 * weft-bridge's nftables rules against the in-memory FakeNft: what ADD writes, and that DEL's
 * removal takes exactly one pod's part out (what the real kernel does is in the integration test).
 */
import test from 'ava';
import {
  BridgeFirewall,
  MASQ_TABLE,
  SPOOF_TABLE,
  masqueradeRemoval,
  masqueradeTransaction,
  podChain,
  spoofCheckRemoval,
  spoofCheckTransaction,
  subnetChain,
} from '../../cni/bridge/firewall';
import { FakeNft, NftError, type Transaction } from '../../kernel/nft';

const DUAL = [
  { address: '10.99.0.2/24', gateway: '10.99.0.1', interface: 2 },
  { address: 'fd99::2/64', gateway: 'fd99::1', interface: 2 },
];
const MAC = '0a:58:0a:63:00:02';

/** FakeNft that counts batches; `failNext` makes the next batch fail as a busy chain would. */
class CountingNft extends FakeNft {
  batches = 0;
  failNext = 0;

  override async runAll(transactions: readonly Transaction[]): Promise<void> {
    this.batches++;
    if (this.failNext > 0) {
      this.failNext--;
      throw new NftError('nft: line 1: Could not process rule: Device or resource busy', { diagnostics: [], stderr: '', exitCode: 1 });
    }
    await super.runAll(transactions);
  }
}

async function rules(fake: FakeNft): Promise<string[] | undefined> {
  return (await fake.listRuleset(MASQ_TABLE))?.rules.map((r) => `${r.chain}: ${r.rule}`);
}

function elements(fake: FakeNft, table = MASQ_TABLE) {
  return fake.listRuleset(table).then((rs) => Object.fromEntries((rs?.maps ?? []).map((m) => [m.name, m.elements])));
}

test('masquerade: pod addresses jump to the chain of their subnet, which returns for the subnet and multicast', async (t) => {
  const fake = new FakeNft();
  await fake.run(masqueradeTransaction('net1', 'ctr1/eth0', DUAL) as Transaction);
  const [v4, v6] = [subnetChain('net1', '10.99.0.0/24'), subnetChain('net1', 'fd99::/64')];
  t.deepEqual(await elements(fake), {
    'masq-v4': [{ key: ['10.99.0.2'], value: [`jump ${v4}`], comment: 'ctr1/eth0' }],
    'masq-v6': [{ key: ['fd99::2'], value: [`jump ${v6}`], comment: 'ctr1/eth0' }],
  });
  t.deepEqual(await rules(fake), [
    'postrouting: ip saddr vmap @masq-v4',
    'postrouting: ip6 saddr vmap @masq-v6',
    `${v4}: ip daddr 10.99.0.0/24 return`,
    `${v4}: ip daddr 224.0.0.0/4 return`,
    `${v4}: masquerade`,
    `${v6}: ip6 daddr fd99::/64 return`,
    `${v6}: ip6 daddr ff00::/8 return`,
    `${v6}: masquerade`,
  ]);
});

test('masquerade: each pod exempts its own subnet; a pod of a subnet already there changes no rule', async (t) => {
  const fake = new FakeNft();
  await fake.run(masqueradeTransaction('net1', 'ctr1/eth0', [{ address: '10.99.0.2/24' }]) as Transaction);
  const before = (await rules(fake)) ?? [];
  await fake.run(masqueradeTransaction('net1', 'ctr2/eth0', [{ address: '10.99.0.3/24' }]) as Transaction);
  t.deepEqual(await rules(fake), before);
  // A second range of the same network: its own chain, the first one untouched.
  await fake.run(masqueradeTransaction('net1', 'ctr3/eth0', [{ address: '10.99.1.2/24' }]) as Transaction);
  const other = subnetChain('net1', '10.99.1.0/24');
  t.deepEqual(await rules(fake), [...before, `${other}: ip daddr 10.99.1.0/24 return`, `${other}: ip daddr 224.0.0.0/4 return`, `${other}: masquerade`]);
  t.deepEqual((await elements(fake))['masq-v4'].map((e) => `${e.key[0]} ${e.value?.[0]}`), [
    `10.99.0.2 jump ${subnetChain('net1', '10.99.0.0/24')}`,
    `10.99.0.3 jump ${subnetChain('net1', '10.99.0.0/24')}`,
    `10.99.1.2 jump ${other}`,
  ]);
});

test('masquerade: nothing to write for an attachment without addresses', (t) => {
  t.is(masqueradeTransaction('net1', 'ctr1/eth0', []), undefined);
});

test('masquerade removal: takes out the pod\'s elements, and its network chain only when no other pod uses it', async (t) => {
  const fake = new FakeNft();
  await fake.run(masqueradeTransaction('net1', 'ctr1/eth0', DUAL) as Transaction);
  await fake.run(masqueradeTransaction('net1', 'ctr2/eth0', [{ address: '10.99.0.3/24' }]) as Transaction);
  await fake.run(masqueradeTransaction('net2', 'ctr3/eth0', [{ address: '10.98.0.2/24' }]) as Transaction);
  const [net1v4, net1v6, net2] = [subnetChain('net1', '10.99.0.0/24'), subnetChain('net1', 'fd99::/64'), subnetChain('net2', '10.98.0.0/24')];

  await fake.run(masqueradeRemoval(await fake.listRuleset(MASQ_TABLE), 'ctr1/eth0') as Transaction);
  t.deepEqual((await elements(fake))['masq-v4'].map((e) => e.comment), ['ctr2/eth0', 'ctr3/eth0']);
  t.deepEqual((await elements(fake))['masq-v6'], []);
  const chains = async () => (await fake.listRuleset(MASQ_TABLE))?.chains.map((c) => c.name).sort();
  t.deepEqual(await chains(), [net1v4, net2, 'postrouting'].sort(), 'the IPv4 chain of net1 is still used by ctr2, the IPv6 one no more');
  t.false((await chains())?.includes(net1v6));

  await fake.run(masqueradeRemoval(await fake.listRuleset(MASQ_TABLE), 'ctr2/eth0') as Transaction);
  t.deepEqual(await chains(), [net2, 'postrouting'].sort(), 'net1 unused: gone');
  t.is(masqueradeRemoval(await fake.listRuleset(MASQ_TABLE), 'ctr2/eth0'), undefined, 'a second removal has nothing to do');
  t.is(masqueradeRemoval(undefined, 'ctr2/eth0'), undefined, 'nor one without the table');
});

test('spoof check: the port jumps to the pod chain, which pins MAC and source addresses', async (t) => {
  const fake = new FakeNft();
  await fake.run(spoofCheckTransaction('veth01234567', 'ctr1/eth0', MAC, DUAL));
  const rs = await fake.listRuleset(SPOOF_TABLE);
  t.deepEqual(rs?.maps[0].elements, [{ key: ['"veth01234567"'], value: ['jump pod-veth01234567'], comment: 'ctr1/eth0' }]);
  t.deepEqual(rs?.rules.map((r) => `${r.chain}: ${r.rule}`), [
    'prerouting: iifname vmap @ports',
    `pod-veth01234567: ether saddr != ${MAC} drop`,
    'pod-veth01234567: ether type ip ip saddr != { 10.99.0.2 } drop',
    'pod-veth01234567: ether type arp arp saddr ip != { 10.99.0.2, 0.0.0.0 } drop',
    'pod-veth01234567: ether type ip6 ip6 saddr != { fd99::2, fe80::/10, :: } drop',
  ]);
});

test('spoof check: a family the pod has no address of is dropped (IPv6 link-local and DAD apart); no addresses, MAC only', (t) => {
  const rulesOf = (tx: Transaction) => tx.render().split('\n').filter((l) => /^add rule \S+ \S+ pod-/.test(l));
  const v4only = rulesOf(spoofCheckTransaction('v4', 'c/eth0', MAC, [DUAL[0]]));
  t.true(v4only.some((l) => l.includes('ether type ip6 ip6 saddr != { fe80::/10, :: } drop')));
  const v6only = rulesOf(spoofCheckTransaction('v6', 'c/eth0', MAC, [DUAL[1]]));
  t.true(v6only.some((l) => l.includes('ether type { ip, arp } drop')));
  const l2only = rulesOf(spoofCheckTransaction('l2', 'c/eth0', MAC, []));
  t.is(l2only.length, 1);
  t.regex(l2only[0], /ether saddr != 0a:58:0a:63:00:02 drop/);
});

test('spoof check removal: the pod\'s chain and port go, other pods\' stay', async (t) => {
  const fake = new FakeNft();
  await fake.run(spoofCheckTransaction('vetha', 'a/eth0', MAC, DUAL));
  await fake.run(spoofCheckTransaction('vethb', 'b/eth0', MAC, DUAL));
  await fake.run(spoofCheckRemoval(await fake.listRuleset(SPOOF_TABLE), 'vetha') as Transaction);
  const rs = await fake.listRuleset(SPOOF_TABLE);
  t.deepEqual(rs?.chains.map((c) => c.name), ['prerouting', podChain('vethb')]);
  t.deepEqual(rs?.maps[0].elements.map((e) => e.key[0]), ['"vethb"']);
  t.is(spoofCheckRemoval(rs, 'vetha'), undefined);
});

test('BridgeFirewall.remove: both tables in one batch, only what the config names, and a busy batch is read and tried again', async (t) => {
  const nft = new CountingNft();
  const fw = new BridgeFirewall(nft);
  await fw.apply([masqueradeTransaction('net1', 'a/eth0', DUAL) as Transaction, spoofCheckTransaction('vetha', 'a/eth0', MAC, DUAL)]);
  t.is(nft.batches, 1);

  await fw.remove({ spoofCheckPort: 'vetha' });
  t.is((await elements(nft))['masq-v4'].length, 1, 'masquerade not asked for: kept');
  t.deepEqual((await elements(nft, SPOOF_TABLE)).ports, []);

  await fw.apply([spoofCheckTransaction('vetha', 'a/eth0', MAC, DUAL)]);
  nft.failNext = 1;
  nft.batches = 0;
  await fw.remove({ masqueradeOwner: 'a/eth0', spoofCheckPort: 'vetha' });
  t.is(nft.batches, 2, 'one failed batch, one that applied');
  t.deepEqual(await elements(nft), { 'masq-v4': [], 'masq-v6': [] });
  t.deepEqual((await elements(nft, SPOOF_TABLE)).ports, []);

  nft.batches = 0;
  await fw.remove({ masqueradeOwner: 'a/eth0', spoofCheckPort: 'vetha' });
  t.is(nft.batches, 0, 'nothing left: no nft write at all');
});

test('BridgeFirewall.remove gives up after its attempts with the kernel\'s error', async (t) => {
  const nft = new CountingNft();
  const fw = new BridgeFirewall(nft);
  await fw.apply([masqueradeTransaction('net1', 'a/eth0', DUAL) as Transaction]);
  nft.failNext = 3;
  await t.throwsAsync(fw.remove({ masqueradeOwner: 'a/eth0' }), { instanceOf: NftError, message: /busy/ });
});
