/**
 * The reference evaluator with ClusterNetworkPolicy tiers, case by case on the x/y/z model:
 * Admin over NetworkPolicy, Pass to NetworkPolicy, Baseline only where NetworkPolicy does not
 * isolate, priorities and ties, named ports, port ranges, networks, nodes, both directions,
 * hairpin, pods without objects, fail-closed peers, and what a verdict says.
 */
import test from 'ava';
import { ObjectCache } from '../../agent/cache';
import { policyInputFromCache } from '../../agent/compile/policy';
import type { KubeObject } from '../../agent/objects';
import { PolicyEvaluator } from '../../policy/evaluate';
import { networkPolicy } from '../integration/netpol-fixture';
import { checkTables, clusterPolicy, evaluatorOf, ipOf, ip6Of, modelObjects, nodeIp, ns, Reachability } from '../helpers/cluster-policy-model';

const x = { subject: ns('x') };
const denyAllIngress = (namespace: string) => networkPolicy(namespace, 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] });
const allowFrom = (namespace: string, from: string) =>
  networkPolicy(namespace, `allow-${from}`, { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: from } } }] }] });
const tcp = (src: string, dst: string, port = 80) => ({ src: ipOf(src), dst: ipOf(dst), protocol: 'tcp', port });
const TCP80 = [{ protocol: 'tcp' as const, port: 80 }];

test('Admin Accept lets in what a NetworkPolicy denies; Admin Deny keeps out what a NetworkPolicy allows', (t) => {
  const accept = clusterPolicy('accept-y', 'Admin', 10, { ...x, ingress: [{ action: 'Accept', from: [ns('y')] }] });
  const denyAll = evaluatorOf([...modelObjects(), denyAllIngress('x'), accept]);
  t.deepEqual(checkTables(denyAll, new Reachability(true).expectPeer({}, { namespace: 'x' }, false).expectPeer({ namespace: 'y' }, { namespace: 'x' }, true)), []);
  const v = denyAll.explain(tcp('y/a', 'x/a'));
  t.like(v.ingress, { allowed: true, isolated: true, decidedBy: 'admin', admin: { tier: 'Admin', policy: 'accept-y', priority: 10, rule: 0, action: 'Accept', ties: [] } });
  t.is(v.ingress.reason, 'Admin priority 10 accept-y ingress rule 1: Accept');
  t.deepEqual(v.ingress.policies, ['x/deny-all'], "NetworkPolicy's view is still there");

  const deny = clusterPolicy('deny-y', 'Admin', 10, { ...x, ingress: [{ action: 'Deny', from: [ns('y')] }] });
  const allowY = evaluatorOf([...modelObjects(), allowFrom('x', 'y'), deny]);
  t.deepEqual(checkTables(allowY, new Reachability(true).expectPeer({}, { namespace: 'x' }, false)), [], 'the NetworkPolicy admits only y, the Admin tier denies y');
  t.like(allowY.explain(tcp('y/a', 'x/a')).ingress, { allowed: false, decidedBy: 'admin', rules: [{ policy: 'x/allow-y', rule: 0 }] });
});

test('Pass hands the packet to NetworkPolicy (which decides if it isolates), else to the Baseline tier', (t) => {
  const pass = clusterPolicy('pass-y', 'Admin', 10, { ...x, ingress: [{ action: 'Pass', from: [ns('y')] }, { action: 'Accept', from: [ns('y')] }] });
  const baselineDeny = clusterPolicy('default', 'Baseline', 10, { ...x, ingress: [{ action: 'Deny', from: [ns('y')] }] });
  const isolated = evaluatorOf([...modelObjects(), denyAllIngress('x'), pass, baselineDeny]);
  const v = isolated.explain(tcp('y/a', 'x/a'));
  t.like(v.ingress, { allowed: false, decidedBy: 'networkPolicy', admin: { action: 'Pass' }, isolated: true });
  t.false('baseline' in v.ingress, 'the Baseline tier is not consulted for an isolated pod');
  t.is(v.ingress.reason, 'Admin priority 10 pass-y ingress rule 1: Pass, then NetworkPolicy: isolated by x/deny-all and no rule admits the peer and port');
  const open = evaluatorOf([...modelObjects(), pass, baselineDeny]);
  t.like(open.explain(tcp('y/a', 'x/a')).ingress, { allowed: false, decidedBy: 'baseline', admin: { action: 'Pass' }, baseline: { tier: 'Baseline', policy: 'default', action: 'Deny' } });
  t.is(open.explain(tcp('y/a', 'x/a')).ingress.reason, 'Admin priority 10 pass-y ingress rule 1: Pass, then no policy selects x/a for ingress: not isolated, then Baseline priority 10 default ingress rule 1: Deny');
});

test('the Baseline tier applies only to pods no NetworkPolicy isolates for that direction', (t) => {
  const baseline = clusterPolicy('default-deny', 'Baseline', 0, { subject: { namespaces: {} }, ingress: [{ action: 'Deny', from: [ns('z')] }] });
  const onlyA = networkPolicy('y', 'a-from-z', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }] });
  const e = evaluatorOf([...modelObjects(), onlyA, baseline]);
  // y/a: isolated by its NetworkPolicy (z only); every other pod: the Baseline Deny of z.
  const expected = new Reachability(true).expectPeer({ namespace: 'z' }, {}, false).expectPeer({}, { namespace: 'y', pod: 'a' }, false).expectPeer({ namespace: 'z' }, { namespace: 'y', pod: 'a' }, true);
  t.deepEqual(checkTables(e, expected), []);
  t.like(e.explain(tcp('z/a', 'y/a')).ingress, { allowed: true, decidedBy: 'networkPolicy' });
  t.like(e.explain(tcp('z/a', 'y/b')).ingress, { allowed: false, decidedBy: 'baseline' });
  t.like(e.explain(tcp('z/a', 'y/b')).egress, { allowed: true, decidedBy: 'default' }, 'egress from z: nothing applies');
});

test('priorities: lower first within a tier, Admin before Baseline whatever the numbers; equal priorities by name, and said to be a tie', (t) => {
  const deny = (name: string, priority: number, tier: 'Admin' | 'Baseline' = 'Admin') => clusterPolicy(name, tier, priority, { ...x, ingress: [{ action: 'Deny', from: [ns('y')] }] });
  const accept = (name: string, priority: number, tier: 'Admin' | 'Baseline' = 'Admin') => clusterPolicy(name, tier, priority, { ...x, ingress: [{ action: 'Accept', from: [ns('y')] }] });
  const verdict = (...policies: KubeObject[]) => evaluatorOf([...modelObjects(), ...policies]).explain(tcp('y/b', 'x/c')).ingress;
  t.like(verdict(deny('d', 20), accept('a', 10)), { allowed: true, admin: { policy: 'a', priority: 10 } });
  t.like(verdict(deny('d', 10), accept('a', 20)), { allowed: false, admin: { policy: 'd', priority: 10 } });
  t.like(verdict(deny('d', 0, 'Baseline'), accept('a', 1000)), { allowed: true, decidedBy: 'admin' }, 'Admin 1000 before Baseline 0');
  t.like(verdict(deny('d', 5, 'Baseline'), accept('a', 9, 'Baseline')), { allowed: false, decidedBy: 'baseline', baseline: { policy: 'd' } });
  const tie = verdict(deny('b-deny', 10), accept('a-accept', 10));
  t.like(tie, { allowed: true, admin: { policy: 'a-accept', ties: [{ policy: 'b-deny', rule: 0, action: 'Deny' }] } });
  t.regex(tie.reason, /a tie: b-deny ingress rule 1: Deny at the same priority; upstream leaves the order to the implementation, weft takes policies by name/);
  t.deepEqual(verdict(deny('b', 10), deny('a', 10)).admin?.ties, [], 'the same action at the same priority is no tie');
  t.like(verdict(deny('a', 10), accept('b', 11)), { admin: { policy: 'a', ties: [] } }, 'another priority is not a tie');
});

test("destinationNamedPort: a pod's own port of that name (x/b swaps them), on the destination for both directions", (t) => {
  const named = (direction: 'ingress' | 'egress', peer: string) =>
    clusterPolicy('named', 'Admin', 1, {
      ...x,
      [direction]: [
        { action: 'Accept', [direction === 'ingress' ? 'from' : 'to']: [ns(peer)], protocols: [{ destinationNamedPort: 'serve-80-tcp' }] },
        { action: 'Deny', [direction === 'ingress' ? 'from' : 'to']: [ns(peer)] },
      ],
    });
  const tcp8x = [
    { protocol: 'tcp' as const, port: 80 },
    { protocol: 'tcp' as const, port: 81 },
    { protocol: 'udp' as const, port: 80 },
  ];
  const ingress = evaluatorOf([...modelObjects(), named('ingress', 'y')]);
  t.deepEqual(
    checkTables(ingress, (p) => {
      const r = new Reachability(true).expectPeer({ namespace: 'y' }, { namespace: 'x' }, false);
      if (p.protocol === 'tcp') r.expectPeer({ namespace: 'y' }, { namespace: 'x' }, p.port === 80).expectPeer({ namespace: 'y' }, { namespace: 'x', pod: 'b' }, p.port === 81);
      return r;
    }, tcp8x),
    [],
    'serve-80-tcp is 80/TCP, and 81 on x/b; a TCP name does not match UDP 80',
  );
  const egress = evaluatorOf([...modelObjects(), clusterPolicy('named', 'Admin', 1, { subject: ns('z'), egress: [{ action: 'Accept', to: [ns('x')], protocols: [{ destinationNamedPort: 'serve-80-tcp' }] }, { action: 'Deny', to: [ns('x')] }] })]);
  t.true(egress.explain(tcp('z/a', 'x/b', 81)).allowed, 'egress: resolved on the destination x/b');
  t.false(egress.explain(tcp('z/a', 'x/b', 80)).allowed);
  t.true(egress.explain(tcp('z/a', 'x/a', 80)).allowed);
  const udp = evaluatorOf([...modelObjects(), clusterPolicy('udp', 'Admin', 1, { ...x, ingress: [{ action: 'Deny', from: [ns('z')], protocols: [{ destinationNamedPort: 'serve-81-udp' }] }] })]);
  t.false(udp.explain({ src: ipOf('z/a'), dst: ipOf('x/a'), protocol: 'udp', port: 81 }).allowed, 'a name finds its port whatever the protocol');
  t.true(udp.explain({ src: ipOf('z/a'), dst: ipOf('x/a'), protocol: 'tcp', port: 81 }).allowed);
});

test('port ranges are inclusive at both ends, and per protocol', (t) => {
  const range = clusterPolicy('range', 'Admin', 1, { ...x, ingress: [{ action: 'Deny', from: [ns('y')], protocols: [{ udp: { destinationPort: { range: { start: 80, end: 81 } } } }] }] });
  const e = evaluatorOf([...modelObjects(), range]);
  const denied = (p: { protocol: string; port: number }) => !e.explain({ src: ipOf('y/a'), dst: ipOf('x/a'), ...p }).allowed;
  t.deepEqual(
    [79, 80, 81, 82].map((port) => denied({ protocol: 'udp', port })),
    [false, true, true, false],
  );
  t.false(denied({ protocol: 'tcp', port: 80 }));
});

test('networks: addresses inside the CIDRs, pods and anything else, either family; a rule without protocols matches ICMP too', (t) => {
  const policy = clusterPolicy('egress-nets', 'Admin', 1, {
    ...x,
    egress: [
      { action: 'Accept', to: [{ networks: ['10.1.1.0/24', 'fd00::1:2:0/112'] }], protocols: [{ tcp: { destinationPort: { number: 443 } } }] },
      { action: 'Deny', to: [{ networks: ['0.0.0.0/0'] }] },
    ],
  });
  const e = evaluatorOf([...modelObjects(), policy]);
  const allowed = (dst: string, port: number | undefined, protocol = 'tcp') => e.explain({ src: ipOf('x/a'), dst, protocol, ...(port !== undefined ? { port } : {}) }).allowed;
  t.true(allowed(ipOf('y/b'), 443), 'y is 10.1.1.0/24');
  t.false(allowed(ipOf('y/b'), 80));
  t.false(allowed(ipOf('z/b'), 443));
  t.false(allowed('8.8.8.8', 53, 'udp'), 'outside the cluster too');
  t.false(allowed('8.8.8.8', undefined, 'icmp'), 'no protocols: every protocol');
  t.true(allowed(ip6Of('z/c'), 443), "z's IPv6 addresses are in fd00::1:2:0/112");
  t.true(allowed(ip6Of('y/c'), 80), 'IPv6 is not in 0.0.0.0/0');
  t.true(e.explain({ src: ipOf('y/a'), dst: ipOf('x/a'), protocol: 'tcp', port: 80 }).allowed, 'an egress rule of x does not touch ingress to x');
});

test('nodes: the InternalIP and ExternalIP of the nodes the selector matches, a host-network pod included; never as a pod peer', (t) => {
  const host: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'host', namespace: 'z', labels: { pod: 'host' } }, spec: { hostNetwork: true, nodeName: 'node-0' }, status: { phase: 'Running', podIPs: [{ ip: nodeIp(0) }] } };
  const policy = clusterPolicy('nodes', 'Admin', 1, {
    ...x,
    egress: [
      { action: 'Deny', to: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { pod: 'host' } } } }] },
      { action: 'Accept', to: [{ nodes: { matchLabels: { zone: 'a' } } }], protocols: [{ tcp: { destinationPort: { number: 10250 } } }] },
      { action: 'Deny', to: [{ nodes: { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'Exists' }] } }] },
    ],
  });
  const e = evaluatorOf([...modelObjects(), host, policy]);
  const verdict = (dst: string, port: number) => e.explain({ src: ipOf('x/a'), dst, protocol: 'tcp', port }).egress;
  t.like(verdict(nodeIp(0), 10250), { allowed: true, admin: { rule: 1 } }, 'node-0 (zone a), the host-network pod on it not a pod peer');
  t.like(verdict(nodeIp(0), 22), { allowed: false, admin: { rule: 2 } });
  t.like(verdict(nodeIp(2), 10250), { allowed: false, admin: { rule: 2 } }, 'node-2 is in zone b');
  t.like(verdict('203.0.113.2', 22), { allowed: false, admin: { rule: 2 } }, "node-1's ExternalIP");
  t.like(verdict('192.168.0.99', 22), { allowed: true, decidedBy: 'default' }, 'not a node');
  t.true(e.explain(tcp('x/a', 'y/a')).allowed, 'pods are not nodes');
});

test('egress and ingress are decided apart: an egress Accept does not open the ingress at the destination', (t) => {
  const accept = clusterPolicy('x-out', 'Admin', 1, { ...x, egress: [{ action: 'Accept', to: [ns('y')] }] });
  const e = evaluatorOf([...modelObjects(), accept, denyAllIngress('y'), networkPolicy('x', 'no-egress', { podSelector: {}, policyTypes: ['Egress'] })]);
  const v = e.explain(tcp('x/a', 'y/a'));
  t.like(v.egress, { allowed: true, decidedBy: 'admin', isolated: true }, 'the Admin Accept skips the egress NetworkPolicy');
  t.like(v.ingress, { allowed: false, decidedBy: 'networkPolicy' });
  t.false(v.allowed);
  t.false(e.explain(tcp('x/a', 'z/a')).allowed, 'egress to z: the NetworkPolicy decides');
});

test('a pod reaching its own address is not subject to ClusterNetworkPolicy; through a Service it is', (t) => {
  const deny = clusterPolicy('deny-all', 'Admin', 1, { ...x, ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] });
  const e = evaluatorOf([...modelObjects(), deny]);
  t.like(e.explain(tcp('x/a', 'x/a')), { allowed: true, ingress: { decidedBy: 'default' } });
  t.like(e.explain({ ...tcp('x/a', 'x/a'), viaService: true }), { allowed: false, ingress: { decidedBy: 'admin' } });
  t.false(e.explain(tcp('x/b', 'x/a')).allowed);
});

test('a pod without object (registered by the CNI plugin) is a subject by namespace, and isolated by NetworkPolicy', (t) => {
  const cache = new ObjectCache();
  for (const object of modelObjects()) cache.apply({ type: 'ADDED', object });
  const input = policyInputFromCache(cache, [{ namespace: 'x', name: 'fresh', ips: ['10.1.0.9'] }], 'node-0');
  const withPolicies = (...policies: KubeObject[]) => new PolicyEvaluator({ ...input, clusterPolicies: policies });
  const verdict = (e: PolicyEvaluator) => e.explain({ src: ipOf('y/a'), dst: '10.1.0.9', protocol: 'tcp', port: 80 }).ingress;
  t.like(verdict(withPolicies()), { allowed: false, isolated: true, decidedBy: 'networkPolicy' });
  t.like(verdict(withPolicies(clusterPolicy('ns-x', 'Admin', 1, { ...x, ingress: [{ action: 'Accept', from: [ns('y')] }] }))), { allowed: true, decidedBy: 'admin' });
  const byPodLabel = clusterPolicy('pods-x', 'Admin', 1, { subject: { pods: { namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: 'fresh' } } } }, ingress: [{ action: 'Accept', from: [ns('y')] }] });
  t.like(verdict(withPolicies(byPodLabel)), { allowed: false, decidedBy: 'networkPolicy' }, 'its labels are unknown: a pod selector does not select it');
});

test('fail closed: an Accept with a peer weft cannot read matches nothing; a Deny or Pass with one denies everything', (t) => {
  const accept = clusterPolicy('fqdn', 'Admin', 1, { ...x, egress: [{ action: 'Accept', to: [{ domainNames: ['*.example.com'] }, ns('y')] }, { action: 'Deny', to: [{ networks: ['0.0.0.0/0'] }] }] });
  const a = evaluatorOf([...modelObjects(), accept]);
  t.true(a.explain(tcp('x/a', 'y/a')).allowed, 'its other peers still match');
  t.false(a.explain({ src: ipOf('x/a'), dst: '93.184.216.34', protocol: 'tcp', port: 443 }).allowed, 'the domain peer matches nothing: the Deny below decides');
  t.regex(a.clusterPolicies[0].notes[0], /spec\.egress\[0\]: to\[0\] \(domainNames\) is a peer weft does not support: it matches nothing \(fail closed\)/);
  const pass = clusterPolicy('future', 'Admin', 1, { ...x, ingress: [{ action: 'Pass', from: [{ serviceAccounts: { name: 'x' } }], protocols: [{ tcp: { destinationPort: { number: 9 } } }] }] });
  const p = evaluatorOf([...modelObjects(), pass]);
  t.deepEqual(checkTables(p, new Reachability(true).expectPeer({}, { namespace: 'x' }, false)), [], 'every peer, every port');
  t.like(p.explain(tcp('z/a', 'x/a')).ingress, { decidedBy: 'admin', admin: { action: 'Deny' } });
});

test('without ClusterNetworkPolicy a verdict is what it was: decided by NetworkPolicy or by default, no tier fields', (t) => {
  const e = evaluatorOf([...modelObjects(), denyAllIngress('x')]);
  const v = e.explain(tcp('y/a', 'x/a'));
  t.like(v.ingress, { allowed: false, decidedBy: 'networkPolicy', reason: 'isolated by x/deny-all and no rule admits the peer and port' });
  t.like(v.egress, { allowed: true, decidedBy: 'default', reason: 'no policy selects y/a for egress: not isolated' });
  t.false('admin' in v.ingress || 'baseline' in v.ingress);
  t.like(e.explain({ src: '8.8.8.8', dst: ipOf('x/a'), protocol: 'tcp', port: 80 }).egress, { decidedBy: 'default', reason: 'not a pod address: not isolated' });
  t.deepEqual(checkTables(e, new Reachability(true).expectPeer({}, { namespace: 'x' }, false), TCP80), []);
});

test('invalid ClusterNetworkPolicies play no part and are reported by name', (t) => {
  const bad = clusterPolicy('bad', 'Admin', 1001, { ...x, ingress: [{ action: 'Deny', from: [ns('y')] }] });
  const e = evaluatorOf([...modelObjects(), bad]);
  t.deepEqual(e.clusterProblems, [{ policy: 'bad', reason: 'spec.priority: 1001 must be an integer from 0 to 1000' }]);
  t.true(e.explain(tcp('y/a', 'x/a')).allowed);
});
