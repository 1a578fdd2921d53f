/**
 * The iptables backend's rendering of ClusterNetworkPolicy tiers (render-cluster-policy.ts and
 * their place around NetworkPolicy in render-policy.ts), without a kernel: the chains and sets
 * for hand-built TierPolicy models, their verdicts through the rule interpreter compared with
 * the semantics written from policy-state.ts (test/helpers/iptables-interpreter.ts), on
 * hand-made cases and random models, and what a packet costs as the model grows.
 */
import test from 'ava';
import { renderIptables } from '../../agent/backend/iptables/render';
import { EXPANDED_RANGE_MAX, TREE_LEAF_SIZE } from '../../agent/backend/iptables/render-policy';
import { IptablesNames } from '../../agent/backend/iptables/names';
import type { LocalPod, NodeState } from '../../agent/dataplane/node-state';
import {
  EMPTY_DIRECTION,
  EMPTY_TIER_DIRECTION,
  type Allowance,
  type DirectionPolicy,
  type NodePolicy,
  type PortRange,
  type TierClass,
  type TierDecision,
  type TierDirection,
  type TierPolicy,
  type TierPortRange,
  type TierVerdict,
} from '../../agent/dataplane/policy-state';
import { addr } from '../helpers/address-match';
import { BRIDGE, expectedForward, expectedInput, forwardVerdict, inputVerdict, packet, tierVerdict, type Packet, type PacketCost, type Proto } from '../helpers/iptables-interpreter';

const P1 = '10.244.0.11';
const P2 = '10.244.0.12';
const P1v6 = 'fd00:10:244::11';
const P2v6 = 'fd00:10:244::12';
const pods: LocalPod[] = [
  { namespace: 'x', name: 'p1', ips: [P1, P1v6] },
  { namespace: 'x', name: 'p2', ips: [P2, P2v6] },
];

const range = (protocol: PortRange['protocol'], first: number, last: number, verdict: TierVerdict): TierPortRange => ({ protocol, first, last, verdict });
const decide = (localIp: string, other: TierVerdict, ports: TierPortRange[] = []): TierDecision => ({ localIp, other, ports });
const tierClass = (key: string, cidrs: string[], decisions: TierDecision[]): TierClass => ({ key, cidrs, decide: decisions });
const tier = (subjects: string[], classes: TierClass[]): TierDirection => ({ subjects, classes });
const ingressTier = (d: TierDirection): TierPolicy => ({ ingress: d, egress: EMPTY_TIER_DIRECTION });
const allow = (localIp: string, ports: Allowance['ports']): Allowance => ({ localIp, ports, policies: ['x/p'] });
const tcp = (first: number, last = first): PortRange => ({ protocol: 'tcp', first, last });

function nodePolicy(parts: Partial<NodePolicy>): NodePolicy {
  return { ingress: EMPTY_DIRECTION, egress: EMPTY_DIRECTION, problems: [], ...parts };
}

const stateOf = (policy: NodePolicy, localPods: LocalPod[] = pods): NodeState => ({ nodeName: 'n', localPods, podBridge: BRIDGE, policy });

/** The rendered verdict and the semantics' for each case, and the case's own expectation. */
function check(t: import('ava').ExecutionContext, s: NodeState, cases: [string, Packet, 'DROP' | 'continue'][]): void {
  const r = renderIptables(s, 'WEFT');
  for (const [label, p, want] of cases) {
    t.is(expectedForward(s, p), want, `semantics: ${label}`);
    t.is(forwardVerdict(r, p), want, label);
  }
}

const words = (rule: readonly string[]) => rule.filter((w) => !w.includes(' ')).join(' ');

test('one admin ingress tier: FORWARD enters the TIERS chain, subjects go to the tier chain; drop, accept and pass sets, the own chain of "other" and wide ranges', (t) => {
  const admin = ingressTier(
    tier(
      [P1, P2],
      [
        // From 10.1/16 and 10.3/16: drop everything but TCP 80-81 (pass) and 9000-9100 (wide, pass).
        tierClass('ns:y', ['10.1.0.0/16', '10.3.0.0/16'], [decide(P1, 'drop', [range('tcp', 80, 81, 'pass'), range('tcp', 9000, 9100, 'pass')])]),
        // From 10.2.0.5: accept UDP 53, drop SCTP 9; other pass.
        tierClass('pod:z/a', ['10.2.0.5/32'], [decide(P2, 'pass', [range('udp', 53, 53, 'accept'), range('sctp', 9, 9, 'drop')])]),
      ],
    ),
  );
  const r = renderIptables(stateOf(nodePolicy({ admin })), 'WEFT');
  const v4 = new Map(r.chains.ipv4.map((c) => [c.name, c]));
  t.deepEqual(v4.get('WEFT-FORWARD')!.rules.map((w) => w[w.length - 1]), ['WEFT-TO-PODS', 'RETURN', 'WEFT-INGRESS-TIERS']);
  t.deepEqual(v4.get('WEFT-INGRESS-TIERS')!.rules.map(words), ['-m set --match-set weft-ai-sub4 dst -m comment --comment -g WEFT-ADMIN-INGRESS']);
  t.false(v4.has('WEFT-INGRESS-PASSED'), 'nothing after the admin tier: pass is RETURN');
  t.false(v4.has('WEFT-INGRESS-DROP'), 'no NetworkPolicy, no NetworkPolicy drop chain');
  t.deepEqual(v4.get('WEFT-ADMIN-INGRESS-DROP')!.rules.map((w) => w.filter((x) => x.startsWith('weft-drop') || x === 'DROP' || x === 'NFLOG')), [['NFLOG', 'weft-drop admin ingress'], ['DROP']], 'the tier\'s drops are logged with its own prefix, then dropped');
  const adminChain = v4.get('WEFT-ADMIN-INGRESS')!.rules.map(words);
  t.deepEqual(adminChain.slice(0, 4), [
    '-m set --match-set weft-ai-drp4 dst,dst,src -m comment --comment -j WEFT-ADMIN-INGRESS-DROP',
    '-m set --match-set weft-ai-acc4 dst,dst,src -m comment --comment -j RETURN',
    '-m set --match-set weft-ai-pas4 dst,dst,src -m comment --comment -j RETURN',
  ].concat(adminChain[3]));
  t.regex(adminChain[3], /^-m set --match-set weft-ai-oth4 dst -m comment --comment -g WEFT-AIT-[0-9a-f]{8}$/);
  t.is(adminChain[4], '-j RETURN');
  const sets = new Map(r.sets.map((s) => [s.name, s]));
  t.deepEqual(sets.get('weft-ai-sub4')?.elements, [P1, P2]);
  t.deepEqual(sets.get('weft-ai-drp4')?.elements, [`${P2},sctp:9,10.2.0.5`]);
  t.deepEqual(sets.get('weft-ai-acc4')?.elements, [`${P2},udp:53,10.2.0.5`]);
  t.deepEqual(sets.get('weft-ai-pas4')?.elements.sort(), ['tcp:80', 'tcp:81'].flatMap((p) => ['10.1.0.0/16', '10.3.0.0/16'].map((n) => `${P1},${p},${n}`)).sort());
  t.deepEqual(sets.get('weft-ai-oth4')?.elements, [P1], 'only P1 has an "other" or a wide range');
  t.true(r.sets.filter((s) => s.name !== 'weft-pods4' && s.name !== 'weft-pods6').every((s) => s.role === 'allow'), 'every tier set is a union while a sync runs');
  // P1's own chain: the wide pass range, then the peers "other" drops, then pass.
  const own = r.chains.ipv4.find((c) => c.name === new IptablesNames('WEFT').tierLocalChain('a', 'i', P1))!;
  t.deepEqual(own.rules.map(words).map((x) => x.replace(/weft-i4-[0-9a-f]{10}/, 'SET')), [
    '-p tcp -m tcp --dport 9000:9100 -m set --match-set SET src -m comment --comment -j RETURN',
    '-m set --match-set SET src -m comment --comment -j WEFT-ADMIN-INGRESS-DROP',
    '-j RETURN',
  ]);
  const ownSets = r.sets.filter((s) => /^weft-i4-/.test(s.name));
  t.deepEqual(ownSets.map((s) => [s.type, s.elements.sort()]), [
    ['hash:net', ['10.1.0.0/16', '10.3.0.0/16']],
    ['hash:net', ['10.1.0.0/16', '10.3.0.0/16']],
  ]);
  t.deepEqual(r.chains.ipv6.filter((c) => c.name !== 'WEFT-FORWARD' && c.name !== 'WEFT-PREROUTING' && c.name !== 'WEFT-TO-PODS' && c.name !== 'WEFT-OUTPUT'), [], 'no IPv6 subject, no IPv6 tier');
  for (const s of r.sets) t.true(new IptablesNames('WEFT').ownsSet(s.name), `${s.name} is a name weft owns`);
});

test('all three stages: Admin, then NetworkPolicy for isolated addresses, then Baseline; Admin\'s pass continues in PASSED', (t) => {
  const policy = nodePolicy({
    admin: ingressTier(tier([P1], [tierClass('c', ['10.1.0.0/16'], [decide(P1, 'drop')])])),
    ingress: { isolated: [P2], anyPeer: [], classes: [] },
    baseline: ingressTier(tier([P1, P2], [tierClass('c', ['10.1.0.0/16'], [decide(P1, 'drop'), decide(P2, 'accept')])])),
  });
  const r = renderIptables(stateOf(policy), 'WEFT');
  const v4 = new Map(r.chains.ipv4.map((c) => [c.name, c]));
  const stages = ['-m set --match-set weft-i-iso4 dst -m comment --comment -g WEFT-INGRESS', '-m set --match-set weft-bi-sub4 dst -m comment --comment -g WEFT-BASELINE-INGRESS'];
  t.deepEqual(v4.get('WEFT-INGRESS-TIERS')!.rules.map(words), ['-m set --match-set weft-ai-sub4 dst -m comment --comment -g WEFT-ADMIN-INGRESS', ...stages]);
  t.deepEqual(v4.get('WEFT-INGRESS-PASSED')!.rules.map(words), stages);
  t.is(words(v4.get('WEFT-ADMIN-INGRESS')!.rules.at(-1)!), '-g WEFT-INGRESS-PASSED');
  t.is(words(v4.get('WEFT-BASELINE-INGRESS')!.rules.at(-1)!), '-j RETURN', 'pass after the baseline tier: allowed');
  t.deepEqual(
    r.chains.ipv4.filter((c) => c.name.endsWith('-DROP')).map((c) => [c.name, c.rules[0][c.rules[0].indexOf('--nflog-prefix') + 1]]),
    [
      ['WEFT-ADMIN-INGRESS-DROP', 'weft-drop admin ingress'],
      ['WEFT-BASELINE-INGRESS-DROP', 'weft-drop baseline ingress'],
      ['WEFT-INGRESS-DROP', 'weft-drop ingress'],
    ],
    'one drop chain per stage, each logging with its own prefix',
  );
  t.deepEqual(r.sets.find((s) => s.name === 'weft-bi-sub4')?.elements, [P1, P2], 'the baseline tier keeps its isolated subjects: NetworkPolicy\'s stage comes first');
});

test('without tiers, NetworkPolicy is entered from FORWARD as before; tiers with nothing but pass render nothing', (t) => {
  const np: DirectionPolicy = { isolated: [P1], anyPeer: [], classes: [] };
  const passOnly = ingressTier(tier([P1, P2], [tierClass('c', ['10.1.0.0/16'], [decide(P1, 'pass', [range('tcp', 80, 80, 'pass')])])]));
  for (const policy of [nodePolicy({ ingress: np }), nodePolicy({ ingress: np, admin: passOnly, baseline: { ingress: EMPTY_TIER_DIRECTION, egress: EMPTY_TIER_DIRECTION } })]) {
    const r = renderIptables(stateOf(policy), 'WEFT');
    t.deepEqual(r.chains.ipv4.find((c) => c.name === 'WEFT-FORWARD')!.rules.map(words).slice(2), ['-m set --match-set weft-i-iso4 dst -m comment --comment -j WEFT-INGRESS']);
    t.false(r.sets.some((s) => /^weft-[ab]/.test(s.name)));
  }
  // Decisions for an address that is not a subject are never looked at.
  const r = renderIptables(stateOf(nodePolicy({ admin: ingressTier(tier([P2], [tierClass('c', ['10.1.0.0/16'], [decide(P1, 'drop')])])) })), 'WEFT');
  t.deepEqual(r.chains.ipv4.find((c) => c.name === 'WEFT-FORWARD')!.rules.map((w) => w.at(-1)), ['WEFT-TO-PODS']);
});

// ---- verdicts ----

const REMOTE = '10.0.0.2';
const REMOTE6 = 'fd00:0:1::2';
const OTHER = '10.9.9.9';

test('admin accept beats NetworkPolicy isolation; admin drop beats a NetworkPolicy allowance; pass goes to NetworkPolicy', (t) => {
  const policy = nodePolicy({
    ingress: {
      isolated: [P2, P2v6],
      anyPeer: [],
      classes: [
        { key: 'remote', cidrs: ['10.0.0.0/24', 'fd00:0:1::/64'], allow: [allow(P2, 'all'), allow(P2v6, 'all')] },
        { key: 'p1', cidrs: [`${P1}/32`], allow: [allow(P2, [tcp(443)])] },
      ],
    },
    admin: ingressTier(
      tier(
        [P2, P2v6],
        [
          // p1 -> p2: accepted on everything (NetworkPolicy allows it 443 only).
          tierClass('p1', [`${P1}/32`, `${P1v6}/128`], [decide(P2, 'accept'), decide(P2v6, 'accept')]),
          // remote -> p2: dropped but TCP 80 (pass), 8000-8999 (pass, wide), UDP 53 (accept).
          tierClass('remote', ['10.0.0.0/24', 'fd00:0:1::/64'], [
            decide(P2, 'drop', [range('tcp', 80, 80, 'pass'), range('tcp', 8000, 8999, 'pass'), range('udp', 53, 53, 'accept')]),
            decide(P2v6, 'pass', [range('tcp', 81, 81, 'drop')]),
          ]),
        ],
      ),
    ),
  });
  check(t, stateOf(policy), [
    ['admin accept, NetworkPolicy isolates', packet(P1, P2, 'tcp', 9), 'continue'],
    ['admin accept covers ICMP', packet(P1, P2, 'icmp', 0), 'continue'],
    ['admin accept over IPv6', packet(P1v6, P2v6, 'udp', 9), 'continue'],
    ['admin drop beats the "all" allowance', packet(REMOTE, P2, 'tcp', 81), 'DROP'],
    ['admin drop: ICMP is "other"', packet(REMOTE, P2, 'icmp', 0), 'DROP'],
    ['a pass range in a drop "other": NetworkPolicy allows', packet(REMOTE, P2, 'tcp', 80), 'continue'],
    ['a wide pass range: NetworkPolicy allows', packet(REMOTE, P2, 'tcp', 8500), 'continue'],
    ['just outside the wide range', packet(REMOTE, P2, 'tcp', 9000), 'DROP'],
    ['the range is TCP only', packet(REMOTE, P2, 'udp', 8500), 'DROP'],
    ['an accept range in a drop "other"', packet(REMOTE, P2, 'udp', 53), 'continue'],
    ['IPv6: pass "other" goes to NetworkPolicy, which allows', packet(REMOTE6, P2v6, 'tcp', 9), 'continue'],
    ['IPv6: a drop range', packet(REMOTE6, P2v6, 'tcp', 81), 'DROP'],
    ['a peer in no class: pass, NetworkPolicy drops', packet(OTHER, P2, 'tcp', 80), 'DROP'],
    ['p1 is no subject', packet(REMOTE, P1, 'tcp', 81), 'continue'],
    ['replies pass', packet(REMOTE, P2, 'tcp', 81, { established: true }), 'continue'],
  ]);
});

test('baseline only for addresses NetworkPolicy does not isolate; pass after baseline is allowed; egress too', (t) => {
  const baseline: TierPolicy = {
    ingress: tier([P1, P2], [tierClass('remote', ['10.0.0.0/24'], [decide(P1, 'drop', [range('tcp', 80, 80, 'accept'), range('tcp', 81, 81, 'pass')]), decide(P2, 'drop')])]),
    egress: tier([P1], [tierClass('world', ['0.0.0.0/0'], [decide(P1, 'pass', [range('udp', 1000, 2000, 'drop'), range('tcp', 25, 25, 'drop')])])]),
  };
  const policy = nodePolicy({ baseline, ingress: { isolated: [P2], anyPeer: [allow(P2, [tcp(82)])], classes: [] } });
  check(t, stateOf(policy), [
    ['baseline drop for the non-isolated p1', packet(REMOTE, P1, 'tcp', 9), 'DROP'],
    ['baseline accept range', packet(REMOTE, P1, 'tcp', 80), 'continue'],
    ['baseline pass range: allowed', packet(REMOTE, P1, 'tcp', 81), 'continue'],
    ['p2 is isolated: NetworkPolicy decides, not the baseline', packet(REMOTE, P2, 'tcp', 82), 'continue'],
    ['p2 is isolated: NetworkPolicy drops', packet(REMOTE, P2, 'tcp', 9), 'DROP'],
    ['egress baseline: a wide drop range', packet(P1, REMOTE, 'udp', 1500), 'DROP'],
    ['egress baseline: a narrow drop range', packet(P1, OTHER, 'tcp', 25), 'DROP'],
    ['egress baseline: pass', packet(P1, OTHER, 'tcp', 26), 'continue'],
    ['egress to a pod: egress passes, then the pod\'s ingress baseline drops', packet(P1, P2, 'udp', 1500), 'DROP'],
  ]);
});

const NODE = '10.244.0.1';
const NODE6 = 'fd00:10:244::1';
const toNode = (src: string, dst: string, proto: Proto, dport: number): Packet => packet(src, dst, proto, dport, { out: '', toNode: true });

test('a pod reaching its own node (INPUT) meets the egress tiers, not NetworkPolicy: admin first, an address NetworkPolicy isolates allowed, then baseline', (t) => {
  const nodes = ['10.244.0.1/32', '192.168.0.1/32', 'fd00:10:244::1/128'];
  const policy = nodePolicy({
    egress: { isolated: [P2], anyPeer: [], classes: [] },
    admin: { ingress: EMPTY_TIER_DIRECTION, egress: tier([P1, P2, P1v6], [tierClass('nodes', nodes, [decide(P1, 'pass', [range('tcp', 22, 22, 'drop'), range('tcp', 443, 443, 'accept')]), decide(P2, 'pass', [range('tcp', 22, 22, 'drop')]), decide(P1v6, 'drop', [range('tcp', 80, 80, 'pass')])])]) },
    baseline: { ingress: EMPTY_TIER_DIRECTION, egress: tier([P1, P2], [tierClass('nodes', nodes, [decide(P1, 'drop', [range('tcp', 80, 80, 'accept')]), decide(P2, 'drop')])]) },
  });
  const s = stateOf(policy);
  const r = renderIptables(s, 'WEFT');
  const v4 = new Map(r.chains.ipv4.map((c) => [c.name, c]));
  t.deepEqual(v4.get('WEFT-INPUT')!.rules.map((w) => w.at(-1)), ['RETURN', 'WEFT-EGRESS-NODE']);
  t.deepEqual(v4.get('WEFT-EGRESS-NODE')!.rules.map(words), [
    '-m set --match-set weft-ae-sub4 src -m comment --comment -g WEFT-ADMIN-EGRESS',
    '-m set --match-set weft-e-iso4 src -m comment --comment -j RETURN',
    '-m set --match-set weft-be-sub4 src -m comment --comment -g WEFT-BASELINE-EGRESS',
  ]);
  t.is(words(v4.get('WEFT-EGRESS-PASSED')!.rules[0]), '-m addrtype --dst-type LOCAL -m comment --comment -g WEFT-EGRESS-NODE-PASSED');
  const cases: [string, Packet, 'DROP' | 'continue'][] = [
    ['admin drop range', toNode(P1, NODE, 'tcp', 22), 'DROP'],
    ['admin accept range (baseline would drop)', toNode(P1, NODE, 'tcp', 443), 'continue'],
    ['admin pass, baseline accept range', toNode(P1, NODE, 'tcp', 80), 'continue'],
    ['admin pass, baseline drop "other"', toNode(P1, '192.168.0.1', 'udp', 53), 'DROP'],
    ['p2: admin drop range', toNode(P2, NODE, 'tcp', 22), 'DROP'],
    ['p2 is isolated by NetworkPolicy: exempt from baseline', toNode(P2, NODE, 'tcp', 80), 'continue'],
    ['IPv6: admin drop "other"', toNode(P1v6, NODE6, 'tcp', 22), 'DROP'],
    ['IPv6: admin pass range, no baseline subject', toNode(P1v6, NODE6, 'tcp', 80), 'continue'],
    ['IPv6 neighbour discovery with the node', { ...toNode(P1v6, 'ff02::1:ff00:1', 'ipv6-icmp', 0), icmpType: 135 }, 'continue'],
    ['replies', { ...toNode(P1, NODE, 'tcp', 22), established: true }, 'continue'],
  ];
  for (const [label, p, want] of cases) {
    t.is(expectedInput(s, p), want, `semantics: ${label}`);
    t.is(inputVerdict(r, p), want, label);
  }
  // In FORWARD, the same admin pass goes to NetworkPolicy: p2 is isolated with nothing allowed.
  t.is(forwardVerdict(r, packet(P2, '10.0.0.2', 'tcp', 80)), 'DROP');
  t.is(forwardVerdict(r, packet(P1, '10.0.0.2', 'tcp', 80)), 'continue', 'p1: no class, no tier decides');
  // Ingress tiers only: nothing in INPUT.
  const ingressOnly = renderIptables(stateOf(nodePolicy({ admin: ingressTier(tier([P1], [tierClass('c', ['10.0.0.0/8'], [decide(P1, 'drop')])])) })), 'WEFT');
  t.false(ingressOnly.chains.ipv4.some((c) => c.name === 'WEFT-INPUT' || c.name.includes('NODE')));
});

// ---- random models ----

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

const LOCALS = ['10.244.0.2', '10.244.0.3', '10.244.0.4', '10.244.0.5', '10.244.0.6', 'fd00:10:244::2', 'fd00:10:244::3', 'fd00:10:244::4'];
/** Disjoint peer blocks; a tier takes some of them into classes. */
const BLOCKS = ['10.1.0.0/16', '10.2.0.0/24', '10.2.1.0/24', '10.3.0.1/32', '10.244.0.1/32', '10.244.0.2/32', '10.244.0.3/32', '10.244.0.4/31', '192.168.0.0/24', 'fd00:1::/64', 'fd00:10:244::1/128', 'fd00:10:244::2/128', 'fd00:10:244::4/126'];
/** The node's own addresses: destinations of INPUT packets. */
const NODE_ADDRESSES = ['10.244.0.1', '192.168.0.1', '192.168.1.1', 'fd00:10:244::1', 'fd00:10:244::99'];
const PEERS = ['10.1.2.3', '10.2.0.9', '10.2.1.9', '10.3.0.1', '10.9.9.9', 'fd00:1::5', 'fd00:2::5', ...LOCALS];
const PORTS = [53, 80, 81, 85, 443, 8080, 9000];
const VERDICTS: TierVerdict[] = ['accept', 'drop', 'pass'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function randomDecision(r: () => number, localIp: string): TierDecision {
  const other = pick(r, VERDICTS);
  const ports: TierPortRange[] = [];
  for (const protocol of ['tcp', 'udp', 'sctp'] as const) {
    const candidates: [number, number][] = [
      [53, 53],
      [80, 81],
      [443, 443],
      [8000, 8999],
    ];
    for (const [first, last] of candidates) {
      if (r() < 0.3) ports.push({ protocol, first, last, verdict: pick(r, VERDICTS.filter((v) => v !== other)) });
    }
  }
  return { localIp, other, ports };
}

function randomTier(r: () => number): TierDirection {
  const subjects = LOCALS.filter(() => r() < 0.6);
  const blocks = BLOCKS.filter(() => r() < 0.7);
  if (r() < 0.15) blocks.splice(0, blocks.length, '0.0.0.0/0', 'fd00:1::/64');
  const classes: TierClass[] = [];
  while (blocks.length > 0) {
    const take = blocks.splice(0, 1 + Math.floor(r() * 3));
    // Decisions for some subjects, and now and then for an address that is not one.
    classes.push({ key: take.join(' '), cidrs: take, decide: LOCALS.filter(() => r() < 0.5).map((l) => randomDecision(r, l)) });
  }
  return { subjects, classes };
}

function randomDirection(r: () => number): DirectionPolicy {
  const isolated = LOCALS.filter(() => r() < 0.4);
  const blocks = BLOCKS.filter(() => r() < 0.5);
  return {
    isolated,
    anyPeer: LOCALS.filter(() => r() < 0.2).map((l) => allow(l, [tcp(80)])),
    classes: blocks.map((b) => ({ key: b, cidrs: [b], allow: LOCALS.filter(() => r() < 0.4).map((l) => allow(l, r() < 0.3 ? 'all' : [tcp(80, 90), { protocol: 'udp', first: 53, last: 53 }])) })),
  };
}

test('random tiers around random NetworkPolicy: the rendered rules decide every packet as the semantics do, forwarded and to the node', (t) => {
  let packets = 0;
  let inputs = 0;
  const verdicts = new Map<string, number>();
  for (let seed = 1; seed <= 150; seed++) {
    const r = rng(seed);
    const tiers = (): TierPolicy | undefined => (r() < 0.8 ? { ingress: randomTier(r), egress: randomTier(r) } : undefined);
    const admin = tiers();
    const baseline = tiers();
    const policy = nodePolicy({ ingress: randomDirection(r), egress: randomDirection(r), ...(admin ? { admin } : {}), ...(baseline ? { baseline } : {}) });
    const localPods = LOCALS.map((ip, i) => ({ namespace: 'x', name: `p${i}`, ips: [ip] }));
    const s = stateOf(policy, localPods);
    const rendering = renderIptables(s, 'WEFT');
    for (let i = 0; i < 80; i++) {
      const src = pick(r, PEERS);
      const dst = pick(r, PEERS.filter((p) => addr(p).family === addr(src).family && p !== src));
      const v6 = addr(src).family === 6;
      const proto = pick<Proto>(r, ['tcp', 'udp', 'sctp', v6 ? 'ipv6-icmp' : 'icmp']);
      const p = packet(src, dst, proto, proto.includes('icmp') ? 0 : pick(r, PORTS), { established: r() < 0.05, ...(proto === 'ipv6-icmp' ? { icmpType: 128 } : {}) });
      const want = expectedForward(s, p);
      const got = forwardVerdict(rendering, p);
      if (got !== want) {
        t.fail(`seed ${seed}: ${JSON.stringify(p)}: rendered ${got}, semantics ${want}`);
        return;
      }
      // The same packet from a local pod to its node instead (INPUT).
      if (LOCALS.includes(src)) {
        const n = { ...p, dst: pick(r, NODE_ADDRESSES.filter((a) => addr(a).family === addr(src).family)), out: '', toNode: true };
        if (inputVerdict(rendering, n) !== expectedInput(s, n)) {
          t.fail(`seed ${seed}: ${JSON.stringify(n)}: rendered ${inputVerdict(rendering, n)}, semantics ${expectedInput(s, n)}`);
          return;
        }
        inputs++;
      }
      const admitted = admin ? tierVerdict(admin.ingress, dst, src, p) : 'none';
      verdicts.set(`admin ${admitted} -> ${want}`, (verdicts.get(`admin ${admitted} -> ${want}`) ?? 0) + 1);
      packets++;
    }
  }
  t.is(packets, 150 * 80);
  t.true(inputs > 1000, `${inputs} packets to the node`);
  t.log(JSON.stringify([...verdicts].sort()));
  // The cases are not all alike: every admin verdict shows up, with both outcomes where it can.
  for (const key of ['admin accept -> continue', 'admin drop -> DROP', 'admin pass -> continue', 'admin pass -> DROP', 'admin none -> DROP', 'admin none -> continue']) {
    t.true((verdicts.get(key) ?? 0) > 20, `${key}: ${verdicts.get(key) ?? 0}`);
  }
});

// ---- size and cost ----

/**
 * A node of `locals` pods, all subjects of an admin ingress tier with `classes` peer classes of
 * 5 pods each. Each pod's decisions: 8 classes decide one or two ports (accept, drop, or pass in
 * a drop "other"), every 10th pod also has one class it denies everything from.
 */
function largeModel(locals: number, classes: number): { state: NodeState; local: (i: number) => string; peer: (c: number, k: number) => string } {
  const local = (i: number) => `10.244.${i >> 8}.${(i & 255) + 2}`;
  const peer = (c: number, k: number) => `10.${100 + Math.floor(c / 200)}.${c % 200}.${k + 1}`;
  const cls: TierClass[] = Array.from({ length: classes }, (_, c) => ({ key: `pods:${c}`, cidrs: Array.from({ length: 5 }, (_, k) => `${peer(c, k)}/32`), decide: [] }));
  for (let i = 0; i < locals; i++) {
    for (let k = 0; k < 8; k++) {
      const c = cls[(i * 8 + k) % classes];
      const verdict: TierVerdict = k % 2 === 0 ? 'accept' : 'drop';
      c.decide.push(k === 7 ? decide(local(i), 'drop', [range('tcp', 443, 443, 'pass')]) : decide(local(i), 'pass', [range('tcp', 80, 80 + (k % 2), verdict)]));
    }
    if (i % 10 === 0) cls[(i * 8 + 8) % classes].decide.push(decide(local(i), 'drop'));
  }
  for (const c of cls) c.decide.sort((a, b) => (addr(a.localIp).value < addr(b.localIp).value ? -1 : 1));
  const subjects = Array.from({ length: locals }, (_, i) => local(i));
  const policy = nodePolicy({ admin: ingressTier(tier(subjects, cls)), ingress: { isolated: subjects, anyPeer: subjects.map((l) => allow(l, [tcp(8080)])), classes: [] } });
  return { state: stateOf(policy, subjects.map((ip, i) => ({ namespace: 'x', name: `p${i}`, ips: [ip] }))), local, peer };
}

test('a large node: elements follow what the tier decides, and a packet costs the same few lookups whatever the number of classes and pods (plus the search tree for "other")', (t) => {
  const figures: Record<string, unknown>[] = [];
  const costs: { portLookups: number; otherRules: number; treeDepth: number }[] = [];
  for (const [locals, classes] of [
    [10, 50],
    [100, 1000],
  ] as const) {
    const { state, local, peer } = largeModel(locals, classes);
    const r = renderIptables(state, 'WEFT');
    const size = (name: string) => r.sets.find((s) => s.name === name)?.elements.length ?? 0;
    figures.push({ locals, classes, sets: r.sets.length, elements: r.sets.reduce((n, s) => n + s.elements.length, 0), drp: size('weft-ai-drp4'), acc: size('weft-ai-acc4'), pas: size('weft-ai-pas4'), oth: size('weft-ai-oth4'), chains: r.chains.ipv4.length, rules: r.chains.ipv4.reduce((n, c) => n + c.rules.length, 0) });
    // Per pod: 3 accept classes x 1 port, 4 drop classes (3 x 2 ports, 1 x 1), 1 pass port, x 5 CIDRs.
    t.is(size('weft-ai-acc4'), locals * 4 * 5, 'accept: k = 0, 2, 4, 6, one port each');
    t.is(size('weft-ai-drp4'), locals * 3 * 2 * 5);
    t.is(size('weft-ai-pas4'), locals * 5);
    t.is(size('weft-ai-oth4'), locals, 'every pod has a drop "other"');
    // A packet decided by the port sets: the same count whatever the size (i = 1, class 8: TCP 80, accept... see largeModel).
    const portCost: PacketCost = { rules: 0, lookups: 0 };
    t.is(forwardVerdict(r, packet(peer(8 % classes, 0), local(1), 'tcp', 80), portCost), 'continue', 'an accept port');
    const dropCost: PacketCost = { rules: 0, lookups: 0 };
    t.is(forwardVerdict(r, packet(peer(9 % classes, 0), local(1), 'tcp', 81), dropCost), 'DROP', 'a drop port');
    // A packet decided by "other": the search tree, then the pod's own chain.
    const otherCost: PacketCost = { rules: 0, lookups: 0 };
    t.is(forwardVerdict(r, packet(peer(15 % classes, 0), local(1), 'udp', 9), otherCost), 'DROP', '"other" is drop');
    costs.push({ portLookups: portCost.lookups + dropCost.lookups, otherRules: otherCost.rules, treeDepth: Math.ceil(Math.log2(Math.max(1, locals / TREE_LEAF_SIZE))) });
  }
  t.log(JSON.stringify(figures));
  t.log(JSON.stringify(costs));
  t.is(costs[0].portLookups, costs[1].portLookups, 'port verdicts: the same lookups at 10 pods x 50 classes and 100 pods x 1,000 classes');
  // The tree adds one rule per level (and a leaf of at most TREE_LEAF_SIZE + 1 rules).
  t.true(costs[1].otherRules - costs[0].otherRules <= 2 * (costs[1].treeDepth - costs[0].treeDepth) + TREE_LEAF_SIZE, `"other": ${costs[0].otherRules} -> ${costs[1].otherRules} rules`);
  t.true(EXPANDED_RANGE_MAX >= 2);
});
