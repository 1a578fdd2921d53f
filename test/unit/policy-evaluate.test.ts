/**
 * The reference evaluator (policy/evaluate.ts): verdicts per direction with the deciding
 * policies and rules, and the class lookup of policy/lookup.ts on a compiled policy.
 */
import test from 'ava';
import type { KubeObject } from '../../agent/objects';
import { compileNodePolicy } from '../../policy/compile';
import { PolicyEvaluator } from '../../policy/evaluate';
import type { PolicyInput, PolicyPod } from '../../policy/input';
import { DirectionLookup } from '../../policy/lookup';

function pod(namespace: string, name: string, labels: Record<string, string> | null, ips: string[], extra: Partial<PolicyPod> = {}): PolicyPod {
  return { namespace, name, labels, ips, nodeName: 'n1', containerPorts: [], ...extra };
}

function np(namespace: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

const input: PolicyInput = {
  namespaces: [
    { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } },
    { name: 'ops', labels: { 'kubernetes.io/metadata.name': 'ops', role: 'monitoring' } },
  ],
  pods: [
    pod('shop', 'web', { app: 'web' }, ['10.0.0.1'], { containerPorts: [{ name: 'http', containerPort: 8080 }] }),
    pod('shop', 'db', { app: 'db' }, ['10.0.0.2'], { containerPorts: [{ name: 'pg', containerPort: 5432 }, { name: 'metrics', containerPort: 9187 }] }),
    pod('ops', 'prom', { app: 'prom' }, ['10.0.1.1'], { nodeName: 'n2' }),
    pod('shop', 'new', null, ['10.0.0.3']),
    pod('shop', 'host', { app: 'web' }, ['192.168.0.1'], { hostNetwork: true }),
  ],
  policies: [
    np('shop', 'db-ingress', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'pg' }] }] }),
    np('shop', 'metrics', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { role: 'monitoring' } } }], ports: [{ port: 'metrics' }] }] }),
    np('shop', 'web-egress', { podSelector: { matchLabels: { app: 'web' } }, egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 'pg' }] }, { ports: [{ port: 53, protocol: 'UDP' }] }] }),
    np('shop', 'broken', { podSelector: {}, ingress: [{ ports: [{ port: 'x', endPort: 9 }] }] }),
  ],
};
const evaluator = new PolicyEvaluator(input);

test('allowed both ways: the deciding rule of each direction, named ports resolved on the destination', (t) => {
  const v = evaluator.explain({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 'tcp', port: 5432 });
  t.true(v.allowed);
  t.like(v.egress, { pods: ['shop/web'], isolated: true, allowed: true, policies: ['shop/web-egress'], rules: [{ policy: 'shop/web-egress', rule: 0 }], reason: 'allowed by shop/web-egress egress[0]' });
  t.like(v.ingress, { pods: ['shop/db'], isolated: true, allowed: true, policies: ['shop/db-ingress', 'shop/metrics'], rules: [{ policy: 'shop/db-ingress', rule: 0 }] });
});

test('denied: which policies isolate, and that no rule admits', (t) => {
  const v = evaluator.explain({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 'tcp', port: 8080 });
  t.false(v.allowed);
  t.false(v.egress.allowed, '"pg" resolves to 5432 on the destination');
  t.false(v.ingress.allowed);
  t.is(v.ingress.reason, 'isolated by shop/db-ingress, shop/metrics and no rule admits the peer and port');
  t.deepEqual(v.ingress.rules, []);
});

test('not isolated: no policy for that direction, or not a pod address', (t) => {
  const v = evaluator.explain({ src: '10.0.1.1', dst: '10.0.0.2', protocol: 'tcp', port: 9187 });
  t.true(v.allowed);
  t.like(v.egress, { pods: ['ops/prom'], isolated: false, allowed: true, reason: 'no policy selects ops/prom for egress: not isolated' });
  t.like(v.ingress, { allowed: true, rules: [{ policy: 'shop/metrics', rule: 0 }] });
  const outside = evaluator.explain({ src: '8.8.8.8', dst: '10.0.0.1', protocol: 'udp', port: 53 });
  t.like(outside.egress, { pods: [], isolated: false, reason: 'not a pod address: not isolated' });
  const hostNetwork = evaluator.explain({ src: '192.168.0.1', dst: '10.0.1.1', protocol: 'tcp', port: 1 });
  t.like(hostNetwork.egress, { pods: [], isolated: false }, 'a hostNetwork pod is not a pod-network endpoint');
});

test('rules without peers admit any destination; other protocols only through rules without ports', (t) => {
  t.like(evaluator.explain({ src: '10.0.0.1', dst: '8.8.8.8', protocol: 'udp', port: 53 }).egress, { allowed: true, rules: [{ policy: 'shop/web-egress', rule: 1 }] });
  t.false(evaluator.explain({ src: '10.0.0.1', dst: '8.8.8.8', protocol: 'icmp' }).egress.allowed);
});

test('a pod without its object: isolated both ways, nothing allowed, said so', (t) => {
  const v = evaluator.explain({ src: '10.0.0.3', dst: '10.0.0.1', protocol: 'tcp', port: 8080 });
  t.like(v.egress, { pods: ['shop/new'], isolated: true, allowed: false, reason: 'shop/new has no Pod object yet (isolated, nothing allowed)' });
  t.like(evaluator.explain({ src: '10.0.0.1', dst: '10.0.0.3', protocol: 'tcp', port: 1 }).ingress, { isolated: true, allowed: false });
});

test('invalid policies are listed and play no part', (t) => {
  t.deepEqual(evaluator.problems.map((p) => p.policy), ['shop/broken']);
  t.throws(() => evaluator.explain({ src: 'nope', dst: '10.0.0.1', protocol: 'tcp', port: 1 }), { message: /not an address: nope/ });
});

test('class lookup on the compiled policy: the peer class, the contributing policies', (t) => {
  const compiled = compileNodePolicy(input, 'n1');
  const ingress = new DirectionLookup(compiled.ingress);
  const fromWeb = ingress.lookup('10.0.0.2', '10.0.0.1', 'tcp', 5432);
  t.like(fromWeb, { allowed: true, isolated: true, policies: ['shop/db-ingress'] });
  t.is(fromWeb.classKey, ingress.classOf('10.0.0.1')?.key);
  t.like(ingress.lookup('10.0.0.2', '10.0.1.1', 'tcp', 9187), { allowed: true, policies: ['shop/metrics'] });
  t.like(ingress.lookup('10.0.0.2', '10.0.1.1', 'tcp', 5432), { allowed: false, isolated: true });
  t.like(ingress.lookup('10.0.0.9', '10.0.1.1', 'tcp', 5432), { allowed: true, isolated: false }, 'not a local pod: open');
  t.is(ingress.classOf('8.8.8.8'), undefined);
  const egress = new DirectionLookup(compiled.egress);
  t.like(egress.lookup('10.0.0.1', '1.1.1.1', 'udp', 53), { allowed: true, policies: ['shop/web-egress'] });
  t.like(egress.lookup('10.0.0.3', '10.0.0.1', 'tcp', 8080), { allowed: false, isolated: true });
});
