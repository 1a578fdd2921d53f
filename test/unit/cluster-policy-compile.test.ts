/**
 * The ClusterNetworkPolicy tiers as compiled for a node (policy/cluster-policy/compile.ts),
 * feature by feature: which local addresses are subjects, the peer classes of each kind of peer,
 * and the outcome per class and subject (first matching rule per port, `other`, explicit pass
 * ranges), the Baseline tier leaving NetworkPolicy's isolated pods alone, stable class keys.
 * Classes are shown by their CIDRs (keys are hashes).
 */
import test from 'ava';
import type { NodePolicy, TierDecision, TierDirection } from '../../agent/dataplane/policy-state';
import type { KubeObject } from '../../agent/objects';
import { compileNodePolicy } from '../../policy/compile';
import type { PolicyInput, PolicyNode, PolicyPod } from '../../policy/input';
import { PolicyInterner } from '../../policy/intern';
import { clusterPolicy } from '../helpers/cluster-policy-model';

const NODE = 'n1';

function pod(namespace: string, name: string, labels: Record<string, string> | null, ips: string[], extra: Partial<PolicyPod> = {}): PolicyPod {
  return { namespace, name, labels, ips, nodeName: NODE, containerPorts: [], ...extra };
}

const NAMESPACES = [
  { name: 'x', labels: { ns: 'x' } },
  { name: 'y', labels: { ns: 'y' } },
];
const NODES: PolicyNode[] = [
  { name: 'n1', labels: { role: 'self' }, addresses: ['192.168.0.1', '2001:db8::1'] },
  { name: 'n2', labels: { role: 'other' }, addresses: ['192.168.0.2'] },
];
const PODS: PolicyPod[] = [
  pod('x', 'a', { app: 'a' }, ['10.0.0.1', 'fd00::1'], { containerPorts: [{ name: 'web', containerPort: 8080 }] }),
  pod('x', 'b', { app: 'b' }, ['10.0.0.2']),
  pod('y', 'c', { app: 'c' }, ['10.0.0.3'], { nodeName: 'n2', containerPorts: [{ name: 'web', containerPort: 81 }] }),
  pod('y', 'host', { app: 'c' }, ['192.168.0.1'], { hostNetwork: true }),
];

function compile(clusterPolicies: KubeObject[], extra: Partial<PolicyInput> = {}): NodePolicy {
  return compileNodePolicy({ namespaces: NAMESPACES, pods: PODS, policies: [], nodes: NODES, clusterPolicies, ...extra }, NODE);
}

const ports = (d: TierDecision) => d.ports.map((r) => `${r.protocol}/${r.first === r.last ? r.first : `${r.first}-${r.last}`}=${r.verdict}`).join(' ');

/** A direction in short: subjects, and per class (by CIDRs) "local: other [ports]". */
function view(d: TierDirection | undefined) {
  if (!d) return undefined;
  const classes = Object.fromEntries(d.classes.map((c) => [c.cidrs.join(' '), c.decide.map((x) => `${x.localIp}: ${x.other}${x.ports.length ? ` [${ports(x)}]` : ''}`)]));
  return { subjects: d.subjects, classes };
}

const x = { namespaces: { matchLabels: { ns: 'x' } } };
const y = { namespaces: { matchLabels: { ns: 'y' } } };
const tcp = (port: number) => ({ tcp: { destinationPort: { number: port } } });

test('without ClusterNetworkPolicies nothing changes: no tiers in the result', (t) => {
  const policy = compile([]);
  t.false('admin' in policy);
  t.false('baseline' in policy);
  t.false('clusterProblems' in policy);
});

test('subjects: local pod addresses a policy of the tier selects with rules of the direction; never host-network pods; a tier selecting no local pod is absent', (t) => {
  const policy = compile([
    clusterPolicy('in-x', 'Admin', 1, { subject: x, ingress: [{ action: 'Deny', from: [y] }] }),
    clusterPolicy('out-y', 'Admin', 2, { subject: y, egress: [{ action: 'Deny', to: [x] }] }),
  ]);
  t.deepEqual(policy.admin?.ingress.subjects, ['10.0.0.1', '10.0.0.2', 'fd00::1']);
  t.deepEqual(policy.admin?.egress.subjects, [], "y's pods are on n2, or host-network");
  t.false('baseline' in policy);
  t.false('admin' in compile([clusterPolicy('out-y', 'Admin', 2, { subject: y, egress: [{ action: 'Deny', to: [x] }] })]), 'no local subject: no tier');
});

test('a pod without Pod object is a subject only of an empty pod selector in its namespace, and never a peer', (t) => {
  const unknown = pod('x', 'new', null, ['10.0.0.9']);
  const policy = compile(
    [
      clusterPolicy('all-of-x', 'Admin', 1, { subject: { pods: { namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: {} } }, ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] }),
      clusterPolicy('app-a', 'Admin', 2, { subject: { pods: { podSelector: { matchLabels: { app: 'a' } } } }, egress: [{ action: 'Deny', to: [{ namespaces: {} }] }] }),
    ],
    { pods: [...PODS, unknown] },
  );
  t.true(policy.admin?.ingress.subjects.includes('10.0.0.9'));
  t.false(policy.admin?.egress.subjects.includes('10.0.0.9'));
  const peers = policy.admin!.ingress.classes.flatMap((c) => c.cidrs);
  t.false(peers.includes('10.0.0.9/32'), 'it matches no namespaces peer');
});

test('per port, the first matching rule over the policies in order decides; other is the first rule without ports; a Pass range inside an Accept or Deny class stays explicit', (t) => {
  const policy = compile([
    clusterPolicy('b-second', 'Admin', 5, { subject: x, ingress: [{ action: 'Accept', from: [y] }] }),
    clusterPolicy('a-first', 'Admin', 5, {
      subject: x,
      ingress: [
        { action: 'Pass', from: [y], protocols: [tcp(80)] },
        { action: 'Deny', from: [y], protocols: [{ tcp: { destinationPort: { range: { start: 70, end: 90 } } } }, { udp: { destinationPort: { number: 53 } } }] },
      ],
    }),
    clusterPolicy('earlier', 'Admin', 1, { subject: x, ingress: [{ action: 'Accept', from: [y], protocols: [{ tcp: { destinationPort: { number: 85 } } }] }] }),
  ]);
  t.deepEqual(view(policy.admin?.ingress)?.classes, {
    '10.0.0.3/32': ['10.0.0.1: accept [tcp/70-79=drop tcp/80=pass tcp/81-84=drop tcp/86-90=drop udp/53=drop]', '10.0.0.2: accept [tcp/70-79=drop tcp/80=pass tcp/81-84=drop tcp/86-90=drop udp/53=drop]'],
  });
  const decision = policy.admin!.ingress.classes[0].decide[0];
  t.is(decision.otherRule, 'Admin b-second ingress rule 1');
  t.deepEqual(
    decision.ports.map((r) => r.rule),
    ['Admin a-first ingress rule 2', 'Admin a-first ingress rule 1', 'Admin a-first ingress rule 2', 'Admin a-first ingress rule 2', 'Admin a-first ingress rule 2'],
  );
  t.deepEqual(view(compile([clusterPolicy('p', 'Admin', 1, { subject: x, ingress: [{ action: 'Pass', from: [y] }] })]).admin?.ingress)?.classes, {}, 'all pass: nothing to decide');
});

test('named ports resolve on the subject for ingress and on the peer for egress', (t) => {
  const named = { destinationNamedPort: 'web' };
  const ingress = compile([clusterPolicy('n', 'Admin', 1, { subject: x, ingress: [{ action: 'Deny', from: [{ namespaces: {} }], protocols: [named] }] })]);
  t.deepEqual(view(ingress.admin?.ingress)?.classes, { '10.0.0.1/32 10.0.0.2/31 fd00::1/128': ['10.0.0.1: pass [tcp/8080=drop]', 'fd00::1: pass [tcp/8080=drop]'] }, "a's web is 8080, b has none");
  const egress = compile([clusterPolicy('n', 'Admin', 1, { subject: x, egress: [{ action: 'Deny', to: [{ namespaces: {} }], protocols: [named] }] })]);
  t.deepEqual(view(egress.admin?.egress)?.classes, {
    '10.0.0.1/32 fd00::1/128': ['10.0.0.1: pass [tcp/8080=drop]', '10.0.0.2: pass [tcp/8080=drop]', 'fd00::1: pass [tcp/8080=drop]'],
    '10.0.0.3/32': ['10.0.0.1: pass [tcp/81=drop]', '10.0.0.2: pass [tcp/81=drop]'],
  });
});

test('networks (overlapping CIDRs of one peer merged), nodes (their InternalIP and ExternalIP addresses), and a fail-closed rule (every address)', (t) => {
  const networks = compile([clusterPolicy('n', 'Admin', 1, { subject: x, egress: [{ action: 'Deny', to: [{ networks: ['10.1.0.0/16', '10.1.2.0/24', '10.2.0.0/16'] }] }] })]);
  t.deepEqual(networks.admin?.egress.classes.map((c) => c.cidrs), [['10.1.0.0/16', '10.2.0.0/16']]);
  const nodes = compile([clusterPolicy('n', 'Admin', 1, { subject: x, egress: [{ action: 'Accept', to: [{ nodes: { matchLabels: { role: 'self' } } }] }, { action: 'Deny', to: [{ nodes: {} }], protocols: [tcp(10250)] }] })]);
  t.deepEqual(view(nodes.admin?.egress)?.classes, {
    '192.168.0.1/32 2001:db8::1/128': ['10.0.0.1: accept', '10.0.0.2: accept', 'fd00::1: accept'],
    '192.168.0.2/32': ['10.0.0.1: pass [tcp/10250=drop]', '10.0.0.2: pass [tcp/10250=drop]'],
  });
  const closed = compile([clusterPolicy('n', 'Admin', 1, { subject: x, egress: [{ action: 'Pass', to: [{ domainNames: ['example.com'] }] }] })]);
  t.deepEqual(view(closed.admin?.egress)?.classes, { '0.0.0.0/0 ::/0': ['10.0.0.1: drop', '10.0.0.2: drop', 'fd00::1: drop'] }, 'a Pass failing closed denies every peer');
});

test('the Baseline tier leaves out the addresses NetworkPolicy isolates in that direction', (t) => {
  const isolateA = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'a', namespace: 'x' }, spec: { podSelector: { matchLabels: { app: 'a' } }, policyTypes: ['Ingress'] } } as KubeObject;
  const baseline = clusterPolicy('default', 'Baseline', 1, { subject: x, ingress: [{ action: 'Deny', from: [y] }], egress: [{ action: 'Deny', to: [y] }] });
  const admin = clusterPolicy('admin', 'Admin', 1, { subject: x, ingress: [{ action: 'Deny', from: [y] }] });
  const policy = compile([baseline, admin], { policies: [isolateA] });
  t.deepEqual(policy.baseline?.ingress.subjects, ['10.0.0.2'], 'a is isolated for ingress');
  t.deepEqual(policy.baseline?.egress.subjects, ['10.0.0.1', '10.0.0.2', 'fd00::1'], 'not for egress');
  t.deepEqual(policy.admin?.ingress.subjects, ['10.0.0.1', '10.0.0.2', 'fd00::1'], 'the Admin tier comes first whatever NetworkPolicy says');
});

test('class keys stay while a class means the same, and name tier and direction', (t) => {
  const deny = clusterPolicy('d', 'Admin', 1, { subject: x, ingress: [{ action: 'Deny', from: [y] }], egress: [{ action: 'Deny', to: [y] }] });
  const one = compile([deny]);
  const other = compile([deny, clusterPolicy('z', 'Admin', 9, { subject: y, ingress: [{ action: 'Deny', from: [x] }] })], { pods: [...PODS, pod('x', 'later', { app: 'b' }, ['10.0.0.7'])] });
  t.deepEqual(other.admin?.ingress.classes.map((c) => c.key), one.admin?.ingress.classes.map((c) => c.key));
  t.not(one.admin?.ingress.classes[0].key, one.admin?.egress.classes[0].key);
  const asBaseline = compile([clusterPolicy('d', 'Baseline', 1, { subject: x, ingress: [{ action: 'Deny', from: [y] }] })]);
  t.not(asBaseline.baseline?.ingress.classes[0].key, one.admin?.ingress.classes[0].key);
});

test('invalid ClusterNetworkPolicies are reported by name and play no part', (t) => {
  const policy = compile([clusterPolicy('bad', 'Admin', 1, { subject: x, ingress: [{ action: 'Deny', from: [y], protocols: [{ tcp: {} }] }] })]);
  t.false('admin' in policy);
  t.is(policy.clusterProblems?.[0].policy, 'bad');
  t.deepEqual(policy.problems, []);
});

test('interned (policy/intern.ts): an unchanged compile keeps the tier objects, a change replaces only the classes it touches', (t) => {
  const interner = new PolicyInterner();
  const policies = [
    clusterPolicy('d', 'Admin', 1, { subject: x, ingress: [{ action: 'Deny', from: [y] }, { action: 'Accept', from: [{ namespaces: {} }], protocols: [tcp(80)] }] }),
    clusterPolicy('b', 'Baseline', 1, { subject: x, egress: [{ action: 'Deny', to: [{ networks: ['10.9.0.0/16'] }] }] }),
  ];
  const first = interner.intern(compile(policies));
  const again = interner.intern(compile(policies));
  t.is(again.admin, first.admin);
  t.is(again.baseline, first.baseline);
  const changed = interner.intern(compile([policies[0], clusterPolicy('b', 'Baseline', 1, { subject: x, egress: [{ action: 'Accept', to: [{ networks: ['10.9.0.0/16'] }] }] })]));
  t.is(changed.admin, first.admin, 'the Admin tier did not change');
  t.not(changed.baseline, first.baseline);
  t.is(changed.baseline?.egress.subjects, first.baseline?.egress.subjects, 'nor did the subjects of the Baseline tier');
  t.deepEqual(changed.baseline?.egress.classes[0].decide.map((d) => `${d.localIp} ${d.other}`), ['10.0.0.1 accept', '10.0.0.2 accept'], 'an IPv4 network: IPv4 subjects');
  t.false('admin' in interner.intern(compile([policies[1]])), 'a tier that went away stays away');
});
