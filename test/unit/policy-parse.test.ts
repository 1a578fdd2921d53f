/** Label selectors and NetworkPolicy validation, defaults and normalisation (policy/selector.ts, policy/parse.ts). */
import test from 'ava';
import type { KubeObject } from '../../agent/objects';
import { isPortName, parsePolicies, parsePolicy, type ParsedPolicy } from '../../policy/parse';
import { parseSelector, selectorMatches, type Selector } from '../../policy/selector';

function selector(raw: unknown): Selector {
  const errors: string[] = [];
  const s = parseSelector(raw, 'sel', errors);
  if (!s) throw new Error(errors.join('; '));
  return s;
}

function selectorErrors(raw: unknown): string[] {
  const errors: string[] = [];
  parseSelector(raw, 'sel', errors);
  return errors;
}

function np(spec: unknown, name = 'p', namespace = 'ns'): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec: spec as Record<string, unknown> };
}

function ok(spec: unknown): ParsedPolicy {
  const r = parsePolicy(np(spec));
  if (!r.ok) throw new Error(r.reason);
  return r.policy;
}

function problem(spec: unknown): string {
  const r = parsePolicy(np(spec));
  if (r.ok) throw new Error('expected a problem');
  return r.reason;
}

// ---- selectors ----

test('selector: matchLabels and every operator, as Kubernetes matches them', (t) => {
  const labels = { app: 'web', tier: 'fe' };
  t.true(selectorMatches(selector({}), labels), 'the empty selector matches everything');
  t.true(selectorMatches(selector({}), {}));
  t.true(selectorMatches(selector({ matchLabels: { app: 'web' } }), labels));
  t.false(selectorMatches(selector({ matchLabels: { app: 'web', tier: 'be' } }), labels), 'every label must match');
  const expr = (operator: string, values?: string[], key = 'app') => selector({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });
  t.true(selectorMatches(expr('In', ['db', 'web']), labels));
  t.false(selectorMatches(expr('In', ['db']), labels));
  t.false(selectorMatches(expr('In', ['web'], 'missing'), labels), 'In needs the label');
  t.true(selectorMatches(expr('NotIn', ['db']), labels));
  t.false(selectorMatches(expr('NotIn', ['web', 'db']), labels));
  t.true(selectorMatches(expr('NotIn', ['x'], 'missing'), labels), 'NotIn matches when the label is absent');
  t.true(selectorMatches(expr('Exists'), labels));
  t.false(selectorMatches(expr('Exists', undefined, 'missing'), labels));
  t.true(selectorMatches(expr('DoesNotExist', undefined, 'missing'), labels));
  t.false(selectorMatches(expr('DoesNotExist'), labels));
  t.true(selectorMatches(selector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['be'] }] }), labels), 'both parts ANDed');
  t.false(selectorMatches(selector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['be'] }] }), labels));
});

test('selector: unknown labels (no object yet) are matched only by the empty selector', (t) => {
  t.true(selectorMatches(selector({}), null));
  t.false(selectorMatches(selector({ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }), null));
  t.false(selectorMatches(selector({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['x'] }] }), null));
});

test('selector: canonical text, equal for equal meaning', (t) => {
  t.is(selector({}).canonical, '');
  t.is(selector({ matchLabels: null, matchExpressions: null }).canonical, '');
  t.is(selector({ matchLabels: { b: '2', a: '1' } }).canonical, 'a in (1),b in (2)');
  t.is(selector({ matchExpressions: [{ key: 'b', operator: 'In', values: ['2'] }, { key: 'a', operator: 'In', values: ['1'] }] }).canonical, 'a in (1),b in (2)');
  t.is(selector({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['y', 'x', 'y'] }, { key: 'c', operator: 'Exists' }, { key: 'd', operator: 'DoesNotExist', values: [] }] }).canonical, '!d,a notin (x,y),c');
  t.is(selector({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'a', operator: 'In', values: ['1'] }] }).canonical, 'a in (1)', 'duplicates collapse');
});

test('selector: what the API server refuses', (t) => {
  t.regex(selectorErrors({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] })[0], /"Equals" is not a valid selector operator/);
  t.regex(selectorErrors({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] })[0], /must be specified when operator is In/);
  t.regex(selectorErrors({ matchExpressions: [{ key: 'a', operator: 'NotIn' }] })[0], /must be specified when operator is NotIn/);
  t.regex(selectorErrors({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] })[0], /may not be specified when operator is Exists/);
  t.regex(selectorErrors({ matchLabels: { 'bad key!': 'x' } })[0], /not a valid label key/);
  t.regex(selectorErrors({ matchLabels: { a: 'bad value!' } })[0], /not a valid label value/);
  t.regex(selectorErrors({ matchLabels: { a: 1 } })[0], /must be a string/);
  t.regex(selectorErrors({ matchLabels: { 'Bad_Prefix/a': 'x' } })[0], /invalid prefix/);
  t.regex(selectorErrors('x')[0], /must be an object/);
  t.regex(selectorErrors({ matchExpressions: {} })[0], /must be a list/);
  t.deepEqual(selectorErrors({ matchLabels: { 'kubernetes.io/metadata.name': 'kube-system', a: '' } }), [], 'prefixed keys and empty values are fine');
});

// ---- policies ----

test('policyTypes: Ingress implied always, Egress only with at least one egress rule', (t) => {
  const types = (p: ParsedPolicy) => [p.ingress ? 'ingress' : '', p.egress ? 'egress' : ''].filter(Boolean).join(',');
  t.is(types(ok({ podSelector: {} })), 'ingress');
  t.is(types(ok({ podSelector: {}, egress: [{}] })), 'ingress,egress');
  t.is(types(ok({ podSelector: {}, egress: [] })), 'ingress', 'an empty egress list implies nothing (the API server defaults on len(egress) != 0)');
  t.is(types(ok({ podSelector: {}, policyTypes: [], egress: [{}] })), 'ingress,egress', 'an empty policyTypes is defaulted');
  t.is(types(ok({ podSelector: {}, policyTypes: ['Egress'], ingress: [{}] })), 'egress', 'rules of a direction not listed are ignored');
  t.is(types(ok({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] })), 'ingress,egress');
  t.deepEqual(ok({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] }).egress, [], 'listed without rules: deny all');
  t.regex(problem({ podSelector: {}, policyTypes: ['ingress'] }), /spec.policyTypes\[0\]: "ingress" is not Ingress or Egress/);
  t.regex(problem({ podSelector: {}, policyTypes: ['Ingress', 'Egress', 'Ingress'] }), /more than two/);
});

test('rules: absent or empty from/to means every peer, absent or empty ports every port', (t) => {
  const p = ok({ podSelector: {}, ingress: [{}, { from: [], ports: [] }, { from: null, ports: null }] });
  t.deepEqual(p.ingress, [
    { index: 0, peers: null, ports: null },
    { index: 1, peers: null, ports: null },
    { index: 2, peers: null, ports: null },
  ]);
  t.deepEqual(ok({ podSelector: {} }).podSelector.requirements, []);
  t.deepEqual(ok({}).podSelector.requirements, [], 'an absent podSelector selects every pod of the namespace');
});

test('peers: podSelector only (the policy namespace), namespaceSelector only, both; identities', (t) => {
  const p = ok({
    podSelector: {},
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }, { namespaceSelector: { matchLabels: { team: 'x' } } }, { namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } }, { podSelector: {} }] }],
  });
  const peers = p.ingress![0].peers!;
  t.deepEqual(peers.map((x) => x.identity), ['pods ns(ns) sel(app in (web))', 'pods nssel(team in (x)) sel()', 'pods nssel() sel(app in (db))', 'pods ns(ns) sel()']);
  t.like(peers[0], { kind: 'pods', namespace: 'ns' });
  t.like(peers[1], { kind: 'pods', namespace: undefined });
  t.regex(problem({ podSelector: {}, ingress: [{ from: [{}] }] }), /must specify a peer/);
  t.regex(problem({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }), /both ipBlock and another peer/);
});

test('ipBlock: canonical cidr (host bits dropped), excepts strictly inside, both families', (t) => {
  const p = ok({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.1.2.3/16', except: ['10.1.128.0/17', '10.1.0.0/24'] } }, { ipBlock: { cidr: 'FD00::/64', except: ['fd00::8/125'] } }] }] });
  const [v4, v6] = p.egress![0].peers!;
  t.is(v4.identity, 'ip 10.1.0.0/16 except 10.1.0.0/24,10.1.128.0/17');
  t.is(v6.identity, 'ip fd00::/64 except fd00::8/125');
  if (v4.kind !== 'ipBlock') throw new Error('ipBlock expected');
  t.deepEqual(v4.ranges, [{ first: 0x0a010100n, last: 0x0a017fffn }]);
  t.regex(problem({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] }), /cidr: "10.0.0.0\/33" is not a valid CIDR/);
  t.regex(problem({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0' } }] }] }), /not a valid CIDR/);
  t.regex(problem({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }] }] }), /except\[0\]: 10.1.0.0\/24 must be a strict subset of cidr 10.0.0.0\/16/);
  t.regex(problem({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.0.0/16'] } }] }] }), /strict subset/, 'an except equal to the cidr is refused too');
  t.regex(problem({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['fd00::/64'] } }] }] }), /strict subset/);
  t.regex(problem({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['bogus'] } }] }] }), /except\[0\]: "bogus" is not a valid CIDR/);
});

test('ports: defaults, names, ranges and everything the API server refuses', (t) => {
  const p = ok({ podSelector: {}, ingress: [{ ports: [{}, { protocol: 'UDP' }, { port: 80 }, { port: 'http', protocol: 'SCTP' }, { port: 8000, endPort: 8100 }, { port: 53, endPort: 53, protocol: 'UDP' }] }] });
  t.deepEqual(p.ingress![0].ports, [
    { protocol: 'tcp', kind: 'all' },
    { protocol: 'udp', kind: 'all' },
    { protocol: 'tcp', kind: 'range', first: 80, last: 80 },
    { protocol: 'sctp', kind: 'named', name: 'http' },
    { protocol: 'tcp', kind: 'range', first: 8000, last: 8100 },
    { protocol: 'udp', kind: 'range', first: 53, last: 53 },
  ]);
  const bad = (port: unknown) => problem({ podSelector: {}, ingress: [{ ports: [port] }] });
  t.regex(bad({ protocol: 'ICMP' }), /protocol: "ICMP" is not supported/);
  t.regex(bad({ protocol: 'tcp' }), /protocol: "tcp" is not supported/, 'protocols are case-sensitive');
  t.regex(bad({ port: 0 }), /port: 0 must be a port number/);
  t.regex(bad({ port: 65536 }), /port: 65536 must be a port number/);
  t.regex(bad({ port: 80.5 }), /must be a port number/);
  t.regex(bad({ port: '80' }), /port: "80" is neither a port number nor a valid port name/, 'a number in a string is a (bad) name, as for IntOrString');
  t.regex(bad({ port: 'Http' }), /neither a port number nor a valid port name/);
  t.regex(bad({ port: 90, endPort: 80 }), /endPort: 80 must be greater than or equal to port 90/);
  t.regex(bad({ port: 'http', endPort: 90 }), /endPort: may not be specified when port is a name/);
  t.regex(bad({ endPort: 90 }), /port: must be specified when endPort is specified/);
  t.regex(bad({ port: 80, endPort: 70000 }), /endPort: 70000 must be a port number/);
});

test('port names: IANA service names', (t) => {
  for (const name of ['http', 'h2c', 'dns-tcp', 'a', 'abcdefghijklmno', '8080a']) t.true(isPortName(name), name);
  for (const name of ['', 'HTTP', '-http', 'http-', 'dns--tcp', '8080', 'abcdefghijklmnop', 'a_b']) t.false(isPortName(name), name);
});

test('an invalid policy: every reason with its field path; the others are still used, all sorted', (t) => {
  const { policies, problems } = parsePolicies([
    np({ podSelector: {} }, 'z-good'),
    np({ podSelector: { matchExpressions: [{ key: 'a', operator: 'Bad' }] }, ingress: [{ ports: [{ port: 0 }] }] }, 'bad'),
    np({ podSelector: {} }, 'a-good'),
    np({ podSelector: {}, ingress: 'x' }, 'bad2', 'other'),
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'nospec', namespace: 'ns' } },
  ]);
  t.deepEqual(policies.map((p) => p.id), ['ns/a-good', 'ns/z-good']);
  t.deepEqual(problems, [
    { policy: 'ns/bad', reason: 'spec.podSelector.matchExpressions[0].operator: "Bad" is not a valid selector operator (In, NotIn, Exists, DoesNotExist); spec.ingress[0].ports[0].port: 0 must be a port number (1-65535) or a port name' },
    { policy: 'ns/nospec', reason: 'spec: must be an object' },
    { policy: 'other/bad2', reason: 'spec.ingress: must be a list' },
  ]);
});
