/**
 * The iptables backend's NetworkPolicy and bridge guard, with real traffic: a node namespace
 * with the pod bridge (netfilter calls on), three pods on it (p1 and p2 known to the agent, p3
 * not) and a remote host routed through the node, IPv4 and IPv6. Hand-built NodeStates, so this
 * checks the rendering's semantics (the same as the nftables backend's), not the compiler's.
 */
import test from 'ava';
import { IptablesBackend } from '../../agent/backend/iptables/backend';
import { EXPANDED_RANGE_MAX } from '../../agent/backend/iptables/render-policy';
import type { NodeState } from '../../agent/dataplane/node-state';
import { EMPTY_DIRECTION, type Allowance, type NodePolicy, type PortRange } from '../../agent/dataplane/policy-state';
import { IpsetTransaction } from '../../kernel/ipset';
import { withNetlink } from '../../kernel/netlink';
import { ping } from '../../lab/probe';
import { expectReach, ipsetSave, known, observed, state, tcp, topology, udp, WIDE } from '../helpers/iptables-pod-traffic';
import { GATEWAY, P1, P2, P3, REMOTE } from '../helpers/pod-bridge-topology';

test('without policy: known pods talk to each other, the node and the world; an unknown pod and a spoofed source get nothing through', async (t) => {
  const topo = await topology(t);
  const { p1, p2, p3 } = topo.pods;
  const first = await topo.backend.apply(state());
  t.true(first.changes > 0);
  t.is((await topo.backend.apply(state(), { fromKernel: true })).changes, 0, 'the kernel lists back what was written');
  await expectReach(t, p1, [
    ['pod to pod on the bridge', tcp(P2.v4, 80), true],
    ['pod to pod on the bridge, IPv6', tcp(P2.v6, 80), true],
    ['pod to pod, UDP', udp(P2.v4, 81), true],
    ['pod to a remote host', tcp(REMOTE.v4, 80), true],
    ['pod to a remote host, IPv6', tcp(REMOTE.v6, 80), true],
    ['pod to its node', tcp(GATEWAY.v4, 80), true],
    ['a pod to an unknown pod', tcp(P3.v4, 80), false],
    ['a pod to an unknown pod, IPv6', tcp(P3.v6, 80), false],
  ]);
  await expectReach(t, p3, [
    ['unknown pod to a pod', tcp(P1.v4, 80), false],
    ['unknown pod to a pod, IPv6', tcp(P1.v6, 80), false],
    ['unknown pod to the world', tcp(REMOTE.v4, 80), false],
    ['unknown pod to its node', tcp(GATEWAY.v4, 80), false],
  ]);
  await expectReach(t, topo.remote, [
    ['remote host to a pod', tcp(P2.v4, 81), true],
    ['remote host to a pod, IPv6', tcp(P2.v6, 81), true],
    ['remote host to an unknown pod', tcp(P3.v4, 80), false],
  ]);
  await expectReach(t, topo.node, [
    ['the node to its pod', tcp(P1.v4, 80), true],
    ['the node to an unknown pod', tcp(P3.v4, 80), false],
    ['the node to an unknown pod, IPv6', tcp(P3.v6, 80), false],
  ]);

  // p2 takes addresses of its own choosing: nothing it sends from them gets through.
  await withNetlink(p2, async (nl) => {
    await nl.addresses.add('eth0', '10.244.0.99/32');
    await nl.addresses.add('eth0', 'fd00:10:244::99/128', { noDad: true });
  });
  await expectReach(t, p2, [
    ['spoofed source to a pod', tcp(P1.v4, 80, '10.244.0.99'), false],
    ['spoofed source to the world', tcp(REMOTE.v4, 80, '10.244.0.99'), false],
    ['spoofed source to its node', tcp(GATEWAY.v4, 80, '10.244.0.99'), false],
    ['spoofed IPv6 source to a pod', tcp(P1.v6, 80, 'fd00:10:244::99'), false],
    ['the same pod from its own address', tcp(P1.v4, 80, P2.v4), true],
    ['the same pod from its own IPv6 address', tcp(P1.v6, 80, P2.v6), true],
  ]);

  // The agent learns of p3: it is let through at once, and only its addresses were added.
  const withP3 = { ...state(), localPods: [...known, { namespace: 'x', name: 'p3', ips: [P3.v4, P3.v6] }] };
  t.is((await topo.backend.apply(withP3)).changes, 2, 'one element per family in the pod sets');
  await expectReach(t, p3, [
    ['p3 to a pod', tcp(P1.v4, 80), true],
    ['p3 to a pod, IPv6', tcp(P1.v6, 80), true],
    ['p3 to the world', tcp(REMOTE.v4, 80), true],
  ]);
  await expectReach(t, p1, [['a pod to p3', tcp(P3.v4, 80), true]]);

  // No bridge guard, no policy: every chain, jump and set weft made is gone.
  await topo.backend.apply({ nodeName: 'n1', localPods: known });
  for (const ipt of [topo.iptables.ipv4, topo.iptables.ipv6]) {
    for (const table of ['raw', 'filter'] as const) {
      const saved = await ipt.save(table);
      t.deepEqual(saved.rules.map((r) => r.text), [], `${ipt.family} ${table}: no rules`);
      t.deepEqual(saved.chains.filter((c) => !c.builtin).map((c) => c.name), [], `${ipt.family} ${table}: no chains`);
    }
  }
  t.is(await ipsetSave(topo.node), '', 'no sets');
});

/** p2 isolated for ingress, with every kind of allowance. */
const ingressPolicy: NodePolicy = {
  ingress: {
    isolated: [P2.v4, P2.v6],
    anyPeer: [
      {
        localIp: P2.v4,
        ports: [
          { protocol: 'udp', first: 81, last: 81 },
          { protocol: 'tcp', ...WIDE },
        ],
        policies: ['x/any'],
      },
    ],
    classes: [
      {
        key: 'pods:x/p1',
        cidrs: [`${P1.v4}/32`, `${P1.v6}/128`],
        allow: [
          { localIp: P2.v4, ports: [{ protocol: 'tcp', first: 80, last: 80 }], policies: ['x/web'] },
          { localIp: P2.v6, ports: [{ protocol: 'tcp', first: 80, last: 80 }], policies: ['x/web'] },
        ],
      },
      {
        key: 'block:remote',
        cidrs: ['10.0.0.0/24', 'fd00:0:1::/64'],
        allow: [
          { localIp: P2.v4, ports: 'all', policies: ['x/remote'] },
          { localIp: P2.v6, ports: [{ protocol: 'tcp', ...WIDE }], policies: ['x/remote'] },
        ],
      },
    ],
  },
  egress: EMPTY_DIRECTION,
  problems: [],
};

test('ingress: any-peer ports and wide ranges, class ports, class "all" (ICMP too), class wide ranges over IPv6, replies, the node always', async (t) => {
  t.true(WIDE.last - WIDE.first + 1 > EXPANDED_RANGE_MAX, 'the wide range takes the rule path');
  const topo = await topology(t);
  const { p1, p2 } = topo.pods;
  t.true((await topo.backend.apply(state(ingressPolicy))).changes > 0);
  t.is((await topo.backend.apply(state(ingressPolicy), { fromKernel: true })).changes, 0, 'the kernel lists back what was written');
  await expectReach(t, p1, [
    ['class port', tcp(P2.v4, 80), true],
    ['class port, IPv6', tcp(P2.v6, 80), true],
    ['TCP 81 is allowed to nobody', tcp(P2.v4, 81), false],
    ['UDP 81 from any peer', udp(P2.v4, 81), true],
    ['a wide range from any peer', tcp(P2.v4, 8080), true],
    ['UDP in the wide range: the range is TCP', udp(P2.v4, 8080), false],
    ['a port nobody allows', tcp(P2.v4, 9000), false],
    ['IPv6 81: the any-peer allowances are IPv4 only', tcp(P2.v6, 81), false],
    ['IPv6 wide range: allowed to the remote class only', tcp(P2.v6, 8080), false],
    ['p1 itself is not isolated', tcp(P1.v4, 9000), true],
  ]);
  await expectReach(t, topo.remote, [
    ['all traffic from the remote class: TCP', tcp(P2.v4, 9000), true],
    ['all traffic from the remote class: UDP', udp(P2.v4, 8080), true],
    ['IPv6 wide class range', tcp(P2.v6, 8080), true],
    ['IPv6: port 80 is for p1 only', tcp(P2.v6, 80), false],
  ]);
  t.true(await ping(topo.remote, P2.v4), 'all traffic includes ICMP');
  t.false(await ping(p1, P2.v4), 'p1 is allowed TCP 80 only');
  await expectReach(t, topo.node, [
    ['the node reaches its pods whatever the policy', tcp(P2.v4, 9000), true],
    ['the node, IPv6', tcp(P2.v6, 9000), true],
  ]);
  await expectReach(t, p2, [
    ['p2 is not isolated for egress; the replies from p1 pass', tcp(P1.v4, 81), true],
    ['and over IPv6', tcp(P1.v6, 81), true],
    ['p2 to its node', tcp(GATEWAY.v4, 9000), true],
  ]);
});

/** p1 isolated for egress, IPv4 and IPv6, on top of p2's ingress isolation. */
const bothPolicy: NodePolicy = {
  ...ingressPolicy,
  egress: {
    isolated: [P1.v4, P1.v6],
    anyPeer: [],
    classes: [
      { key: 'block:remote4', cidrs: ['10.0.0.0/24'], allow: [{ localIp: P1.v4, ports: 'all', policies: ['x/out'] }] },
      {
        key: 'pods:x/p2',
        cidrs: [`${P2.v4}/32`, `${P2.v6}/128`],
        allow: [
          { localIp: P1.v4, ports: [{ protocol: 'tcp', first: 80, last: 90 }], policies: ['x/out'] },
          { localIp: P1.v6, ports: [{ protocol: 'tcp', first: 80, last: 80 }], policies: ['x/out'] },
        ],
      },
    ],
  },
};

for (const binary of ['iptables', 'iptables-legacy'] as const) {
  test(`${binary}: egress, then ingress for pods on one node; the node is always reachable; IPv6 neighbour discovery between isolated pods`, async (t) => {
    const topo = await topology(t, binary);
    const { p1 } = topo.pods;
    await topo.backend.apply(state(bothPolicy));
    t.is((await topo.backend.apply(state(bothPolicy), { fromKernel: true })).changes, 0);
    await expectReach(t, p1, [
      ['all traffic to the remote subnet: TCP', tcp(REMOTE.v4, 81), true],
      ['all traffic to the remote subnet: UDP', udp(REMOTE.v4, 8080), true],
      ['allowed by p1\'s egress (80-90) and by p2\'s ingress (80)', tcp(P2.v4, 80), true],
      ['egress allows 81, p2\'s ingress does not', tcp(P2.v4, 81), false],
      ['p2\'s ingress allows 8080 from anyone, p1\'s egress does not', tcp(P2.v4, 8080), false],
      ['IPv6 to p2: both allow 80', tcp(P2.v6, 80), true],
      ['IPv6 to p2: egress does not allow 8080', tcp(P2.v6, 8080), false],
      ['IPv6 to the remote host: in no egress class', tcp(REMOTE.v6, 80), false],
      ['an isolated pod still reaches its node', tcp(GATEWAY.v4, 9000), true],
      ['and over IPv6', tcp(GATEWAY.v6, 9000), true],
    ]);
    t.true(await ping(p1, REMOTE.v4), 'all traffic includes ICMP');
    t.false(await ping(p1, REMOTE.v6), 'no IPv6 egress to the remote host');
    await expectReach(t, topo.remote, [
      ['p1 is not isolated for ingress', tcp(P1.v4, 80), true],
      ['p2 is, and the remote class may send everything', tcp(P2.v4, 81), true],
    ]);
  });
}

/**
 * p1 and p2 isolated both ways. The remote host's class may reach both on TCP 81 and p2 alone
 * on 80 (ingress), and both may reach it on 9000 (egress). A class port every isolated pod is
 * allowed is written peer first (class-elements.ts): (remote, tcp:81, a network of the pods).
 */
const byPeerPolicy: NodePolicy = {
  ingress: {
    isolated: [P1.v4, P2.v4, P1.v6, P2.v6],
    anyPeer: [],
    classes: [
      {
        key: 'pods:remote',
        cidrs: [`${REMOTE.v4}/32`, `${REMOTE.v6}/128`],
        allow: [
          { localIp: P1.v4, ports: [{ protocol: 'tcp', first: 81, last: 81 }], policies: ['x/web'] },
          { localIp: P2.v4, ports: [{ protocol: 'tcp', first: 80, last: 81 }], policies: ['x/web'] },
          { localIp: P1.v6, ports: [{ protocol: 'tcp', first: 81, last: 81 }], policies: ['x/web'] },
          { localIp: P2.v6, ports: [{ protocol: 'tcp', first: 81, last: 81 }], policies: ['x/web'] },
        ],
      },
    ],
  },
  egress: {
    isolated: [P1.v4, P2.v4],
    anyPeer: [],
    classes: [
      {
        key: 'pods:remote',
        cidrs: [`${REMOTE.v4}/32`],
        allow: [
          { localIp: P1.v4, ports: [{ protocol: 'tcp', first: 9000, last: 9000 }], policies: ['x/out'] },
          { localIp: P2.v4, ports: [{ protocol: 'tcp', first: 9000, last: 9000 }], policies: ['x/out'] },
        ],
      },
    ],
  },
  problems: [],
};

test('class ports written peer first (peer, port, network of local pods): both directions, both families', async (t) => {
  const topo = await topology(t);
  const { p1, p2 } = topo.pods;
  await topo.backend.apply(state(byPeerPolicy));
  t.is((await topo.backend.apply(state(byPeerPolicy), { fromKernel: true })).changes, 0, 'the kernel lists back what was written');
  const sets = await ipsetSave(topo.node);
  t.regex(sets, /add weft-i-clsr4 10\.0\.0\.2,tcp:81,0\.0\.0\.0\/1/);
  t.regex(sets, /add weft-i-clsr6 fd00:0:1::2,tcp:81,8000::\/1/);
  t.regex(sets, /add weft-e-clsr4 10\.0\.0\.2,tcp:9000,0\.0\.0\.0\/1/);
  t.regex(sets, /add weft-i-clsp4 10\.244\.0\.12,tcp:80,10\.0\.0\.2/, 'one local pod on 80: by local');
  await expectReach(t, topo.remote, [
    ['81 to p1', tcp(P1.v4, 81), true],
    ['81 to p2', tcp(P2.v4, 81), true],
    ['81 to p1, IPv6', tcp(P1.v6, 81), true],
    ['80 to p2', tcp(P2.v4, 80), true],
    ['80 to p1: p2 alone', tcp(P1.v4, 80), false],
    ['80 to p2, IPv6: not allowed', tcp(P2.v6, 80), false],
    ['8080 to p1', tcp(P1.v4, 8080), false],
  ]);
  await expectReach(t, p1, [
    ['egress to the remote host on 9000', tcp(REMOTE.v4, 9000), true],
    ['egress to the remote host on 81', tcp(REMOTE.v4, 81), false],
    ['egress to p2: not in the class', tcp(P2.v4, 81), false],
  ]);
  await expectReach(t, p2, [['egress of p2 on 9000', tcp(REMOTE.v4, 9000), true]]);
});

test('a change touches only what changed; a new agent adopts the sets and chains; removing a direction leaves the other alone', async (t) => {
  const topo = await topology(t);
  const { p1 } = topo.pods;
  await topo.backend.apply(state(bothPolicy));
  const setHeaders = async () => new Map((await ipsetSave(topo.node)).split('\n').filter((l) => l.startsWith('create ')).map((l) => [l.split(' ')[1], l]));
  const before = await setHeaders();

  // A new agent (nothing cached) finds everything in place.
  const restarted = new IptablesBackend([topo.iptables.ipv4, topo.iptables.ipv6], 'WEFT', topo.ipset);
  t.is((await restarted.apply(state(bothPolicy))).changes, 0, 'a restart writes nothing');

  // One more port for p1's egress to p2: one set element, nothing else.
  const morePorts: NodePolicy = structuredClone(bothPolicy);
  const toP2 = morePorts.egress.classes[1].allow[0];
  toP2.ports = [...(toP2.ports as { protocol: 'tcp'; first: number; last: number }[]), { protocol: 'tcp', first: 443, last: 443 }];
  t.is((await restarted.apply(state(morePorts))).changes, 1, 'one element added');
  t.true(/add weft-e-clsp4 10\.244\.0\.11,tcp:443,10\.244\.0\.12/.test(await ipsetSave(topo.node)));
  t.deepEqual(await setHeaders(), before, 'no set was created again (the hash seeds are the same)');

  // Count a few packets through the ingress chain, then drop p1's egress policy: the ingress
  // chain is not rewritten (its counters stay), the egress chains and sets go.
  await expectReach(t, p1, [['counted', tcp(P2.v4, 80), true]]);
  const ingressCounters = async () =>
    (await topo.iptables.ipv4.save('filter')).rules
      .filter((r) => r.chain === 'WEFT-INGRESS')
      .map((r) => r.counter?.packets ?? 0);
  const counted = await ingressCounters();
  t.true(counted.some((n) => n > 0));
  const change = await restarted.apply(state(ingressPolicy));
  t.true(change.changes > 0);
  t.deepEqual(await ingressCounters(), counted, 'the ingress chain was not rewritten');
  const filter = await topo.iptables.ipv4.save('filter');
  t.false(filter.chains.some((c) => /^WEFT-E/.test(c.name)), 'no egress chains are left');
  const sets = await ipsetSave(topo.node);
  t.false(/weft-e/.test(sets), 'no egress sets are left');
  t.true(sets.includes('create weft-i-clsp4'), 'the ingress sets stay');
  await expectReach(t, p1, [['p1 is open again', tcp(REMOTE.v6, 80), true]]);
});

test('sets left in a bad shape are repaired: too small (maxelem, rebuilt and swapped in), stray elements, leftovers; another prefix left alone', async (t) => {
  const topo = await topology(t);
  const { p1 } = topo.pods;
  // A previous agent left: the class port set with maxelem 1 and a wrong element, an egress set
  // nothing wants any more, and a temporary set of an interrupted rebuild.
  await topo.ipset.run(
    new IpsetTransaction()
      .create('weft-i-clsp4', { type: 'hash:ip,port,net', family: 'inet', maxelem: 1 })
      .add('weft-i-clsp4', '10.244.0.12,tcp:9000,10.244.0.11')
      .create('weft-e-anya4', { type: 'hash:ip', family: 'inet' })
      .create('weft-t-0123456789', { type: 'hash:ip', family: 'inet' })
      .create('weftx-pods4', { type: 'hash:ip', family: 'inet' }),
  );
  await topo.backend.apply(state(ingressPolicy));
  const sets = await ipsetSave(topo.node);
  t.regex(sets, /create weft-i-clsp4 hash:ip,port,net family inet hashsize \d+ maxelem 65536/);
  t.regex(sets, /add weft-i-clsp4 10\.244\.0\.12,tcp:80,10\.244\.0\.11/);
  t.notRegex(sets, /tcp:9000/, 'the stray element is gone');
  t.notRegex(sets, /weft-e-anya4|weft-t-/, 'leftovers are gone');
  t.regex(sets, /create weftx-pods4/, 'a set of another prefix is not weft\'s');
  t.is((await topo.backend.apply(state(ingressPolicy), { fromKernel: true })).changes, 0);
  await expectReach(t, p1, [
    ['class port', tcp(P2.v4, 80), true],
    ['the stray element allowed nothing', tcp(P2.v4, 9000), false],
  ]);
});

test('every state a sync passes through: a new pod under deny-all is never reachable; a pod being isolated keeps what it keeps allowed', async (t) => {
  const topo = await topology(t);
  const { p1 } = topo.pods;
  await topo.backend.apply(state());
  // p3 arrives isolated with nothing allowed; p2 becomes isolated, allowing p1 on TCP 80 only.
  const next: NodeState = {
    ...state({
      ingress: {
        isolated: [P2.v4, P2.v6, P3.v4, P3.v6],
        anyPeer: [],
        classes: [{ key: 'pods:x/p1', cidrs: [`${P1.v4}/32`, `${P1.v6}/128`], allow: allow4and6(P2, [{ protocol: 'tcp', first: 80, last: 80 }]) }],
      },
      egress: EMPTY_DIRECTION,
      problems: [],
    }),
    localPods: [...known, { namespace: 'x', name: 'p3', ips: [P3.v4, P3.v6] }],
  };
  const seen: string[] = [];
  const backend = observed(topo, async (step) => {
    seen.push(step);
    await expectReach(t, p1, [
      [`${step}: p1 to p2:80, allowed before and after`, tcp(P2.v4, 80), true],
      [`${step}: the same over IPv6`, tcp(P2.v6, 80), true],
      [`${step}: p1 to p3, unknown before, isolated after`, tcp(P3.v4, 80), false],
      [`${step}: the same over IPv6`, tcp(P3.v6, 80), false],
    ]);
    await expectReach(t, topo.remote, [[`${step}: the remote host to p3`, tcp(P3.v4, 80), false]]);
  });
  t.true((await backend.apply(next)).changes > 0);
  t.true(seen.length >= 4, `observed ${seen.join(', ')}`);
  await expectReach(t, p1, [
    ['done: p2 allows 80 only', tcp(P2.v4, 81), false],
    ['done: p3 allows nothing', tcp(P3.v4, 80), false],
  ]);
  await expectReach(t, topo.node, [['done: p3 is known, its node reaches it', tcp(P3.v4, 80), true]]);
});

function allow4and6(pod: { v4: string; v6: string }, ports: PortRange[]): Allowance[] {
  return [pod.v4, pod.v6].map((localIp) => ({ localIp, ports, policies: ['x/p'] }));
}
