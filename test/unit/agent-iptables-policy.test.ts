/**
 * The iptables backend's rendering of the pod bridge guard and NetworkPolicy, without a kernel:
 * the chains and sets it renders are run through a small interpreter of the iptables and ipset
 * semantics they rely on (test/helpers/iptables-interpreter.ts), and the verdicts compared with
 * the NodePolicy semantics written directly from policy-state.ts, on hand-made cases and on
 * random policies and packets.
 */
import test from 'ava';
import { renderIptables } from '../../agent/backend/iptables/render';
import { EXPANDED_RANGE_MAX, TREE_LEAF_SIZE, peerNets } from '../../agent/backend/iptables/render-policy';
import type { LocalPod, NodeState } from '../../agent/dataplane/node-state';
import { EMPTY_DIRECTION, type Allowance, type DirectionPolicy, type NodePolicy, type PeerClass, type PortRange } from '../../agent/dataplane/policy-state';
import { addr } from '../helpers/address-match';
import { BRIDGE, expectedForward, forwardVerdict, packet, packetFamily, traverse, type Packet, type Proto } from '../helpers/iptables-interpreter';

// ---- hand-made cases ----

const P1 = '10.244.0.11';
const P2 = '10.244.0.12';
const P1v6 = 'fd00:10:244::11';
const pods: LocalPod[] = [
  { namespace: 'x', name: 'p1', ips: [P1, P1v6] },
  { namespace: 'x', name: 'p2', ips: [P2] },
];

const allow = (localIp: string, ports: Allowance['ports']): Allowance => ({ localIp, ports, policies: ['x/p'] });
const tcpPorts = (first: number, last = first): PortRange => ({ protocol: 'tcp', first, last });

test('nothing to do, nothing rendered: no guard without a bridge, no policy chains without isolation', (t) => {
  for (const s of [
    { nodeName: 'n', localPods: pods },
    { nodeName: 'n', localPods: pods, policy: { ingress: EMPTY_DIRECTION, egress: EMPTY_DIRECTION, problems: [] } },
  ]) {
    const r = renderIptables(s, 'WEFT');
    t.deepEqual(r.chains, { ipv4: [], ipv6: [] });
    t.deepEqual(r.sets, []);
  }
  // Isolation in one family only: the other family gets no policy chain.
  const r = renderIptables({ nodeName: 'n', localPods: pods, policy: { ingress: { isolated: [P1], anyPeer: [], classes: [] }, egress: EMPTY_DIRECTION, problems: [] } }, 'WEFT');
  t.deepEqual(
    r.chains.ipv4.map((c) => c.name),
    ['WEFT-FORWARD', 'WEFT-INGRESS', 'WEFT-INGRESS-DROP'],
  );
  t.deepEqual(r.chains.ipv6, []);
  t.deepEqual(r.chains.ipv4[1].rules, [['-m', 'comment', '--comment', 'ingress not allowed by any policy', '-j', 'WEFT-INGRESS-DROP']]);
  // Every denied packet is logged (rate-limited) before it is dropped, as iptables-save prints the rules.
  t.deepEqual(r.chains.ipv4[2].rules, [
    ['-m', 'limit', '--limit', '100/sec', '-m', 'comment', '--comment', 'ingress not allowed by any policy: logged (at most 100/s)', '-j', 'NFLOG', '--nflog-prefix', 'weft-drop ingress', '--nflog-group', '22342'],
    ['-m', 'comment', '--comment', 'ingress not allowed by any policy', '-j', 'DROP'],
  ]);
});

test('the bridge guard: sources in raw PREROUTING, destinations from FORWARD and OUTPUT, one set of pod addresses per family', (t) => {
  const r = renderIptables({ nodeName: 'n', localPods: pods, podBridge: BRIDGE }, 'WEFT');
  t.deepEqual(
    r.sets.map((s) => [s.name, s.type, s.family, s.elements]),
    [
      ['weft-pods4', 'hash:ip', 'inet', [P1, P2]],
      ['weft-pods6', 'hash:ip', 'inet6', [P1v6]],
    ],
  );
  const v6 = new Map(r.chains.ipv6.map((c) => [c.name, c]));
  t.is(v6.get('WEFT-PREROUTING')?.table, 'raw');
  t.is(v6.get('WEFT-PREROUTING')?.hook, 'PREROUTING');
  t.deepEqual(
    v6.get('WEFT-PREROUTING')?.rules.map((w) => w.filter((x) => !x.includes(' ')).join(' ')),
    [
      '-s fe80::/10 -i weft0 -p ipv6-icmp -m comment --comment -j RETURN',
      '-s ::/128 -i weft0 -p ipv6-icmp -m comment --comment -j RETURN',
      '-i weft0 -m set ! --match-set weft-pods6 src -m comment --comment -j DROP',
    ],
  );
  t.deepEqual(v6.get('WEFT-OUTPUT')?.rules, [['-o', BRIDGE, '-j', 'WEFT-TO-PODS']]);
  t.deepEqual(v6.get('WEFT-FORWARD')?.rules, [['-o', BRIDGE, '-j', 'WEFT-TO-PODS']]);
  t.is(v6.get('WEFT-TO-PODS')?.hook, undefined, 'reached from weft\'s chains only');

  const s = { nodeName: 'n', localPods: pods, podBridge: BRIDGE };
  const cases: [Packet, 'DROP' | 'continue'][] = [
    [packet(P1, P2, 'tcp', 80), 'continue'],
    [packet(P1, '10.244.0.13', 'tcp', 80), 'DROP'],
    [packet(P1, '10.244.0.13', 'tcp', 80, { established: true }), 'DROP'],
    [packet('10.0.0.2', '10.244.0.13', 'tcp', 80), 'DROP'],
    [packet(P1, '224.0.0.251', 'udp', 5353), 'continue'],
    [packet(P1, '255.255.255.255', 'udp', 67), 'continue'],
    [packet(P1v6, 'ff02::1:ff00:12', 'ipv6-icmp', 0, { icmpType: 135 }), 'continue'],
    [packet(P1v6, 'fe80::1', 'ipv6-icmp', 0, { icmpType: 136 }), 'continue'],
    [packet(P1v6, 'fd00:10:244::99', 'tcp', 80), 'DROP'],
    [packet(P1, '10.0.0.2', 'tcp', 80), 'continue'],
  ];
  for (const [p, want] of cases) t.is(forwardVerdict(r, p), want, `${p.src} -> ${p.dst}`);
  for (const [p, want] of cases) t.is(expectedForward(s, p), want, `reference: ${p.src} -> ${p.dst}`);
  const raw = (p: Packet) => traverse(r, packetFamily(p), 'raw', 'WEFT-PREROUTING', p);
  t.is(raw(packet(P1, '10.0.0.2', 'tcp', 80)), 'continue');
  t.is(raw(packet('10.244.0.99', '10.0.0.2', 'tcp', 80)), 'DROP', 'spoofed');
  t.is(raw(packet('10.0.0.2', P1, 'tcp', 80)), 'continue', 'not from the bridge');
  t.is(raw(packet('fe80::5', 'ff02::1:ff00:11', 'ipv6-icmp', 0, { in: BRIDGE, icmpType: 135 })), 'continue', 'neighbour discovery');
  t.is(raw(packet('::', 'ff02::1:ff00:11', 'ipv6-icmp', 0, { in: BRIDGE, icmpType: 135 })), 'continue', 'duplicate address detection');
  t.is(raw(packet('fe80::5', 'fd00:10:244::11', 'udp', 547, { in: BRIDGE })), 'DROP', 'link-local, not ICMPv6');
  t.is(traverse(r, 'ipv4', 'filter', 'WEFT-OUTPUT', packet(P1, '10.244.0.13', 'tcp', 80)), 'DROP', 'the node to an unknown pod');
});

test('sets: any-peer ports expanded, class ports crossed with the class CIDRs, /0 split in halves, wide ranges and "all" in local chains', (t) => {
  const policy: NodePolicy = {
    ingress: {
      isolated: [P1, P2, P1v6],
      anyPeer: [allow(P1, [{ protocol: 'udp', first: 53, last: 54 }, tcpPorts(30000, 32767)])],
      classes: [
        { key: 'a', cidrs: ['10.1.0.0/16', '10.2.0.5/32', 'fd00:1::/64'], allow: [allow(P1, [tcpPorts(80), { protocol: 'sctp', first: 9, last: 9 }]), allow(P2, 'all'), allow(P1v6, 'all')] },
        { key: 'world', cidrs: ['0.0.0.0/0'], allow: [allow(P2, [tcpPorts(8000, 8999)])] },
      ],
    },
    egress: EMPTY_DIRECTION,
    problems: [],
  };
  const r = renderIptables({ nodeName: 'n', localPods: pods, policy }, 'WEFT');
  const sets = new Map(r.sets.map((s) => [s.name, s]));
  t.deepEqual(sets.get('weft-i-iso4')?.elements, [P1, P2]);
  t.is(sets.get('weft-i-iso4')?.role, 'isolate');
  t.deepEqual(sets.get('weft-i-anyp4')?.elements, [`${P1},udp:53`, `${P1},udp:54`]);
  t.deepEqual(sets.get('weft-i-clsp4')?.elements.sort(), [`${P1},sctp:9,10.1.0.0/16`, `${P1},sctp:9,10.2.0.5`, `${P1},tcp:80,10.1.0.0/16`, `${P1},tcp:80,10.2.0.5`]);
  t.is(sets.get('weft-i-anya4'), undefined, 'no any-peer "all" allowance');
  const locals = r.sets.filter((s) => /^weft-i[46]-/.test(s.name));
  t.deepEqual(locals.map((s) => [s.type, s.family, s.elements.sort()]).sort(), [
    ['hash:net', 'inet', ['0.0.0.0/1', '128.0.0.0/1']],
    ['hash:net', 'inet', ['10.1.0.0/16', '10.2.0.5']],
    ['hash:net', 'inet6', ['fd00:1::/64']],
  ]);
  const chain = r.chains.ipv4.find((c) => c.name === 'WEFT-INGRESS')!;
  t.deepEqual(chain.rules.map((w) => w.find((x) => x.startsWith('weft-')) ?? w.join(' ')), ['weft-i-anyp4', 'weft-i-clsp4', `-g ${r.chains.ipv4.find((c) => c.name.startsWith('WEFT-IT-'))!.name}`]);
  const p1Chain = r.chains.ipv4.find((c) => c.rules.some((w) => w.join(' ').includes('of 10.244.0.11')))!;
  t.deepEqual(p1Chain.rules[0].slice(0, 6), ['-p', 'tcp', '-m', 'tcp', '--dport', '30000:32767'], 'the wide any-peer range is a rule');
  t.is(peerNets(['::/0', '10.0.0.0/8', 'fd00::5/128'], 6).join(' '), '::/1 8000::/1 fd00::5');
});

test('egress before ingress, established first, IPv6 neighbour discovery exempt; verdicts match the semantics', (t) => {
  const policy: NodePolicy = {
    egress: {
      isolated: [P1, P1v6],
      anyPeer: [allow(P1, [{ protocol: 'udp', first: 53, last: 53 }])],
      classes: [{ key: 'p2', cidrs: [`${P2}/32`], allow: [allow(P1, [tcpPorts(80, 90)])] }],
    },
    ingress: {
      isolated: [P2],
      anyPeer: [allow(P2, [tcpPorts(8000, 8999)])],
      classes: [{ key: 'p1', cidrs: [`${P1}/32`], allow: [allow(P2, [tcpPorts(80)])] }],
    },
    problems: [],
  };
  const s: NodeState = { nodeName: 'n', localPods: pods, podBridge: BRIDGE, policy };
  const r = renderIptables(s, 'WEFT');
  t.deepEqual(
    r.chains.ipv4.find((c) => c.name === 'WEFT-FORWARD')!.rules.map((w) => w[w.length - 1]),
    ['WEFT-TO-PODS', 'RETURN', 'WEFT-EGRESS', 'WEFT-INGRESS'],
  );
  t.deepEqual(
    r.chains.ipv6.find((c) => c.name === 'WEFT-FORWARD')!.rules.map((w) => w.filter((x) => !x.includes(' ')).join(' ')),
    [
      '-o weft0 -j WEFT-TO-PODS',
      '-m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment -j RETURN',
      '-p ipv6-icmp -m icmp6 --icmpv6-type 135 -m comment --comment -j RETURN',
      '-p ipv6-icmp -m icmp6 --icmpv6-type 136 -m comment --comment -j RETURN',
      '-m set --match-set weft-e-iso6 src -m comment --comment -j WEFT-EGRESS',
    ],
  );
  const cases: [Packet, 'DROP' | 'continue'][] = [
    [packet(P1, P2, 'tcp', 80), 'continue'],
    [packet(P1, P2, 'tcp', 85), 'DROP'],
    [packet(P1, P2, 'tcp', 8080), 'DROP'],
    [packet(P1, P2, 'tcp', 8080, { established: true }), 'continue'],
    [packet(P1, '10.0.0.2', 'udp', 53), 'continue'],
    [packet(P1, '10.0.0.2', 'tcp', 53), 'DROP'],
    [packet('10.0.0.2', P2, 'tcp', 8500), 'continue'],
    [packet('10.0.0.2', P2, 'tcp', 80), 'DROP'],
    [packet(P2, P1, 'tcp', 80), 'continue'],
    [packet(P1v6, 'fd00::5', 'tcp', 80), 'DROP'],
    [packet(P1v6, 'ff02::1:ff00:12', 'ipv6-icmp', 0, { icmpType: 135 }), 'continue'],
    [packet(P1v6, 'ff02::1', 'ipv6-icmp', 0, { icmpType: 128 }), 'DROP'],
  ];
  for (const [p, want] of cases) {
    t.is(forwardVerdict(r, p), want, `${p.src} -> ${p.dst} ${p.proto}/${p.dport}`);
    t.is(expectedForward(s, p), want, `reference: ${p.src} -> ${p.dst} ${p.proto}/${p.dport}`);
  }
});

test('the search tree over local addresses with wide allowances reaches each of them, and only them', (t) => {
  const locals = Array.from({ length: 37 }, (_, i) => `10.244.${i % 3}.${10 + i}`);
  const policy: NodePolicy = {
    ingress: {
      isolated: [...locals, '10.244.9.9'],
      anyPeer: [],
      classes: [{ key: 'c', cidrs: ['10.0.0.0/24'], allow: locals.map((l, i) => allow(l, i % 2 === 0 ? 'all' : [tcpPorts(2000 + i, 2100 + i)])) }],
    },
    egress: EMPTY_DIRECTION,
    problems: [],
  };
  const r = renderIptables({ nodeName: 'n', localPods: [], policy }, 'WEFT');
  const tree = r.chains.ipv4.filter((c) => c.name.startsWith('WEFT-IT-'));
  const leaves = tree.filter((c) => c.rules.some((w) => w[0] === '-d'));
  t.true(leaves.every((c) => c.rules.length <= TREE_LEAF_SIZE + 1));
  t.is(leaves.reduce((n, c) => n + c.rules.length - 1, 0), locals.length, 'each address in one leaf');
  t.is(r.chains.ipv4.filter((c) => /^WEFT-I-[0-9a-f]{8}$/.test(c.name)).length, locals.length, 'one chain per address');
  // Depth: the number of chains a packet passes, for the deepest address.
  const depth = (name: string): number => {
    const c = r.chains.ipv4.find((x) => x.name === name)!;
    const children = c.rules.map((w) => w[w.indexOf('-g') + 1]).filter((n) => n?.startsWith('WEFT-IT-'));
    return 1 + Math.max(0, ...children.map(depth));
  };
  t.true(depth(tree.find((c) => r.chains.ipv4.find((x) => x.name === 'WEFT-INGRESS')!.rules.some((w) => w.includes(c.name)))!.name) <= Math.ceil(Math.log2(locals.length / TREE_LEAF_SIZE)) + 1);
  const s: NodeState = { nodeName: 'n', localPods: [], policy };
  locals.forEach((l, i) => {
    const port = i % 2 === 0 ? 9 : 2050 + i;
    t.is(forwardVerdict(r, packet('10.0.0.7', l, 'tcp', port)), 'continue', `${l} reached`);
    t.is(forwardVerdict(r, packet('10.0.1.7', l, 'tcp', port)), 'DROP', `${l}: not from its class`);
    t.is(expectedForward(s, packet('10.0.0.7', l, 'tcp', port)), 'continue');
  });
  t.is(forwardVerdict(r, packet('10.0.0.7', '10.244.9.9', 'tcp', 9)), 'DROP', 'isolated, with nothing allowed');
});

// ---- random policies ----

/** A tiny deterministic generator, so that a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const LOCALS = ['10.244.0.2', '10.244.0.3', '10.244.0.4', '10.244.0.5', '10.244.0.6', 'fd00:10:244::2', 'fd00:10:244::3', 'fd00:10:244::4'];
/** Disjoint peer blocks (classes take some of them); remote addresses fall inside or outside. */
const BLOCKS = ['10.1.0.0/16', '10.2.0.0/24', '10.2.1.0/24', '10.3.0.1/32', '10.3.0.2/32', '10.244.0.2/32', '10.244.0.3/32', '10.244.0.4/31', 'fd00:1::/64', 'fd00:10:244::2/128', 'fd00:10:244::4/126'];
const PEERS = ['10.1.2.3', '10.2.0.9', '10.2.1.9', '10.3.0.1', '10.3.0.2', '10.9.9.9', 'fd00:1::5', 'fd00:2::5', ...LOCALS];
const PORTS = [53, 80, 81, 85, 443, 8080, 9000];

function randomRanges(r: () => number): Allowance['ports'] {
  if (r() < 0.2) return 'all';
  const out: PortRange[] = [];
  for (const protocol of ['tcp', 'udp', 'sctp'] as const) {
    if (r() < 0.5) continue;
    const choice = r();
    if (choice < 0.4) out.push({ protocol, first: 80, last: 80 });
    else if (choice < 0.6) out.push({ protocol, first: 80, last: 90 });
    else if (choice < 0.8) out.push({ protocol, first: 8000, last: 8999 });
    else out.push({ protocol, first: 1, last: 65535 }, { protocol, first: 53, last: 53 }); // overlapping on purpose: a union
  }
  return out;
}

function randomDirection(r: () => number): DirectionPolicy {
  const isolated = LOCALS.filter(() => r() < 0.5);
  const anyPeer = LOCALS.filter(() => r() < 0.2).map((l) => allow(l, randomRanges(r)));
  const classes: PeerClass[] = [];
  const blocks = BLOCKS.filter(() => r() < 0.7);
  if (r() < 0.15) blocks.splice(0, blocks.length, '0.0.0.0/0', 'fd00:1::/64');
  while (blocks.length > 0) {
    const take = blocks.splice(0, 1 + Math.floor(r() * 3));
    classes.push({ key: take.join(' '), cidrs: take, allow: LOCALS.filter(() => r() < 0.4).map((l) => allow(l, randomRanges(r))) });
  }
  return { isolated, anyPeer, classes };
}

test('random policies: the rendered rules decide every packet as the NodePolicy semantics do', (t) => {
  let packets = 0;
  const orientations = new Set<string>();
  for (let seed = 1; seed <= 150; seed++) {
    const r = rng(seed);
    const policy: NodePolicy = { ingress: randomDirection(r), egress: randomDirection(r), problems: [] };
    const localPods = LOCALS.filter(() => r() < 0.8).map((ip, i) => ({ namespace: 'x', name: `p${i}`, ips: [ip] }));
    const s: NodeState = { nodeName: 'n', localPods, podBridge: r() < 0.5 ? BRIDGE : undefined, policy };
    const rendering = renderIptables(s, 'WEFT');
    // Class allowances in both orientations (class-elements.ts) are met along the way.
    for (const set of rendering.sets) if (/-cls[pr][46]$/.test(set.name)) orientations.add(set.name.slice(-2, -1));
    for (let i = 0; i < 60; i++) {
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
      const src = pick(PEERS);
      const dst = pick(PEERS.filter((p) => addr(p).family === addr(src).family && p !== src));
      const v6 = addr(src).family === 6;
      const proto = pick<Proto>(['tcp', 'udp', 'sctp', v6 ? 'ipv6-icmp' : 'icmp']);
      const p = packet(src, dst, proto, proto.includes('icmp') ? 0 : pick(PORTS), {
        established: r() < 0.1,
        ...(proto === 'ipv6-icmp' ? { icmpType: pick([128, 135, 136]) } : {}),
      });
      const want = expectedForward(s, p);
      const got = forwardVerdict(rendering, p);
      if (got !== want) {
        t.fail(`seed ${seed}: ${JSON.stringify(p)}: rendered ${got}, semantics ${want}`);
        return;
      }
      packets++;
    }
  }
  t.is(packets, 150 * 60);
  t.deepEqual([...orientations].sort(), ['p', 'r'], 'class ports by local (clsp) and by peer (clsr)');
});

// ---- size ----

test('a large node: element and rule counts stay proportional to what policies allow, not to their product with the cluster', (t) => {
  // 100 local pods, 1,000 peer classes of 5 pods each (5,000 remote pods), plus 20 ipBlock classes.
  // Each local pod is isolated for ingress and allowed from 10 classes: 8 on one or two single
  // ports, 1 on every port, 1 on a wide range (endPort); every pod allows any peer on 8080.
  const locals = Array.from({ length: 100 }, (_, i) => `10.244.0.${i + 2}`);
  const classes: PeerClass[] = Array.from({ length: 1000 }, (_, c) => ({
    key: `pods:${c}`,
    cidrs: Array.from({ length: 5 }, (_, k) => `10.${100 + Math.floor(c / 50)}.${c % 50}.${k + 1}/32`),
    allow: [],
  }));
  for (let b = 0; b < 20; b++) classes.push({ key: `block:${b}`, cidrs: [`172.${16 + b}.0.0/16`], allow: [] });
  locals.forEach((l, i) => {
    for (let k = 0; k < 10; k++) {
      const c = classes[(i * 10 + k) % classes.length];
      const ports: Allowance['ports'] = k === 8 ? 'all' : k === 9 ? [tcpPorts(30000, 32767)] : k % 2 === 0 ? [tcpPorts(80)] : [tcpPorts(80), tcpPorts(443)];
      c.allow.push(allow(l, ports));
    }
  });
  const policy: NodePolicy = { ingress: { isolated: locals, anyPeer: locals.map((l) => allow(l, [tcpPorts(8080)])), classes }, egress: EMPTY_DIRECTION, problems: [] };
  const r = renderIptables({ nodeName: 'n', localPods: locals.map((ip, i) => ({ namespace: 'x', name: `p${i}`, ips: [ip] })), podBridge: BRIDGE, policy }, 'WEFT');
  const size = (name: string) => r.sets.find((s) => s.name === name)?.elements.length ?? 0;
  const localSets = r.sets.filter((s) => /^weft-i4-/.test(s.name));
  const figures = {
    sets: r.sets.length,
    elements: r.sets.reduce((n, s) => n + s.elements.length, 0),
    isolated: size('weft-i-iso4'),
    anyPeerPorts: size('weft-i-anyp4'),
    classPorts: size('weft-i-clsp4'),
    localSets: localSets.length,
    localSetElements: localSets.reduce((n, s) => n + s.elements.length, 0),
    chains: r.chains.ipv4.length,
    rules: r.chains.ipv4.reduce((n, c) => n + c.rules.length, 0),
  };
  t.log(JSON.stringify(figures));
  // (4 single-port classes x 1 + 4 two-port classes x 2) x 5 CIDRs per local pod.
  t.is(figures.classPorts, 100 * (4 * 1 + 4 * 2) * 5);
  t.is(figures.anyPeerPorts, 100);
  t.is(figures.localSets, 200, 'per local pod: one "all" set, one set for its wide range');
  t.is(figures.localSetElements, 100 * 2 * 5);
  t.true(32767 - 30000 + 1 > EXPANDED_RANGE_MAX, 'the endPort range takes the rule path');
  // Chains: PREROUTING, FORWARD, INGRESS, TO-PODS, OUTPUT, 100 local chains, the tree (leaves
  // hold 3 or 4 addresses, internal nodes are one fewer than leaves).
  t.true(figures.chains <= 5 + 100 + 2 * Math.ceil(100 / (Math.floor(TREE_LEAF_SIZE / 2) + 1)));
});
