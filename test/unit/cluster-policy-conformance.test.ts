/**
 * The upstream ClusterNetworkPolicy conformance cases of the standard (Core) profile
 * (kubernetes-sigs/network-policy-api conformance/tests/*-standard-*.go with their manifests in
 * conformance/base/), as truth tables over every ordered pair of the x/y/z x a/b/c model,
 * checked against the reference evaluator. No lab: these are the expectations the lab and the
 * compiler will be held to.
 *
 * Upstream's model has four namespaces (houses) with two pods each; ours has three with three.
 * Houses are mapped by the part they play, not by name: the subject's namespace (gryffindor) is
 * x; the peer whose rules match "everything" (ravenclaw, or gryffindor itself in the SCTP
 * files) is x too (its pods reaching each other); the peer denied at one port (slytherin) is y;
 * the peer accepted at one port and denied the rest (hufflepuff, or gryffindor in the UDP
 * files) is z. Ports: 80 -> 80/TCP, 8080 -> 81/TCP, 53 -> 80/UDP, 5353 -> 81/UDP,
 * 9003 -> 80/SCTP. Every table covers 80 and 81 on TCP, UDP and SCTP, so a rule for one
 * protocol is also seen not to touch the others.
 */
import test from 'ava';
import type { KubeObject } from '../../agent/objects';
import { networkPolicy } from '../integration/netpol-fixture';
import { checkTables, clusterPolicy, evaluatorOf, ipOf, modelObjects, ns, PROBES, Reachability, type Probe } from '../helpers/cluster-policy-model';

type Protocol = Probe['protocol'];
type Direction = 'ingress' | 'egress';

const onPort = (protocol: Protocol, port: number) => ({ protocols: [{ [protocol]: { destinationPort: { number: port } } }] });
const peerField = (d: Direction) => (d === 'ingress' ? 'from' : 'to');

interface OrderedCase {
  direction: Direction;
  protocol: Protocol;
  denyPort: number;
  allowPort: number;
  priority: number;
}

/** The rule list every per-protocol file has (Pass rules in the Admin tier only). */
function orderedRules(c: OrderedCase, pass: boolean): Record<string, unknown>[] {
  const rule = (name: string, action: string, peer: string, extra: Record<string, unknown> = {}) => ({ name, action, [peerField(c.direction)]: [ns(peer)], ...extra });
  return [
    rule('accept-everything', 'Accept', 'x'),
    rule('deny-everything', 'Deny', 'x'),
    ...(pass ? [rule('pass-everything', 'Pass', 'x')] : []),
    rule(`deny-at-${c.denyPort}`, 'Deny', 'y', onPort(c.protocol, c.denyPort)),
    ...(pass ? [rule(`pass-at-${c.denyPort}`, 'Pass', 'y', onPort(c.protocol, c.denyPort))] : []),
    rule(`accept-at-${c.allowPort}`, 'Accept', 'z', onPort(c.protocol, c.allowPort)),
    rule('deny-everything-else', 'Deny', 'z'),
  ];
}

function swap<T>(list: readonly T[], i: number, j: number): T[] {
  const out = [...list];
  [out[i], out[j]] = [out[j], out[i]];
  return out;
}

interface Outcome {
  /** What the "everything" rules do to x's pods among themselves. */
  everything: boolean;
  /** Whether y is let through on the denied port. */
  deniedPortOpen: boolean;
}

/** Upstream's expectations, stated for the whole model: only pairs with x on the subject's side change. */
function expected(c: OrderedCase, outcome: Outcome): (probe: Probe) => Reachability {
  return (probe) => {
    const r = new Reachability(true);
    const set = (peer: string, allowed: boolean) =>
      c.direction === 'ingress' ? r.expectPeer({ namespace: peer }, { namespace: 'x' }, allowed) : r.expectPeer({ namespace: 'x' }, { namespace: peer }, allowed);
    const at = (port: number) => probe.protocol === c.protocol && probe.port === port;
    set('x', outcome.everything);
    set('y', !at(c.denyPort) || outcome.deniedPortOpen);
    set('z', at(c.allowPort));
    return r;
  };
}

const subjectX = { subject: ns('x') };
const policyOf = (name: string, tier: 'Admin' | 'Baseline', c: OrderedCase, rules: Record<string, unknown>[]): KubeObject =>
  clusterPolicy(name, tier, c.priority, { ...subjectX, [c.direction]: rules });

const ADMIN_CASES: Record<string, OrderedCase> = {
  CNPAdminTierIngressTCP: { direction: 'ingress', protocol: 'tcp', denyPort: 80, allowPort: 80, priority: 3 },
  CNPAdminTierIngressUDP: { direction: 'ingress', protocol: 'udp', denyPort: 81, allowPort: 80, priority: 4 },
  CNPAdminTierIngressSCTP: { direction: 'ingress', protocol: 'sctp', denyPort: 80, allowPort: 80, priority: 5 },
  CNPAdminTierEgressTCP: { direction: 'egress', protocol: 'tcp', denyPort: 80, allowPort: 81, priority: 6 },
  CNPAdminTierEgressUDP: { direction: 'egress', protocol: 'udp', denyPort: 81, allowPort: 80, priority: 7 },
  CNPAdminTierEgressSCTP: { direction: 'egress', protocol: 'sctp', denyPort: 80, allowPort: 80, priority: 8 },
};

for (const [name, c] of Object.entries(ADMIN_CASES)) {
  test(`${name}: rule order decides (Accept before Deny before Pass), per port and protocol`, (t) => {
    const rules = orderedRules(c, true);
    const check = (list: Record<string, unknown>[], outcome: Outcome, what: string) =>
      t.deepEqual(checkTables(evaluatorOf([...modelObjects(), policyOf(name, 'Admin', c, list)]), expected(c, outcome)), [], what);
    check(rules, { everything: true, deniedPortOpen: false }, 'as applied: the first of Accept/Deny/Pass everything is Accept');
    check(swap(rules, 0, 1), { everything: false, deniedPortOpen: false }, 'Deny everything moved first');
    check(swap(rules, 0, 2), { everything: true, deniedPortOpen: false }, 'Pass everything moved first: no NetworkPolicy, no Baseline: allowed');
    check(swap(rules, 3, 4), { everything: true, deniedPortOpen: true }, 'Pass at the port moved before its Deny');
  });
}

const BASELINE_CASES: Record<string, OrderedCase> = {
  CNPBaselineTierIngressTCP: { ...ADMIN_CASES.CNPAdminTierIngressTCP, priority: 10 },
  CNPBaselineTierIngressUDP: { ...ADMIN_CASES.CNPAdminTierIngressUDP, priority: 10 },
  CNPBaselineTierIngressSCTP: { ...ADMIN_CASES.CNPAdminTierIngressSCTP, priority: 10 },
  CNPBaselineTierEgressTCP: { ...ADMIN_CASES.CNPAdminTierEgressTCP, priority: 10 },
  CNPBaselineTierEgressUDP: { ...ADMIN_CASES.CNPAdminTierEgressUDP, priority: 10 },
  CNPBaselineTierEgressSCTP: { ...ADMIN_CASES.CNPAdminTierEgressSCTP, priority: 10 },
};

for (const [name, c] of Object.entries(BASELINE_CASES)) {
  test(`${name}: the Baseline tier decides for pods no NetworkPolicy isolates, in rule order`, (t) => {
    const rules = orderedRules(c, false);
    const check = (list: Record<string, unknown>[], outcome: Outcome, what: string) =>
      t.deepEqual(checkTables(evaluatorOf([...modelObjects(), policyOf('default', 'Baseline', c, list)]), expected(c, outcome)), [], what);
    check(rules, { everything: true, deniedPortOpen: false }, 'as applied');
    check(swap(rules, 0, 1), { everything: false, deniedPortOpen: false }, 'Deny everything moved first');
  });
}

/** conformance/base/{admin,baseline}_tier/standard-gress-rules-combined.yaml: both directions, several protocols per rule. */
function gressRules(direction: Direction, pass: boolean): Record<string, unknown>[] {
  const peer = peerField(direction);
  const each = (ports: [Protocol, number][]) => ({ protocols: ports.map(([p, n]) => ({ [p]: { destinationPort: { number: n } } })) });
  const denied = each([['tcp', 80], ['udp', 80], ['sctp', 80]]);
  const accepted = direction === 'egress' ? each([['tcp', 81], ['udp', 81], ['sctp', 80]]) : each([['tcp', 80], ['udp', 81], ['sctp', 80]]);
  return [
    { action: 'Accept', [peer]: [ns('x')] },
    { action: 'Deny', [peer]: [ns('x')] },
    ...(pass ? [{ action: 'Pass', [peer]: [ns('x')] }] : []),
    { action: 'Deny', [peer]: [ns('y')], ...denied },
    ...(pass ? [{ action: 'Pass', [peer]: [ns('y')], ...denied }] : []),
    { action: 'Accept', [peer]: [ns('z')], ...accepted },
    { action: 'Deny', [peer]: [ns('z')] },
  ];
}

function gressExpected(probe: Probe): Reachability {
  const r = new Reachability(true);
  const is = (list: [Protocol, number][]) => list.some(([p, n]) => probe.protocol === p && probe.port === n);
  // Egress from x (x -> peer), ingress to x (peer -> x): y denied at its ports, z accepted at its own.
  r.expectPeer({ namespace: 'x' }, { namespace: 'y' }, !is([['tcp', 80], ['udp', 80], ['sctp', 80]]));
  r.expectPeer({ namespace: 'y' }, { namespace: 'x' }, !is([['tcp', 80], ['udp', 80], ['sctp', 80]]));
  r.expectPeer({ namespace: 'x' }, { namespace: 'z' }, is([['tcp', 81], ['udp', 81], ['sctp', 80]]));
  r.expectPeer({ namespace: 'z' }, { namespace: 'x' }, is([['tcp', 80], ['udp', 81], ['sctp', 80]]));
  return r;
}

test('CNPAdminTierGressRules and CNPBaselineTierGressRules: ingress and egress rules of one policy, several protocols per rule', (t) => {
  const admin = clusterPolicy('gress-rules', 'Admin', 15, { ...subjectX, ingress: gressRules('ingress', true), egress: gressRules('egress', true) });
  t.deepEqual(checkTables(evaluatorOf([...modelObjects(), admin]), gressExpected), []);
  const baseline = clusterPolicy('default', 'Baseline', 10, { ...subjectX, ingress: gressRules('ingress', false), egress: gressRules('egress', false) });
  t.deepEqual(checkTables(evaluatorOf([...modelObjects(), baseline]), gressExpected), []);
});

/** conformance/base/admin_tier/standard-priority-field.yaml. */
test('CNPAdminTierPriority: the lower priority value is consulted first; changing it changes the verdict', (t) => {
  const subject = { subject: { pods: { namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a', 'b', 'c'] }] } } } };
  const ys = { pods: { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: {} } };
  const both = (action: string) => ({ ingress: [{ action, from: [ys] }], egress: [{ action, to: [ys] }] });
  const deny50 = clusterPolicy('priority-50-example', 'Admin', 50, { ...subject, ...both('Deny') });
  const pass = (priority: number) => clusterPolicy('old-priority-60-new-priority-40-example', 'Admin', priority, { ...subject, ...both('Pass') });
  const baseline = clusterPolicy('default', 'Baseline', 10, { ...subject, ...both('Accept') });
  const denied = new Reachability(true).expectPeer({ namespace: 'y' }, { namespace: 'x' }, false).expectPeer({ namespace: 'x' }, { namespace: 'y' }, false);
  t.deepEqual(checkTables(evaluatorOf([...modelObjects(), deny50, pass(60), baseline]), denied), [], 'Deny at 50 before Pass at 60');
  t.deepEqual(checkTables(evaluatorOf([...modelObjects(), deny50, pass(40), baseline]), new Reachability(true)), [], 'Pass at 40 first: the Baseline Accept decides');
});

/** conformance/base/api_integration/standard-anp-np-banp.yaml: Admin, NetworkPolicy and Baseline together. */
test('CNPAdminTierIntegration: Admin Deny, then Pass to a NetworkPolicy, then (NetworkPolicy deleted) the Baseline Deny', (t) => {
  const fromY = { namespaces: { matchLabels: { ns: 'y' } } };
  const admin = (ingress: string, egress: string) =>
    clusterPolicy('pass-example', 'Admin', 10, { ...subjectX, ingress: [{ action: ingress, from: [fromY] }], egress: [{ action: egress, to: [fromY] }] });
  const np = networkPolicy('x', 'allow-gress-from-to-slytherin-to-gryffindor', {
    podSelector: {},
    policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
    egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
  });
  const baseline = clusterPolicy('default', 'Baseline', 10, { ...subjectX, ingress: [{ action: 'Deny', from: [fromY] }], egress: [{ action: 'Deny', to: [fromY] }] });
  const run = (objects: KubeObject[]) => evaluatorOf([...modelObjects(), ...objects]);
  // The NetworkPolicy isolates x both ways: x's pods reach only y and are reached only from y.
  const isolatedX = () => new Reachability(true).expectPeer({ namespace: 'x' }, {}, false).expectPeer({}, { namespace: 'x' }, false).expectPeer({ namespace: 'x' }, { namespace: 'y' }, true).expectPeer({ namespace: 'y' }, { namespace: 'x' }, true);
  t.deepEqual(checkTables(run([admin('Deny', 'Deny'), np, baseline]), isolatedX().expectPeer({ namespace: 'y' }, { namespace: 'x' }, false).expectPeer({ namespace: 'x' }, { namespace: 'y' }, false)), [], 'Admin Deny both ways');
  t.deepEqual(checkTables(run([admin('Pass', 'Deny'), np, baseline]), isolatedX().expectPeer({ namespace: 'x' }, { namespace: 'y' }, false)), [], 'ingress passed: the NetworkPolicy lets y in');
  t.deepEqual(checkTables(run([admin('Pass', 'Pass'), np, baseline]), isolatedX()), [], 'egress passed too: the NetworkPolicy lets x reach y');
  const baselineDenies = new Reachability(true).expectPeer({ namespace: 'y' }, { namespace: 'x' }, false).expectPeer({ namespace: 'x' }, { namespace: 'y' }, false);
  t.deepEqual(checkTables(run([admin('Pass', 'Pass'), baseline]), baselineDenies), [], 'NetworkPolicy deleted: the Baseline Deny decides, everything else is open');
});

/** conformance/base/{admin,baseline}_tier/standard-egress-inline-cidr-rules.yaml. */
test('CNPAdminTierEgressInlineCIDRPeers and CNPBaselineTierEgressInlineCIDRPeers: networks match pod addresses, both families', (t) => {
  const toY = { action: 'Accept', to: [{ pods: { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: {} } }] };
  const internet = { action: 'Deny', to: [{ networks: ['0.0.0.0/0', '::/0'] }] };
  const admin = (egress: Record<string, unknown>[]) => clusterPolicy('inline-cidr-as-peers-example', 'Admin', 85, { subject: { pods: { namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: {} } }, egress });
  const onlyY = () => new Reachability(true).expectPeer({ namespace: 'x' }, {}, false).expectPeer({ namespace: 'x' }, { namespace: 'y' }, true);
  for (const family of [4, 6] as const) {
    t.deepEqual(checkTables(evaluatorOf([...modelObjects(), admin([toY, internet])]), onlyY(), PROBES, family), [], `IPv${family}: x reaches only y`);
  }
  const relabelled = modelObjects({ namespaceLabels: { y: { ns: 'denied-namespace-label' } } });
  t.deepEqual(checkTables(evaluatorOf([...relabelled, admin([toY, internet])]), new Reachability(true).expectPeer({ namespace: 'x' }, {}, false)), [], 'y relabelled: no longer accepted');
  const specific = { action: 'Accept', to: [{ networks: [`${ipOf('x/a')}/32`, `${ipOf('z/a')}/32`] }] };
  const expected = onlyY().expect('x/b', 'x/a', true).expect('x/c', 'x/a', true).expectPeer({ namespace: 'x' }, { namespace: 'z', pod: 'a' }, true);
  t.deepEqual(checkTables(evaluatorOf([...modelObjects(), admin([specific, toY, internet])]), expected), [], 'two /32s accepted first');
  const baseline = clusterPolicy('default', 'Baseline', 10, { subject: ns('x'), egress: [toY, internet] });
  t.deepEqual(checkTables(evaluatorOf([...modelObjects(), baseline]), onlyY()), [], 'the Baseline tier: the same');
});
