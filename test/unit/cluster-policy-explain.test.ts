/**
 * `weftctl policy trace|explain` with ClusterNetworkPolicies: the words say which tier,
 * priority and rule decided (an Admin Deny, a Pass then NetworkPolicy, the Baseline tier, a
 * tie); explain lists the policies around a pod's NetworkPolicies; invalid objects and rules
 * failing closed are warnings; offline (--manifests) reads the kind, the agent's manifests
 * source still does not.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { POLICY_QUESTION_KINDS, type KubeObject } from '../../agent/objects';
import { parseManifests } from '../../agent/sources/manifest-files';
import { answerPolicyQuery } from '../../policy/explain/answer';
import { PolicyModel } from '../../policy/explain/model';
import { explainPod } from '../../policy/explain/pod-report';
import { trace, type TraceResult } from '../../policy/explain/trace';
import { networkPolicy } from '../integration/netpol-fixture';
import { clusterPolicy, ipOf, modelObjects, ns } from '../helpers/cluster-policy-model';
import { service } from '../helpers/proxy-objects';
import { tempDir } from '../helpers/tmp';

const x = { subject: ns('x') };
const modelOf = (...objects: KubeObject[]) => PolicyModel.fromObjects([...modelObjects(), ...objects], { source: 'test' });
const lines = (r: TraceResult) => r.paths.flatMap((p) => [p.egress.text, p.ingress.text]);
const tcp80 = { protocol: 'tcp' as const, port: 80 };

test('trace through an Admin Deny says so, rule name, peer and port included', (t) => {
  const deny = clusterPolicy('guard', 'Admin', 10, { ...x, ingress: [{ name: 'no-z', action: 'Deny', from: [ns('z')], protocols: [{ tcp: { destinationPort: { range: { start: 1, end: 1024 } } } }] }] });
  const r = trace(modelOf(deny, networkPolicy('x', 'allow-all', { podSelector: {}, ingress: [{}] })), { from: 'z/a', to: 'x/b', port: tcp80 });
  t.is(r.verdict, 'denied');
  t.deepEqual(lines(r), [
    'egress from z/a: allowed, not isolated (no NetworkPolicy selects z/a for egress)',
    'ingress to x/b: DENIED by Admin ClusterNetworkPolicy guard (priority 10) ingress rule 1 (no-z): Deny, peer namespaces {ns: z}, port 1-1024/TCP',
  ]);
  const ingress = r.paths[0].ingress;
  t.like(ingress, { decidedBy: 'admin', isolated: true, allowedBy: [], notAllowedBy: [] });
  t.deepEqual(ingress.cluster, [{ tier: 'Admin', policy: 'guard', priority: 10, rule: 1, name: 'no-z', action: 'Deny', peer: 'namespaces {ns: z}', port: '1-1024/TCP', text: ingress.text.replace('ingress to x/b: DENIED by ', '') }]);
});

test('trace: an Admin Pass, then the NetworkPolicy that decides; the Baseline tier for a pod NetworkPolicy leaves open', (t) => {
  const pass = clusterPolicy('delegate', 'Admin', 5, { ...x, ingress: [{ action: 'Pass', from: [ns('y')], protocols: [{ destinationNamedPort: 'serve-80-tcp' }] }, { action: 'Deny', from: [ns('y')] }] });
  const np = networkPolicy('x', 'from-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 80 }] }] });
  const baseline = clusterPolicy('default', 'Baseline', 100, { subject: { namespaces: {} }, ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] });
  const model = modelOf(pass, np, baseline);
  t.deepEqual(lines(trace(model, { from: 'y/c', to: 'x/a', port: tcp80 })), [
    'egress from y/c: allowed, not isolated (no NetworkPolicy selects y/c for egress)',
    'ingress to x/a: Admin ClusterNetworkPolicy delegate (priority 5) ingress rule 1: Pass, peer namespaces {ns: y}, port named port serve-80-tcp (80/TCP on x/a), then NetworkPolicy: isolated by x/from-y; allowed by x/from-y ingress rule 1: peer namespaceSelector {ns: y}, port 80/TCP',
  ]);
  t.deepEqual(lines(trace(model, { from: 'y/c', to: 'x/b', port: { protocol: 'tcp', port: 81 } })), [
    'egress from y/c: allowed, not isolated (no NetworkPolicy selects y/c for egress)',
    'ingress to x/b: Admin ClusterNetworkPolicy delegate (priority 5) ingress rule 1: Pass, peer namespaces {ns: y}, port named port serve-80-tcp (81/TCP on x/b), then not isolated (no NetworkPolicy selects x/b for ingress); DENIED by Baseline ClusterNetworkPolicy default (priority 100) ingress rule 1: Deny, peer namespaces {} (every namespace), port any port',
  ]);
  const denied = trace(model, { from: 'y/c', to: 'x/a', port: { protocol: 'tcp', port: 81 } }).paths[0].ingress;
  t.is(denied.text, 'ingress to x/a: DENIED by Admin ClusterNetworkPolicy delegate (priority 5) ingress rule 2: Deny, peer namespaces {ns: y}, port any port');
  t.deepEqual(denied.notAllowedBy, [], "NetworkPolicy's misses are not the reason");
});

test('trace: a Baseline Pass leaves the default, and a tie at one priority is a note', (t) => {
  const passZ = clusterPolicy('b-pass', 'Baseline', 1, { ...x, ingress: [{ action: 'Pass', from: [ns('z')] }] });
  const denyAll = clusterPolicy('c-deny', 'Baseline', 2, { ...x, ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] });
  const tie = clusterPolicy('a-deny', 'Baseline', 1, { ...x, ingress: [{ action: 'Deny', from: [ns('y')] }] });
  const model = modelOf(passZ, denyAll, tie);
  const fromZ = trace(model, { from: 'z/a', to: 'x/a', port: tcp80 }).paths[0].ingress;
  t.is(fromZ.text, 'ingress to x/a: allowed, not isolated (no NetworkPolicy selects x/a for ingress), then Baseline ClusterNetworkPolicy b-pass (priority 1) ingress rule 1: Pass, peer namespaces {ns: z}, port any port');
  t.like(fromZ, { allowed: true, decidedBy: 'default' });
  const both = clusterPolicy('a-accept', 'Baseline', 1, { ...x, ingress: [{ action: 'Accept', from: [ns('z')] }] });
  const tied = trace(modelOf(passZ, both), { from: 'z/a', to: 'x/a', port: tcp80 }).paths[0].ingress;
  t.like(tied, { allowed: true, decidedBy: 'baseline' });
  t.deepEqual(tied.notes, ['b-pass ingress rule 1 (Pass) also matched at Baseline priority 1: upstream leaves the order among equal priorities to the implementation; weft takes a-accept first (by name)']);
});

test('trace through a Service back to the client is subject to ClusterNetworkPolicy; to its own address it is not', (t) => {
  const deny = clusterPolicy('deny-all', 'Admin', 1, { ...x, ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] });
  const svc = service('web', { clusterIP: '10.96.0.10', selector: { pod: 'a' }, ports: [{ port: 80, targetPort: 80 }] }, undefined, 'x');
  const model = modelOf(deny, svc);
  t.is(trace(model, { from: 'x/a', to: 'x/a', port: tcp80 }).verdict, 'allowed');
  const viaService = trace(model, { from: 'x/a', to: 'svc/x/web', port: tcp80 });
  t.is(viaService.verdict, 'denied');
  t.is(viaService.paths[0].ingress.decidedBy, 'admin');
});

test('explain: the ClusterNetworkPolicies around the NetworkPolicies, rule by rule, with the pods and nodes each peer stands for', (t) => {
  const admin = clusterPolicy('guard', 'Admin', 10, { ...x, ingress: [{ name: 'no-z', action: 'Deny', from: [ns('z')] }], egress: [{ action: 'Deny', to: [{ nodes: { matchLabels: { zone: 'b' } } }, { networks: [`${ipOf('y/a')}/32`] }] }] });
  const baseline = clusterPolicy('default', 'Baseline', 100, { subject: { namespaces: {} }, ingress: [{ action: 'Deny', from: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { role: 'db' } } } }], protocols: [{ destinationNamedPort: 'serve-81-udp' }] }] });
  const np = networkPolicy('x', 'egress-to-y', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] });
  const r = explainPod(modelOf(admin, baseline, np), 'x/a');
  t.is(r.ingress.summary, 'not isolated for ingress by NetworkPolicy; before NetworkPolicy: Admin ClusterNetworkPolicy guard (priority 10); then: Baseline ClusterNetworkPolicy default (priority 100)');
  t.deepEqual(r.ingress.clusterPolicies, ['Admin ClusterNetworkPolicy guard (priority 10)', 'Baseline ClusterNetworkPolicy default (priority 100)']);
  t.deepEqual(r.ingress.clusterRules.map((c) => c.text), [
    'Admin ClusterNetworkPolicy guard (priority 10) ingress rule 1 (no-z): Deny from namespaces {ns: z} on any port',
    'Baseline ClusterNetworkPolicy default (priority 100) ingress rule 1: Deny from pods namespaceSelector {} (every namespace) podSelector {role: db} on named port serve-81-udp',
  ]);
  t.deepEqual(r.ingress.clusterRules[1].peers, [{ peer: 'pods namespaceSelector {} (every namespace) podSelector {role: db}', pods: ['x/c', 'y/c', 'z/c'] }]);
  t.is(r.egress.summary, 'isolated for egress by x/egress-to-y: it may reach only what these rules allow; before NetworkPolicy: Admin ClusterNetworkPolicy guard (priority 10)');
  t.deepEqual(r.egress.clusterRules[0].peers, [{ peer: 'nodes {zone: b}', pods: ['node node-2'] }, { peer: `networks ${ipOf('y/a')}/32`, pods: ['y/a'] }]);
  const none = explainPod(modelOf(), 'x/a');
  t.is(none.ingress.summary, 'not isolated for ingress: everything may reach it', 'without them: the words of before');
  t.deepEqual(none.ingress.clusterRules, []);
});

test('warnings: an invalid ClusterNetworkPolicy plays no part; a rule failing closed is said', (t) => {
  const bad = clusterPolicy('bad', 'Admin', 1, { subject: {} });
  const fqdn = clusterPolicy('fqdn', 'Admin', 2, { ...x, egress: [{ action: 'Accept', to: [{ domainNames: ['example.com'] }] }] });
  const reply = answerPolicyQuery({ kind: 'trace', from: 'x/a', to: 'y/a', port: '80' }, () => modelOf(bad, fqdn));
  t.deepEqual(reply.warnings, [
    'ClusterNetworkPolicy bad is invalid (the API server would refuse it) and plays no part: spec.subject: must specify exactly one of namespaces, pods',
    'ClusterNetworkPolicy fqdn: spec.egress[0]: to[0] (domainNames) is a peer weft does not support: it matches nothing (fail closed)',
  ]);
});

test("manifests: policy questions and the agent's manifests source read ClusterNetworkPolicy (cluster-scoped)", (t) => {
  const text = stringify({ apiVersion: 'policy.networking.k8s.io/v1alpha2', kind: 'ClusterNetworkPolicy', metadata: { name: 'p', namespace: 'ignored' }, spec: { tier: 'Admin', priority: 1, subject: { namespaces: {} } } });
  const asked = parseManifests(text, 'p.yaml', POLICY_QUESTION_KINDS);
  t.deepEqual(asked.objects.map((o) => [o.kind, o.metadata.namespace]), [['ClusterNetworkPolicy', undefined]]);
  const agent = parseManifests(text, 'p.yaml');
  t.deepEqual(agent.objects.map((o) => [o.kind, o.metadata.namespace]), [['ClusterNetworkPolicy', undefined]]);
  t.deepEqual(agent.skipped, []);
});

const WEFTCTL = path.join(__dirname, '..', '..', 'cli', 'weftctl.js');
const EXAMPLES = path.join(__dirname, '..', '..', '..', 'examples');

test('weftctl policy trace --manifests reads ClusterNetworkPolicy objects (examples/cluster-policy around examples/policy)', (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [WEFTCTL, 'policy', ...args], { encoding: 'utf8', timeout: 60_000 });
  const r = run('trace', '--manifests', path.join(EXAMPLES, 'policy'), '--manifests', path.join(EXAMPLES, 'cluster-policy'), '--from', 'shop/api-2', '--to', 'shop/db-0', '--port', '5432');
  t.is(r.status, 0, r.stderr);
  t.is(r.stderr, '', 'the example is clean');
  t.deepEqual(r.stdout.split('\n'), [
    'shop/api-2 (10.244.2.12) -> shop/db-0 (10.244.2.13) port 5432/TCP: DENIED',
    '  egress from shop/api-2: isolated by shop/allow-dns, shop/api, shop/default-deny (no egress rules); allowed by shop/api egress rule 1: peer podSelector {app: db} (namespace shop), port 5432/TCP',
    '  ingress to shop/db-0: DENIED by Admin ClusterNetworkPolicy no-canary-to-db (priority 20) ingress rule 1 (deny-canary): Deny, peer pods namespaceSelector {team: shop} podSelector {track: canary}, port any port',
    '',
  ]);
  const dir = tempDir(t, 'cnp-cli');
  fs.writeFileSync(path.join(dir, 'bad.yaml'), stringify(clusterPolicy('bad', 'Admin', 1, { subject: { namespaces: {} }, ingress: [{ action: 'Allow', from: [{ namespaces: {} }] }] })));
  const warned = run('trace', '--manifests', path.join(EXAMPLES, 'policy'), '--manifests', dir, '--from', 'shop/api-2', '--to', 'shop/db-0', '--port', '5432');
  t.is(warned.status, 0, warned.stderr);
  t.is(warned.stderr, 'weftctl: warning: ClusterNetworkPolicy bad is invalid (the API server would refuse it) and plays no part: spec.ingress[0].action: "Allow" is not Accept, Deny or Pass\n');
  t.regex(warned.stdout, /: ALLOWED\n/);
});
