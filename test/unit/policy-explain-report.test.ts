/**
 * `policy explain`, `policy matrix` and `policy what-if` from objects (policy/explain/): what
 * may reach a pod rule by rule, the allowed-connection grid, and the connections a policy
 * change would newly allow or deny.
 */
import test from 'ava';
import { policyMatrix } from '../../policy/explain/matrix';
import { PolicyModel } from '../../policy/explain/model';
import { explainPod } from '../../policy/explain/pod-report';
import { QueryError } from '../../policy/explain/query';
import { whatIf } from '../../policy/explain/what-if';
import { clusterObjects, networkPolicy } from '../helpers/policy-objects';

const model = PolicyModel.fromObjects(clusterObjects(), { source: 'test objects' });

test('explain: the rules that may reach a pod, peers with the pods they stand for, named ports resolved on it', (t) => {
  const r = explainPod(model, 'y/b');
  t.like(r, { pod: 'y/b', addresses: ['10.244.1.2'], ports: ['web 8080/TCP', 'http 80/TCP'] });
  t.is(r.ingress.summary, 'isolated for ingress by y/allow-a-web, y/allow-x, y/deny-all: only what these rules allow may reach it');
  t.deepEqual(r.ingress.rules, [
    {
      policy: 'y/allow-a-web',
      rule: 1,
      peers: [{ peer: 'namespaceSelector {ns: y} and podSelector {app: a}', pods: ['y/a'] }],
      ports: ['web/TCP (8080)'],
      text: 'y/allow-a-web ingress rule 1: from namespaceSelector {ns: y} and podSelector {app: a} on web/TCP',
    },
    { policy: 'y/allow-x', rule: 1, peers: [{ peer: 'namespaceSelector {ns: x}', pods: ['x/a', 'x/b'] }], ports: ['80/TCP'], text: 'y/allow-x ingress rule 1: from namespaceSelector {ns: x} on 80/TCP' },
  ]);
  t.like(r.egress, { isolated: false, summary: 'not isolated for egress: it may reach everything', rules: [] });
});

test('explain: a deny-all alone lets nothing in; egress rules with ipBlock peers list the pods inside', (t) => {
  t.is(explainPod(model, 'y/a').ingress.summary, 'isolated for ingress by y/deny-all: nothing may reach it');
  const a = explainPod(model, 'x/a');
  t.is(a.ingress.summary, 'not isolated for ingress: everything may reach it');
  t.deepEqual(a.egress.rules[0].peers, [{ peer: 'ipBlock 10.0.0.0/8 except 10.1.0.0/16', pods: ['x/a', 'x/b', 'y/a', 'y/b', 'y/c'] }]);
  t.deepEqual(a.egress.rules[1].ports, ['web/TCP (as each destination pod names it)', '80/TCP']);
  t.is(explainPod(model, 'x/host').ingress.summary, 'NetworkPolicy does not apply to it (hostNetwork, or finished)');
  t.is(explainPod(model, '10.244.1.3').pod, 'y/c');
  t.throws(() => explainPod(model, 'y/zz'), { instanceOf: QueryError, message: 'no pod y/zz in test objects (pods in y: a, b, c)' });
});

test('matrix: every ordered pair of pods, per port; hostNetwork pods left out', (t) => {
  const m = policyMatrix(model, { namespaces: ['x', 'y'], ports: [{ protocol: 'tcp', port: 80 }] });
  t.deepEqual(m.pods, ['x/a', 'x/b', 'y/a', 'y/b', 'y/c']);
  t.deepEqual(m.ports, ['80/TCP']);
  const grid = m.pods.map((from) => m.pods.map((to) => (m.pairs.find((p) => p.from === from && p.to === to)!.allowed.length ? '✓' : '✗')).join(''));
  t.deepEqual(grid, [
    // x/a may reach namespace y on 80 only; y/a admits nothing; y/b and y/c admit namespace x on
    // 80. A pod reaching itself is always allowed (the packet never leaves it).
    '✓✗✗✓✓',
    '✓✓✗✓✓',
    '✓✓✓✗✗',
    '✓✓✗✓✗',
    '✓✓✗✗✓',
  ]);
});

test('matrix: by default the ports the pods declare; unknown namespaces are an error', (t) => {
  t.deepEqual(policyMatrix(model, { namespaces: ['y'] }).ports, ['80/TCP', '8080/TCP', '9090/TCP']);
  const y = policyMatrix(model, { namespaces: ['y'] });
  t.deepEqual(y.pairs.find((p) => p.from === 'y/a' && p.to === 'y/b'), { from: 'y/a', to: 'y/b', allowed: ['8080/TCP'], denied: ['80/TCP', '9090/TCP'] });
  t.throws(() => policyMatrix(model, { namespaces: ['nope'] }), { instanceOf: QueryError, message: /no pod NetworkPolicy applies to in namespace nope/ });
});

const denyBIngress = networkPolicy('x', 'b-from-a', { podSelector: { matchLabels: { app: 'b' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 80 }] }] });

test('what-if apply: connections to the pods a new policy selects that it would deny', (t) => {
  const r = whatIf(model, { policies: [denyBIngress] });
  t.like(r, { action: 'apply', policies: ['x/b-from-a'], newlyAllowed: [] });
  t.deepEqual(
    r.newlyDenied.map((c) => `${c.from} -> ${c.to} ${c.port}`),
    ['y/a -> x/b 80/TCP', 'y/b -> x/b 80/TCP', 'y/c -> x/b 80/TCP'],
    'x/a -> x/b stays denied (by x/a egress), so it is no change; x/b reaching itself is never denied',
  );
  t.deepEqual(r.newlyDenied[0].because, ['ingress to x/b: isolated by x/b-from-a; DENIED: no rule allows y/a on 80/TCP']);
  t.is(r.checked, 5, 'to x/b, on the one port it declares');
});

test('what-if apply replaces a policy of the same name', (t) => {
  const narrower = networkPolicy('y', 'allow-x', { podSelector: { matchLabels: { app: 'b' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }], ports: [{ port: 81 }] }] });
  const r = whatIf(model, { policies: [narrower], ports: [{ protocol: 'tcp', port: 81 }] });
  t.deepEqual(r.newlyDenied.map((c) => `${c.from} -> ${c.to} ${c.port}`), ['x/a -> y/b 80/TCP', 'x/b -> y/b 80/TCP'], 'y/c declares no port 80: not checked');
  t.deepEqual(r.newlyAllowed.map((c) => `${c.from} -> ${c.to} ${c.port}`), ['x/b -> y/b 81/TCP', 'x/b -> y/c 81/TCP'], 'x/a may not send to 81 (its egress)');
});

test('what-if delete: what removing the deny-all would open', (t) => {
  const r = whatIf(model, { policies: [networkPolicy('y', 'deny-all', {})], delete: true, ports: [{ protocol: 'tcp', port: 80 }] });
  t.deepEqual(r.newlyAllowed.map((c) => `${c.from} -> ${c.to} ${c.port}`), ['x/a -> y/a 80/TCP', 'x/b -> y/a 80/TCP', 'y/b -> y/a 80/TCP', 'y/c -> y/a 80/TCP'], 'y/a reaching itself was allowed already');
  t.deepEqual(r.newlyDenied, []);
  t.deepEqual(r.newlyAllowed[0].because, ['ingress to y/a: allowed, not isolated (no NetworkPolicy selects y/a for ingress)']);
});

test('what-if refuses invalid policies, other kinds, and deleting what is not there', (t) => {
  const invalid = networkPolicy('x', 'bad', { podSelector: {}, ingress: [{ ports: [{ port: 'Not_A_Name' }] }] });
  t.throws(() => whatIf(model, { policies: [invalid] }), { instanceOf: QueryError, message: /^NetworkPolicy x\/bad is invalid \(the API server would refuse it\): spec.ingress\[0\].ports\[0\].port/ });
  t.throws(() => whatIf(model, { policies: [networkPolicy('x', 'nope', {})], delete: true }), { message: 'no NetworkPolicy x/nope in test objects to delete' });
  t.throws(() => whatIf(model, { policies: [{ ...denyBIngress, kind: 'Pod' }] }), { message: 'Pod x/b-from-a: what-if takes NetworkPolicy objects only' });
});
