/**
 * `policy trace` from objects (policy/explain/): verdicts from the reference evaluator, and the
 * words around them: the isolating policies, the rule, peer and port that allowed, what each
 * rule lacks on a denial; through a Service, every ready endpoint after the DNAT.
 */
import test from 'ava';
import { PolicyEvaluator } from '../../policy/evaluate';
import { explainDirection, UNATTRIBUTED } from '../../policy/explain/direction';
import { PolicyModel } from '../../policy/explain/model';
import { QueryError, type PortSpec } from '../../policy/explain/query';
import { trace } from '../../policy/explain/trace';
import { clusterObjects } from '../helpers/policy-objects';

const model = PolicyModel.fromObjects(clusterObjects(), { source: 'test objects' });
const tcp = (port: number): PortSpec => ({ protocol: 'tcp', port });
const one = (from: string, to: string, port: PortSpec) => {
  const r = trace(model, { from, to, port });
  if (r.paths.length !== 1) throw new Error(`expected one path, got ${r.paths.length}`);
  return { ...r, path: r.paths[0] };
};

test('allowed: each direction names its policies, and the rule, peer and port that allowed', (t) => {
  const r = one('x/a', 'y/b', tcp(80));
  t.is(r.verdict, 'allowed');
  t.deepEqual(r.from, { pod: 'x/a', address: '10.244.0.1' });
  t.deepEqual(r.path.egress.allowedBy, [{ policy: 'x/a-egress', rule: 2, peer: 'namespaceSelector {ns: y}', port: '80/TCP' }]);
  t.deepEqual(r.path.ingress.policies, ['y/allow-a-web', 'y/allow-x', 'y/deny-all']);
  t.deepEqual(r.path.ingress.withoutRules, ['y/deny-all']);
  t.deepEqual(r.path.ingress.allowedBy, [{ policy: 'y/allow-x', rule: 1, peer: 'namespaceSelector {ns: x}', port: '80/TCP' }]);
  t.is(
    r.path.ingress.text,
    'ingress to y/b: isolated by y/allow-a-web, y/allow-x, y/deny-all (no ingress rules); allowed by y/allow-x ingress rule 1: peer namespaceSelector {ns: x}, port 80/TCP',
  );
  t.deepEqual(r.path.ingress.notAllowedBy, [], 'misses are listed for denials only');
});

test('denied: what each rule of the isolating policies lacks', (t) => {
  const r = one('x/a', 'y/b', tcp(8080));
  t.is(r.verdict, 'denied');
  t.true(r.path.egress.allowed, '"web" resolves to 8080 on the destination y/b');
  t.is(r.path.egress.allowedBy[0].port, 'web/TCP (8080 on y/b)');
  t.false(r.path.ingress.allowed);
  t.deepEqual(
    r.path.ingress.notAllowedBy.map((m) => [m.policy, m.rule, m.missing]),
    [
      ['y/allow-a-web', 1, 'peer'],
      ['y/allow-x', 1, 'port'],
    ],
  );
  t.is(r.path.ingress.notAllowedBy[0].admits, 'from namespaceSelector {ns: y} and podSelector {app: a} on web/TCP');
  t.regex(r.path.ingress.text, /DENIED: no rule allows x\/a on 8080\/TCP$/);
});

test('namespaceSelector with podSelector, and a named port that differs per destination pod', (t) => {
  const toB = one('y/a', 'y/b', tcp(8080));
  t.true(toB.path.allowed);
  t.deepEqual(toB.path.ingress.allowedBy, [{ policy: 'y/allow-a-web', rule: 1, peer: 'namespaceSelector {ns: y} and podSelector {app: a}', port: 'web/TCP (8080 on y/b)' }]);
  t.false(one('y/a', 'y/c', tcp(8080)).path.allowed, 'y/c names 9090 "web", not 8080');
  t.deepEqual(
    one('y/a', 'y/c', tcp(8080)).path.ingress.notAllowedBy.map((m) => m.missing),
    ['port', 'peer and port'],
  );
  t.true(one('y/a', 'y/c', tcp(9090)).path.allowed);
  t.false(one('x/b', 'y/a', tcp(80)).path.allowed, 'y/a is isolated by the deny-all alone');
  t.regex(one('x/b', 'y/a', tcp(80)).path.ingress.text, /isolated by y\/deny-all \(no ingress rules\); DENIED/);
});

test('ipBlock with except, for egress to addresses outside the cluster', (t) => {
  const out = one('x/a', '10.2.3.4', tcp(443));
  t.is(out.verdict, 'allowed');
  t.deepEqual(out.path.egress.allowedBy, [{ policy: 'x/a-egress', rule: 1, peer: 'ipBlock 10.0.0.0/8 except 10.1.0.0/16', port: '443/TCP' }]);
  t.is(out.path.ingress.text, 'ingress to 10.2.3.4: allowed, 10.2.3.4 is not a pod: no NetworkPolicy applies');
  const excepted = one('x/a', '10.1.2.3', tcp(443));
  t.is(excepted.verdict, 'denied');
  t.deepEqual(excepted.path.egress.notAllowedBy.map((m) => [m.rule, m.missing]), [[1, 'peer'], [2, 'peer and port']]);
  t.false(one('x/a', 'x/b', tcp(80)).path.allowed, 'x/a may reach namespace y only, on 80 and "web"');
  t.true(one('x/a', 'x/b', tcp(443)).path.allowed, 'a pod address inside the ipBlock is matched by it');
});

test('an address that is a pod is that pod; a hostNetwork pod is matched by no pod selector', (t) => {
  t.is(one('10.244.0.1', 'y/b', tcp(80)).from.pod, 'x/a');
  const host = one('x/host', 'y/b', tcp(80));
  t.is(host.verdict, 'denied', 'namespaceSelector {ns: x} selects pods, not the host network');
  t.regex(host.path.egress.text, /x\/host is not a pod NetworkPolicy applies to/);
});

test('through a Service: every ready endpoint, at the port its slice gives', (t) => {
  const r = trace(model, { from: 'y/a', to: 'svc/y/web', port: tcp(80) });
  t.is(r.verdict, 'allowed');
  t.like(r.service, { service: 'y/web', clusterIp: '10.96.0.10', source: 'EndpointSlices' });
  t.deepEqual(
    r.paths.map((p) => [p.to.pod, p.to.address, p.port, p.allowed]),
    [
      ['y/b', '10.244.1.2', 8080, true],
      ['y/c', '10.244.1.3', 9090, true],
    ],
    'the endpoint that is not ready is left out',
  );
  const byIp = trace(model, { from: 'x/a', to: '10.96.0.10', port: tcp(80) });
  t.is(byIp.to.service, 'y/web', 'a cluster IP is its Service');
  t.is(byIp.verdict, 'denied', 'y/allow-x admits port 80, and the packet arrives on 8080 or 9090');
  const chosen = trace(model, { from: 'y/a', to: 'svc/y/web', port: tcp(80), endpoint: 'y/c' });
  t.deepEqual(chosen.paths.map((p) => p.to.pod), ['y/c']);
  t.throws(() => trace(model, { from: 'y/a', to: 'svc/y/web', port: tcp(80), endpoint: '10.244.1.9' }), { instanceOf: QueryError, message: /not an endpoint of service y\/web port 80\/TCP \(endpoints: y\/b, y\/c\)/ });
  t.throws(() => trace(model, { from: 'y/a', to: 'svc/y/web', port: tcp(81) }), { message: 'service y/web has no port 81/TCP (ports: 80/TCP)' });
});

test('a Service without EndpointSlices: the pods its selector matches, said so', (t) => {
  const r = trace(model, { from: 'x/a', to: 'y/back', port: tcp(80) });
  t.is(r.verdict, 'allowed to some endpoints');
  t.is(r.service?.source, 'selector');
  t.deepEqual(r.paths.map((p) => [p.to.pod, p.allowed]), [['y/a', false], ['y/b', true]]);
  t.true(r.notes.some((n) => n.includes('no EndpointSlice for y/back')));
});

test('unknown pods and services, and bad ends, are one clear error', (t) => {
  t.throws(() => trace(model, { from: 'x/nope', to: 'y/b', port: tcp(80) }), { instanceOf: QueryError, message: 'no pod x/nope in test objects (pods in x: a, b, host)' });
  t.throws(() => trace(model, { from: 'x/a', to: 'svc/y/nope', port: tcp(80) }), { message: 'no service y/nope in test objects' });
  t.throws(() => trace(model, { from: 'x/a', to: 'pod/y/web', port: tcp(80) }), { message: /no pod y\/web .*y\/web is a Service: svc\/y\/web/ });
  t.throws(() => trace(model, { from: 'nonsense', to: 'y/b', port: tcp(80) }), { message: '--from "nonsense": expected NS/POD or an IP address' });
  t.throws(() => trace(model, { from: 'svc/y/web', to: 'y/b', port: tcp(80) }), { instanceOf: QueryError });
});

test('the words agree with the evaluator, and the model (policies parsed as questions reach them) with the reference evaluator', (t) => {
  // A fresh model answers before anything made it read every policy: the lazy path is compared.
  const fresh = PolicyModel.fromObjects(clusterObjects(), { source: 'test objects' });
  const addresses = [...model.pods.map((p) => p.address), '10.2.3.4', '10.1.2.3', '8.8.8.8'];
  const lazily = addresses.flatMap((src) => addresses.map((dst) => fresh.evaluator.explain({ src, dst, protocol: 'tcp', port: 80 })));
  const reference = new PolicyEvaluator(model.input);
  t.deepEqual(lazily, addresses.flatMap((src) => addresses.map((dst) => reference.explain({ src, dst, protocol: 'tcp', port: 80 }))));
  let checked = 0;
  for (const src of addresses) {
    for (const dst of addresses) {
      for (const port of [tcp(80), tcp(443), tcp(8080), tcp(9090), { protocol: 'udp' as const, port: 80 }]) {
        const query = { src, dst, protocol: port.protocol, port: port.port };
        const verdict = model.evaluator.explain(query);
        t.deepEqual(verdict, reference.explain(query));
        const ends = { src: { pod: model.podAt(src), address: src }, dst: { pod: model.podAt(dst), address: dst } };
        for (const [v, local, peer] of [
          [verdict.egress, ends.src, ends.dst],
          [verdict.ingress, ends.dst, ends.src],
        ] as const) {
          const words = explainDirection(model, v, local, peer, port.protocol, port.port);
          t.is(words.allowedBy.length, v.rules.length);
          if (!v.allowed) t.true(words.notAllowedBy.length + words.withoutRules.length > 0, `${src} -> ${dst} ${port.port}: a denial says why`);
          // Attribution finds a matching peer and port for every admitting rule.
          for (const m of words.allowedBy) t.false(m.peer === UNATTRIBUTED || m.port === UNATTRIBUTED, `${src} -> ${dst} ${port.port}`);
          checked++;
        }
      }
    }
  }
  t.true(checked > 500);
});
