/**
 * The iptables backend's ClusterNetworkPolicy tiers with real traffic: the pod bridge topology
 * (p1 and p2 known pods, a remote host routed through the node), TCP and UDP servers everywhere,
 * real iptables-restore and ipset in the node's namespace, IPv4 and IPv6. NodePolicies are built
 * by hand, so this checks the rendering's semantics (Admin, then NetworkPolicy, then Baseline
 * for addresses NetworkPolicy does not isolate), not the compiler's.
 */
import test from 'ava';
import { IptablesBackend } from '../../agent/backend/iptables/backend';
import { EXPANDED_RANGE_MAX } from '../../agent/backend/iptables/render-policy';
import { EMPTY_DIRECTION, EMPTY_TIER_DIRECTION, type NodePolicy, type TierDecision, type TierPortRange, type TierVerdict } from '../../agent/dataplane/policy-state';
import type { IptablesCli } from '../../kernel/iptables';
import { ping } from '../../lab/probe';
import { expectReach, ipsetSave, observed, state, tcp, topology, udp, WIDE } from '../helpers/iptables-pod-traffic';
import { GATEWAY, P1, P2, REMOTE } from '../helpers/pod-bridge-topology';

const REMOTE_CIDRS = ['10.0.0.0/24', 'fd00:0:1::/64'];
const range = (protocol: TierPortRange['protocol'], first: number, last: number, verdict: TierVerdict): TierPortRange => ({ protocol, first, last, verdict });
const decide = (localIp: string, other: TierVerdict, ports: TierPortRange[] = []): TierDecision => ({ localIp, other, ports });
const allowAll = (localIp: string) => ({ localIp, ports: 'all' as const, policies: ['x/np'] });

/**
 * p2 isolated for ingress by NetworkPolicy (the remote host may send it everything, p1 only
 * TCP 9000); the Admin tier accepts everything from p1 but TCP 81 (drop) and 9000 (pass) over
 * IPv4 and TCP 8080 (drop) over IPv6, and from the remote host drops
 * everything but TCP 80 and 8000-8999 (pass: NetworkPolicy decides) and UDP 81 (accept) over
 * IPv4, and only TCP 81 and UDP 8080 over IPv6.
 */
const adminOverNetworkPolicy: NodePolicy = {
  ingress: {
    isolated: [P2.v4, P2.v6],
    anyPeer: [],
    classes: [
      { key: 'remote', cidrs: REMOTE_CIDRS, allow: [allowAll(P2.v4), allowAll(P2.v6)] },
      { key: 'p1', cidrs: [`${P1.v4}/32`, `${P1.v6}/128`], allow: [P2.v4, P2.v6].map((localIp) => ({ localIp, ports: [{ protocol: 'tcp' as const, first: 9000, last: 9000 }], policies: ['x/np'] })) },
    ],
  },
  egress: EMPTY_DIRECTION,
  admin: {
    ingress: {
      subjects: [P2.v4, P2.v6],
      classes: [
        {
          key: 'p1',
          cidrs: [`${P1.v4}/32`, `${P1.v6}/128`],
          decide: [decide(P2.v4, 'accept', [range('tcp', 81, 81, 'drop'), range('tcp', 9000, 9000, 'pass')]), decide(P2.v6, 'accept', [range('tcp', 8080, 8080, 'drop')])],
        },
        {
          key: 'remote',
          cidrs: REMOTE_CIDRS,
          decide: [
            decide(P2.v4, 'drop', [range('tcp', 80, 80, 'pass'), range('udp', 81, 81, 'accept'), range('tcp', WIDE.first, WIDE.last, 'pass')]),
            decide(P2.v6, 'pass', [range('tcp', 81, 81, 'drop'), range('udp', 8080, 8080, 'drop')]),
          ],
        },
      ],
    },
    egress: EMPTY_TIER_DIRECTION,
  },
  problems: [],
};

/** Packets the DROP rule of a drop chain has counted, per family. */
async function droppedPackets(iptables: { ipv4: IptablesCli; ipv6: IptablesCli }, chain: string): Promise<number[]> {
  return Promise.all([iptables.ipv4, iptables.ipv6].map(async (ipt) => (await ipt.save('filter')).rules.find((r) => r.chain === chain && r.target === 'DROP')?.counter?.packets ?? 0));
}

for (const binary of ['iptables', 'iptables-legacy'] as const) {
  test(`${binary}: admin accept beats NetworkPolicy isolation, admin drop beats a NetworkPolicy allowance (through the tier's logged drop chain), pass ranges in a drop "other" go to NetworkPolicy, IPv4 and IPv6`, async (t) => {
    t.true(WIDE.last - WIDE.first + 1 > EXPANDED_RANGE_MAX, 'the wide range takes the rule path');
    const topo = await topology(t, binary);
    const { p1 } = topo.pods;
    t.true((await topo.backend.apply(state(adminOverNetworkPolicy))).changes > 0);
    t.is((await topo.backend.apply(state(adminOverNetworkPolicy), { fromKernel: true })).changes, 0, 'the kernel lists back what was written');
    await expectReach(t, p1, [
      ['admin accept: NetworkPolicy allows p1 TCP 9000 only', tcp(P2.v4, 80), true],
      ['admin accept, UDP', udp(P2.v4, 8080), true],
      ['admin accept, IPv6', tcp(P2.v6, 81), true],
      ['admin accept, IPv6 UDP', udp(P2.v6, 81), true],
      ['a drop range in an accept "other"', tcp(P2.v4, 81), false],
      ['a pass range in an accept "other": NetworkPolicy allows p1 TCP 9000', tcp(P2.v4, 9000), true],
      ['a drop range in an accept "other", IPv6', tcp(P2.v6, 8080), false],
      ['IPv6 TCP 9000 is accepted', tcp(P2.v6, 9000), true],
    ]);
    t.true(await ping(p1, P2.v4), 'admin accept: ICMP is "other"');
    const before = await droppedPackets(topo.iptables, 'WEFT-ADMIN-INGRESS-DROP');
    const npBefore = await droppedPackets(topo.iptables, 'WEFT-INGRESS-DROP');
    await expectReach(t, topo.remote, [
      ['a pass range in the drop "other": NetworkPolicy allows all', tcp(P2.v4, 80), true],
      ['admin drop beats the NetworkPolicy allowance', tcp(P2.v4, 81), false],
      ['a wide pass range: NetworkPolicy allows', tcp(P2.v4, 8080), true],
      ['outside the wide range: admin drop', tcp(P2.v4, 9000), false],
      ['an accept range', udp(P2.v4, 81), true],
      ['the wide range is TCP only: UDP 8080 is dropped', udp(P2.v4, 8080), false],
      ['IPv6: "other" passes, NetworkPolicy allows', tcp(P2.v6, 80), true],
      ['IPv6: TCP 81 dropped', tcp(P2.v6, 81), false],
      ['IPv6: UDP 8080 dropped', udp(P2.v6, 8080), false],
      ['IPv6: UDP 81 passes', udp(P2.v6, 81), true],
      ['p1 is no subject and not isolated', tcp(P1.v4, 9000), true],
    ]);
    t.false(await ping(topo.remote, P2.v4), 'admin drop: ICMP is "other"');
    const after = await droppedPackets(topo.iptables, 'WEFT-ADMIN-INGRESS-DROP');
    t.true(after[0] > before[0] && after[1] > before[1], `admin drops went through the admin tier's drop chain: ${before.join('/')} -> ${after.join('/')}`);
    t.deepEqual(await droppedPackets(topo.iptables, 'WEFT-INGRESS-DROP'), npBefore, 'NetworkPolicy dropped nothing of it');
    await expectReach(t, topo.node, [
      ['the node reaches its pods whatever the tiers', tcp(P2.v4, 81), true],
      ['and over IPv6', tcp(P2.v6, 9000), true],
    ]);
  });
}

/**
 * p2 isolated for ingress, the remote host allowed TCP 80 only; Admin passes everything from
 * the remote host but TCP 81 (drop); Baseline drops everything from the remote host to p1 but
 * TCP 80-81, and to p2 (isolated: Baseline never sees it); for p1's egress, Baseline drops TCP
 * 9000 and UDP 8000-8999 anywhere.
 */
const tiersAroundNetworkPolicy: NodePolicy = {
  ingress: {
    isolated: [P2.v4, P2.v6],
    anyPeer: [],
    classes: [{ key: 'remote', cidrs: REMOTE_CIDRS, allow: [P2.v4, P2.v6].map((localIp) => ({ localIp, ports: [{ protocol: 'tcp' as const, first: 80, last: 80 }], policies: ['x/np'] })) }],
  },
  egress: EMPTY_DIRECTION,
  admin: {
    ingress: { subjects: [P2.v4, P2.v6], classes: [{ key: 'remote', cidrs: REMOTE_CIDRS, decide: [decide(P2.v4, 'pass', [range('tcp', 81, 81, 'drop')]), decide(P2.v6, 'pass', [range('tcp', 81, 81, 'drop')])] }] },
    egress: EMPTY_TIER_DIRECTION,
  },
  baseline: {
    ingress: {
      subjects: [P1.v4, P1.v6, P2.v4, P2.v6],
      classes: [{ key: 'remote', cidrs: REMOTE_CIDRS, decide: [P1.v4, P1.v6].map((l) => decide(l, 'drop', [range('tcp', 80, 81, 'accept')])).concat([decide(P2.v4, 'drop'), decide(P2.v6, 'drop')]) }],
    },
    egress: {
      subjects: [P1.v4, P1.v6],
      classes: [{ key: 'world', cidrs: ['0.0.0.0/0', '::/0'], decide: [P1.v4, P1.v6].map((l) => decide(l, 'pass', [range('tcp', 9000, 9000, 'drop'), range('udp', WIDE.first, WIDE.last, 'drop')])) }],
    },
  },
  problems: [],
};

test('pass goes to NetworkPolicy; the baseline tier only for addresses NetworkPolicy does not isolate; baseline egress with a wide range and /0', async (t) => {
  const topo = await topology(t);
  const { p1 } = topo.pods;
  await topo.backend.apply(state(tiersAroundNetworkPolicy));
  t.is((await topo.backend.apply(state(tiersAroundNetworkPolicy), { fromKernel: true })).changes, 0);
  await expectReach(t, topo.remote, [
    ['admin pass, NetworkPolicy allows', tcp(P2.v4, 80), true],
    ['admin pass, NetworkPolicy does not allow', tcp(P2.v4, 8080), false],
    ['admin drop', tcp(P2.v4, 81), false],
    ['IPv6: admin pass, NetworkPolicy allows', tcp(P2.v6, 80), true],
    ['IPv6: admin drop', tcp(P2.v6, 81), false],
    ['p1 is not isolated: baseline accept range', tcp(P1.v4, 80), true],
    ['baseline accept range, the other port', tcp(P1.v4, 81), true],
    ['baseline drop "other"', tcp(P1.v4, 9000), false],
    ['baseline drop "other", UDP', udp(P1.v4, 81), false],
    ['IPv6: baseline accept range', tcp(P1.v6, 81), true],
    ['IPv6: baseline drop "other"', tcp(P1.v6, 8080), false],
  ]);
  t.false(await ping(topo.remote, P1.v4), 'baseline drop "other" covers ICMP');
  await expectReach(t, p1, [
    ['baseline egress: TCP 9000 dropped', tcp(REMOTE.v4, 9000), false],
    ['baseline egress: pass is allowed', tcp(REMOTE.v4, 80), true],
    ['baseline egress: a wide UDP drop range', udp(REMOTE.v4, 8080), false],
    ['baseline egress: UDP outside the range', udp(REMOTE.v4, 81), true],
    ['IPv6: TCP 9000 dropped', tcp(REMOTE.v6, 9000), false],
    ['IPv6: a wide UDP drop range', udp(REMOTE.v6, 8080), false],
    ['IPv6: pass', tcp(REMOTE.v6, 8080), true],
    ['to a pod: egress baseline drops before the pod\'s ingress', tcp(P2.v4, 9000), false],
    ['egress passes, p2\'s ingress: admin passes, NetworkPolicy allows p1 nothing', tcp(P2.v4, 80), false],
    ['its own node is in 0.0.0.0/0 too: TCP 9000 dropped', tcp(GATEWAY.v4, 9000), false],
    ['p1 reaches its node on other ports', tcp(GATEWAY.v4, 8080), true],
  ]);
});

/**
 * Pods reaching their own node: p2 isolated for egress by NetworkPolicy (allowed nothing);
 * the Admin tier drops TCP 81 from p1 and TCP 9000 from p2 to the node; the Baseline tier drops
 * everything from p1 and p2 to the node but TCP 80 from p1.
 */
const nodeAddresses = [`${GATEWAY.v4}/32`, `${GATEWAY.v6}/128`];
const egressToNode: NodePolicy = {
  ingress: EMPTY_DIRECTION,
  egress: { isolated: [P2.v4, P2.v6], anyPeer: [], classes: [] },
  admin: {
    ingress: EMPTY_TIER_DIRECTION,
    egress: {
      subjects: [P1.v4, P1.v6, P2.v4, P2.v6],
      classes: [{ key: 'nodes', cidrs: nodeAddresses, decide: [...[P1.v4, P1.v6].map((l) => decide(l, 'pass', [range('tcp', 81, 81, 'drop')])), ...[P2.v4, P2.v6].map((l) => decide(l, 'pass', [range('tcp', 9000, 9000, 'drop')]))] }],
    },
  },
  baseline: {
    ingress: EMPTY_TIER_DIRECTION,
    egress: {
      subjects: [P1.v4, P1.v6, P2.v4, P2.v6],
      classes: [{ key: 'nodes', cidrs: nodeAddresses, decide: [...[P1.v4, P1.v6].map((l) => decide(l, 'drop', [range('tcp', 80, 80, 'accept')])), decide(P2.v4, 'drop'), decide(P2.v6, 'drop')] }],
    },
  },
  problems: [],
};

test('a pod reaching its own node meets the egress tiers (as in the nftables backend), not NetworkPolicy: an address it isolates skips the baseline tier', async (t) => {
  const topo = await topology(t);
  const { p1, p2 } = topo.pods;
  await topo.backend.apply(state(egressToNode));
  t.is((await topo.backend.apply(state(egressToNode), { fromKernel: true })).changes, 0);
  await expectReach(t, p1, [
    ['admin drop', tcp(GATEWAY.v4, 81), false],
    ['admin pass, baseline accept', tcp(GATEWAY.v4, 80), true],
    ['admin pass, baseline drop', tcp(GATEWAY.v4, 8080), false],
    ['baseline drop, UDP', udp(GATEWAY.v4, 81), false],
    ['IPv6: admin drop', tcp(GATEWAY.v6, 81), false],
    ['IPv6: baseline accept', tcp(GATEWAY.v6, 80), true],
    ['IPv6: baseline drop', tcp(GATEWAY.v6, 9000), false],
    ['forwarded: no tier decides, p1 is not isolated', tcp(REMOTE.v4, 81), true],
  ]);
  t.false(await ping(p1, GATEWAY.v4), 'baseline drop "other" covers ICMP');
  await expectReach(t, p2, [
    ['admin drop', tcp(GATEWAY.v4, 9000), false],
    ['NetworkPolicy isolates p2: the baseline tier does not apply to its own node', tcp(GATEWAY.v4, 8080), true],
    ['and over IPv6', tcp(GATEWAY.v6, 81), true],
    ['UDP', udp(GATEWAY.v4, 8080), true],
    ['forwarded: NetworkPolicy allows p2 nothing', tcp(REMOTE.v4, 80), false],
  ]);
  t.true(await ping(p2, GATEWAY.v4), 'exempt: ICMP too');
  await expectReach(t, topo.node, [['the node reaches its pods', tcp(P1.v4, 9000), true]]);
});

test('a resync with the same model writes nothing, also after a restart; a change writes only what changed; removing the tiers restores the NetworkPolicy layout', async (t) => {
  const topo = await topology(t);
  const { p1 } = topo.pods;
  await topo.backend.apply(state(adminOverNetworkPolicy));
  t.is((await topo.backend.apply(state(adminOverNetworkPolicy))).changes, 0, 'a sync from memory');
  t.is((await topo.backend.apply(state(adminOverNetworkPolicy), { fromKernel: true })).changes, 0, 'a resync from the kernel');
  const restarted = new IptablesBackend([topo.iptables.ipv4, topo.iptables.ipv6], 'WEFT', topo.ipset);
  t.is((await restarted.apply(state(adminOverNetworkPolicy))).changes, 0, 'a restart writes nothing');
  const setHeaders = async () => new Map((await ipsetSave(topo.node)).split('\n').filter((l) => l.startsWith('create ')).map((l) => [l.split(' ')[1], l]));
  const headers = await setHeaders();

  // Count packets through the admin and NetworkPolicy chains, to see which chains are rewritten.
  await expectReach(t, p1, [['counted', tcp(P2.v4, 80), true]]);
  await expectReach(t, topo.remote, [['counted', tcp(P2.v4, 80), true]]);
  const counters = async () => {
    const filter = await topo.iptables.ipv4.save('filter');
    return new Map(['WEFT-ADMIN-INGRESS', 'WEFT-INGRESS-TIERS', 'WEFT-INGRESS'].map((c) => [c, filter.rules.filter((r) => r.chain === c).map((r) => r.counter?.packets ?? 0)]));
  };
  const counted = await counters();
  t.true(counted.get('WEFT-ADMIN-INGRESS')!.some((n) => n > 0));

  // One more pass port for the remote host: one element (one IPv4 CIDR), nothing else.
  const morePorts: NodePolicy = structuredClone(adminOverNetworkPolicy);
  morePorts.admin!.ingress.classes[1].decide[0].ports.push(range('tcp', 443, 443, 'pass'));
  t.is((await restarted.apply(state(morePorts))).changes, 1, 'one element added');
  t.regex(await ipsetSave(topo.node), /add weft-ai-pas4 10\.244\.0\.12,tcp:443,10\.0\.0\.0\/24/);
  t.deepEqual(await counters(), counted, 'no chain was rewritten');
  t.deepEqual(await setHeaders(), headers, 'no set was created again');

  // "other" turns from drop to accept for the remote host over IPv4: p2's own chain and its
  // "other" sets change, and the UDP 81 accept range goes (it is "other" now), taking the
  // accept set's rule with it; the TIERS chain and NetworkPolicy's stay.
  const otherAccept: NodePolicy = structuredClone(morePorts);
  otherAccept.admin!.ingress.classes[1].decide[0].other = 'accept';
  const change = await restarted.apply(state(otherAccept));
  t.log(`"other" drop -> accept: ${change.changes} changes`);
  t.true(change.changes > 0 && change.changes < 20, `a few changes: ${change.changes}`);
  const now = await counters();
  for (const c of ['WEFT-INGRESS-TIERS', 'WEFT-INGRESS']) t.deepEqual(now.get(c), counted.get(c), `${c} was not rewritten`);
  await expectReach(t, topo.remote, [
    ['"other" now accepts', tcp(P2.v4, 81), true],
    ['the pass range still goes to NetworkPolicy', tcp(P2.v4, 80), true],
  ]);
  t.is((await restarted.apply(state(otherAccept), { fromKernel: true })).changes, 0);

  // Without the tiers: FORWARD enters NetworkPolicy directly again; no tier chain or set is left.
  const plain: NodePolicy = { ...adminOverNetworkPolicy, admin: undefined };
  await restarted.apply(state(plain));
  for (const ipt of [topo.iptables.ipv4, topo.iptables.ipv6]) {
    const filter = await ipt.save('filter');
    t.deepEqual(
      filter.chains.map((c) => c.name).filter((n) => /ADMIN|TIERS|PASSED|^WEFT-AI/.test(n)),
      [],
      `${ipt.family}: no tier chains`,
    );
    t.true(filter.rules.some((r) => r.chain === 'WEFT-FORWARD' && r.target === 'WEFT-INGRESS'));
  }
  const sets = await ipsetSave(topo.node);
  t.notRegex(sets, /weft-a[ei]-/, 'no tier sets are left');
  t.is(sets.match(/^create weft-i[46]-/gm)?.length, 2, 'of the own sets of p2, only NetworkPolicy\'s "all" sets are left');
  await expectReach(t, p1, [['NetworkPolicy alone: p1 gets TCP 9000 only', tcp(P2.v4, 80), false]]);
  await expectReach(t, topo.remote, [['NetworkPolicy alone: the remote host gets everything', tcp(P2.v4, 81), true]]);
});

/**
 * The sets that stay (the p1 class keeps elements in the drop, accept and pass sets) gain and
 * lose elements around the rules; sets and chains that come and go are created before and
 * destroyed after. Were the sets' elements deleted before the rules and added after (the
 * 'isolate' role), TCP 80 (pass -> accept) and IPv6 TCP 81 (a drop range -> a drop "other" in a
 * new own chain) would get through or be dropped in between.
 */
test('every state a sync passes through: decisions that keep their verdicts while their shape changes (an "other" becoming ranges, ranges becoming an "other" with a new own chain) decide every probe the same', async (t) => {
  const topo = await topology(t);
  await topo.backend.apply(state(adminOverNetworkPolicy));
  const reshaped: NodePolicy = structuredClone(adminOverNetworkPolicy);
  reshaped.admin!.ingress.classes[1].decide = [
    // Was: drop but TCP 80 and 8000-8999 (pass) and UDP 81 (accept).
    decide(P2.v4, 'pass', [range('tcp', 1, 79, 'drop'), range('tcp', 80, 80, 'accept'), range('tcp', 81, 7999, 'drop'), range('tcp', 9000, 65535, 'drop'), range('udp', 1, 80, 'drop'), range('udp', 81, 81, 'accept'), range('udp', 82, 65535, 'drop'), range('sctp', 1, 65535, 'drop')]),
    // Was: pass but TCP 81 and UDP 8080 (drop).
    decide(P2.v6, 'drop', [range('tcp', 1, 80, 'pass'), range('tcp', 82, 65535, 'pass'), range('udp', 1, 8079, 'pass'), range('udp', 8081, 65535, 'pass'), range('sctp', 1, 65535, 'pass')]),
  ];
  const cases = (step: string): [string, ReturnType<typeof tcp>, boolean][] => [
    [`${step}: TCP 80`, tcp(P2.v4, 80), true],
    [`${step}: TCP 81`, tcp(P2.v4, 81), false],
    [`${step}: TCP 8080`, tcp(P2.v4, 8080), true],
    [`${step}: TCP 9000`, tcp(P2.v4, 9000), false],
    [`${step}: UDP 81`, udp(P2.v4, 81), true],
    [`${step}: UDP 8080`, udp(P2.v4, 8080), false],
    [`${step}: IPv6 TCP 80`, tcp(P2.v6, 80), true],
    [`${step}: IPv6 TCP 81`, tcp(P2.v6, 81), false],
    [`${step}: IPv6 TCP 9000`, tcp(P2.v6, 9000), true],
    [`${step}: IPv6 UDP 81`, udp(P2.v6, 81), true],
    [`${step}: IPv6 UDP 8080`, udp(P2.v6, 8080), false],
  ];
  await expectReach(t, topo.remote, cases('before'));
  const seen: string[] = [];
  const backend = observed(topo, async (step) => {
    seen.push(step);
    await expectReach(t, topo.remote, cases(step));
  });
  t.true((await backend.apply(state(reshaped))).changes > 0);
  t.true(seen.length >= 4, `observed ${seen.join(', ')}`);
  t.log(seen.join(', '));
  await expectReach(t, topo.remote, cases('back again'));
  await backend.apply(state(adminOverNetworkPolicy));
  await expectReach(t, topo.remote, cases('done'));
});
