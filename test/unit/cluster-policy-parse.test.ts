/**
 * ClusterNetworkPolicy objects into the parsed model: what the upstream CRD (v1alpha2, with its
 * CEL rules) refuses is refused with the field's path, the rest is normalised into the form a
 * compiler uses (PodPeer identities, PortEntry lists, rule order kept), and peers weft cannot
 * read fail closed.
 */
import test from 'ava';
import { parseClusterPolicies, parseClusterPolicy, type ParsedClusterPolicy } from '../../policy/cluster-policy/parse';
import { parsePolicy } from '../../policy/parse';
import { clusterPolicy } from '../helpers/cluster-policy-model';

const nsX = { namespaces: { matchLabels: { ns: 'x' } } };
const valid = (spec: Record<string, unknown>, tier: 'Admin' | 'Baseline' = 'Admin', priority = 10): ParsedClusterPolicy => {
  const r = parseClusterPolicy(clusterPolicy('p', tier, priority, { subject: nsX, ...spec }));
  if (!r.ok) throw new Error(r.reason);
  return r.policy;
};
const reasonOf = (spec: Record<string, unknown>): string => {
  const r = parseClusterPolicy({ apiVersion: 'policy.networking.k8s.io/v1alpha2', kind: 'ClusterNetworkPolicy', metadata: { name: 'p' }, spec });
  return r.ok ? 'valid' : r.reason;
};
const base = { tier: 'Admin', priority: 1, subject: nsX };

test('a policy: tier, priority, subject, rules in order with their actions, names, peers and ports', (t) => {
  const p = valid({
    subject: { pods: { podSelector: { matchLabels: { app: 'db' } } } },
    ingress: [
      { name: 'from-y', action: 'Accept', from: [{ namespaces: { matchLabels: { ns: 'y' } } }, { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } } }] },
      { action: 'Deny', from: [{ namespaces: {} }], protocols: [{ tcp: { destinationPort: { number: 5432 } } }, { udp: { destinationPort: { range: { start: 5000, end: 5010 } } } }] },
    ],
    egress: [{ action: 'Pass', to: [{ networks: ['10.0.0.0/8', 'fd00::/8'] }, { nodes: {} }] }, { action: 'Accept', to: [nsX], protocols: [{ destinationNamedPort: 'dns' }] }],
  }, 'Baseline', 7);
  t.like(p, { name: 'p', tier: 'Baseline', priority: 7, subject: { field: 'pods', namespaceSelector: { canonical: '' }, podSelector: { canonical: 'app in (db)' } }, notes: [] });
  t.deepEqual(p.ingress.map((r) => [r.index, r.name, r.action]), [[0, 'from-y', 'Accept'], [1, undefined, 'Deny']]);
  t.deepEqual(p.ingress[0].peers?.map((x) => x.identity), ['pods nssel(ns in (y)) sel()', 'pods nssel() sel(app in (web))']);
  t.is(p.ingress[0].ports, null, 'no protocols: every protocol and port');
  t.deepEqual(p.ingress[1].ports, [{ protocol: 'tcp', kind: 'range', first: 5432, last: 5432 }, { protocol: 'udp', kind: 'range', first: 5000, last: 5010 }]);
  t.deepEqual(p.ingress[1].protocols?.map((x) => x.text), ['5432/TCP', '5000-5010/UDP']);
  t.deepEqual(p.egress[0].peers?.map((x) => x.identity), ['networks 10.0.0.0/8,fd00::/8', 'nodes sel()']);
  t.deepEqual(p.egress[1].ports, ['tcp', 'udp', 'sctp'].map((protocol) => ({ protocol, kind: 'named', name: 'dns' })), 'a name, on whichever protocol the pod declares it');
  t.deepEqual(p.egress[1].protocols?.map((x) => x.text), ['named port dns']);
});

test("pod peers have NetworkPolicy's peer identities: the compiler's index finds their pods once for both", (t) => {
  const p = valid({ ingress: [{ action: 'Deny', from: [{ namespaces: { matchLabels: { ns: 'y' } } }] }] });
  const np = parsePolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'n', namespace: 'x' }, spec: { ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] } });
  if (!np.ok) throw new Error(np.reason);
  t.is(p.ingress[0].peers?.[0].identity, np.policy.ingress?.[0].peers?.[0].identity);
});

test('what the CRD refuses, with the path of the field', (t) => {
  const rule = (r: Record<string, unknown>, direction = 'ingress') => reasonOf({ ...base, [direction]: [r] });
  const cases: [string, string, RegExp][] = [
    ['no tier', reasonOf({ priority: 1, subject: nsX }), /^spec\.tier: undefined is not Admin or Baseline$/],
    ['a tier of v1alpha1', reasonOf({ ...base, tier: 'BaselineAdmin' }), /spec\.tier: "BaselineAdmin"/],
    ['priority over 1000', reasonOf({ ...base, priority: 1001 }), /spec\.priority: 1001 must be an integer from 0 to 1000/],
    ['a negative priority', reasonOf({ ...base, priority: -1 }), /spec\.priority/],
    ['a fractional priority', reasonOf({ ...base, priority: 1.5 }), /spec\.priority/],
    ['no subject', reasonOf({ tier: 'Admin', priority: 1 }), /spec\.subject: must be specified/],
    ['two subjects', reasonOf({ ...base, subject: { ...nsX, pods: { podSelector: {} } } }), /spec\.subject: must specify exactly one of namespaces, pods \(has namespaces, pods\)/],
    ['a pods subject without podSelector', reasonOf({ ...base, subject: { pods: { namespaceSelector: {} } } }), /spec\.subject\.pods\.podSelector: must be specified/],
    ['a bad selector', reasonOf({ ...base, subject: { namespaces: { matchExpressions: [{ key: 'a', operator: 'In' }] } } }), /spec\.subject\.namespaces\.matchExpressions\[0\]\.values: must be specified when operator is In/],
    ['no action', rule({ from: [nsX] }), /spec\.ingress\[0\]\.action: undefined is not Accept, Deny or Pass/],
    ['v1alpha1 Allow', rule({ action: 'Allow', from: [nsX] }), /"Allow" is not Accept, Deny or Pass/],
    ['no from', rule({ action: 'Deny' }), /spec\.ingress\[0\]\.from: must be specified/],
    ['an empty from', rule({ action: 'Deny', from: [] }), /spec\.ingress\[0\]\.from: must have at least one item/],
    ['an empty peer', rule({ action: 'Deny', from: [{}] }), /spec\.ingress\[0\]\.from\[0\]: must specify a peer \(namespaces, pods\)/],
    ['a peer of two kinds', rule({ action: 'Deny', from: [{ ...nsX, pods: { podSelector: {} } }] }), /from\[0\]: must specify exactly one of namespaces, pods/],
    ['networks with domainNames', rule({ action: 'Accept', to: [{ networks: ['1.0.0.0/8'], domainNames: ['a.io'] }] }, 'egress'), /to\[0\]: must specify exactly one of namespaces, pods, networks, nodes \(has networks, domainNames\)/],
    ['a bad CIDR', rule({ action: 'Deny', to: [{ networks: ['10.0.0.0/33'] }] }, 'egress'), /spec\.egress\[0\]\.to\[0\]\.networks\[0\]: "10\.0\.0\.0\/33" is not a valid CIDR/],
    ['a bare address', rule({ action: 'Deny', to: [{ networks: ['10.0.0.1'] }] }, 'egress'), /is not a valid CIDR/],
    ['a CIDR twice', rule({ action: 'Deny', to: [{ networks: ['10.0.0.0/8', '10.0.0.0/8'] }] }, 'egress'), /networks\[1\]: 10\.0\.0\.0\/8 is listed twice/],
    ['empty networks', rule({ action: 'Deny', to: [{ networks: [] }] }, 'egress'), /networks: must be a list of at least one CIDR/],
    ['26 peers', rule({ action: 'Deny', from: Array.from({ length: 26 }, () => nsX) }), /from: may have at most 25 items/],
    ['26 rules', reasonOf({ ...base, ingress: Array.from({ length: 26 }, () => ({ action: 'Deny', from: [nsX] })) }), /spec\.ingress: must be a list of at most 25 rules/],
    ['a long rule name', rule({ name: 'n'.repeat(101), action: 'Deny', from: [nsX] }), /spec\.ingress\[0\]\.name: must be a string of at most 100 characters/],
    ['empty protocols', rule({ action: 'Deny', from: [nsX], protocols: [] }), /protocols: must have at least one item/],
    ['tcp without destinationPort', rule({ action: 'Deny', from: [nsX], protocols: [{ tcp: {} }] }), /protocols\[0\]\.tcp: must specify destinationPort \(number or range\): the CRD refuses an empty tcp/],
    ['two protocols in one entry', rule({ action: 'Deny', from: [nsX], protocols: [{ tcp: { destinationPort: { number: 1 } }, udp: { destinationPort: { number: 1 } } }] }), /protocols\[0\]: must specify exactly one of tcp, udp, sctp, destinationNamedPort \(has tcp, udp\)/],
    ['port 0', rule({ action: 'Deny', from: [nsX], protocols: [{ udp: { destinationPort: { number: 0 } } }] }), /protocols\[0\]\.udp\.destinationPort\.number: 0 must be a port number/],
    ['number and range', rule({ action: 'Deny', from: [nsX], protocols: [{ sctp: { destinationPort: { number: 1, range: { start: 1, end: 2 } } } }] }), /destinationPort: must specify exactly one of number, range/],
    ['a range of one port', rule({ action: 'Deny', from: [nsX], protocols: [{ tcp: { destinationPort: { range: { start: 80, end: 80 } } } }] }), /destinationPort\.range: start 80 must be less than end 80/],
    ['a range past 65535', rule({ action: 'Deny', from: [nsX], protocols: [{ tcp: { destinationPort: { range: { start: 80, end: 65536 } } } }] }), /range\.end: 65536 must be a port number/],
    ['an empty port name', rule({ action: 'Deny', from: [nsX], protocols: [{ destinationNamedPort: '' }] }), /destinationNamedPort: must be a port name/],
    ['a named port to networks', rule({ action: 'Accept', to: [{ networks: ['10.0.0.0/8'] }], protocols: [{ destinationNamedPort: 'http' }] }, 'egress'), /spec\.egress\[0\]: networks, nodes and domainNames peers cannot be used with destinationNamedPort/],
    ['a named port to nodes', rule({ action: 'Accept', to: [nsX, { nodes: {} }], protocols: [{ destinationNamedPort: 'http' }] }, 'egress'), /cannot be used with destinationNamedPort/],
    ['spec not an object', reasonOf([] as unknown as Record<string, unknown>), /^spec: must be an object$/],
  ];
  for (const [what, reason, expected] of cases) t.regex(reason, expected, what);
  t.is(rule({ action: 'Accept', to: [nsX], protocols: [{ destinationNamedPort: 'http' }] }, 'egress'), 'valid', 'a named port to pods');
  t.is(rule({ action: 'Deny', from: [{ pods: { podSelector: {} } }] }), 'valid', 'namespaceSelector may be left out (every namespace)');
  t.is(reasonOf({ ...base }), 'valid', 'no rules at all: valid, and does nothing');
});

test('errors are all reported at once, and a refused policy is not used', (t) => {
  const { policies, problems } = parseClusterPolicies([clusterPolicy('two-errors', 'Admin', 2000, { subject: {}, ingress: [{ action: 'Deny', from: [nsX] }] })]);
  t.deepEqual(policies, []);
  t.deepEqual(problems, [{ policy: 'two-errors', reason: 'spec.priority: 2000 must be an integer from 0 to 1000; spec.subject: must specify exactly one of namespaces, pods' }]);
});

test('fail closed: ingress has no networks or nodes peers, and weft reads no domainNames', (t) => {
  const p = valid({
    ingress: [{ action: 'Accept', from: [{ networks: ['10.0.0.0/8'] }] }, { action: 'Pass', from: [nsX, { nodes: {} }], protocols: [{ tcp: { destinationPort: { number: 1 } } }] }],
    egress: [{ action: 'Accept', to: [{ domainNames: ['*.example.com'] }, nsX] }, { action: 'Deny', to: [{ domainNames: ['example.com'] }] }],
  });
  t.like(p.ingress[0], { action: 'Accept', peers: [], failClosed: 'spec.ingress[0]: from[0] (networks) is a peer weft does not support: it matches nothing (fail closed)' });
  t.like(p.ingress[1], { action: 'Deny', peers: null, ports: null, protocols: null });
  t.regex(p.ingress[1].failClosed ?? '', /from\[1\] \(nodes\) is a peer weft does not support: the Pass rule denies everything \(fail closed\)/);
  t.is(p.egress[0].peers?.length, 1, 'the namespaces peer stays');
  t.like(p.egress[1], { action: 'Deny', peers: null });
  t.is(p.notes.length, 4);
});

test('policies in evaluation order: Admin, then Baseline, each by priority then name; problems by name', (t) => {
  const objects = [
    clusterPolicy('b', 'Baseline', 0, { subject: nsX }),
    clusterPolicy('z', 'Admin', 5, { subject: nsX }),
    clusterPolicy('broken-2', 'Admin', 1, { subject: nsX, egress: 'no' }),
    clusterPolicy('a', 'Admin', 5, { subject: nsX }),
    clusterPolicy('first', 'Admin', 0, { subject: nsX }),
    clusterPolicy('broken-1', 'Sideways' as 'Admin', 1, { subject: nsX }),
  ];
  const { policies, problems } = parseClusterPolicies(objects);
  t.deepEqual(policies.map((p) => `${p.tier} ${p.priority} ${p.name}`), ['Admin 0 first', 'Admin 5 a', 'Admin 5 z', 'Baseline 0 b']);
  t.deepEqual(problems.map((p) => p.policy), ['broken-1', 'broken-2']);
  t.is(parseClusterPolicy(objects[0]), parseClusterPolicy(objects[0]), 'an object is parsed once');
});
