/**
 * The agent's side of policy questions without a socket: its model of the object cache is built
 * once per state of the cache (and again after a change of a kind it reads), its answers are the
 * offline answers for the same objects, and a question survives the trip through the wire format.
 */
import test from 'ava';
import { CachedPolicyModel, policyAnswerer } from '../../agent/api/policy-answers';
import { policyQueryMessage } from '../../agent/api/client';
import { policyQueryOf } from '../../agent/api/policy-query';
import { ObjectCache } from '../../agent/cache';
import type { KubeObject } from '../../agent/objects';
import { answerPolicyQuery, type PolicyQuery } from '../../policy/explain/answer';
import { PolicyModel } from '../../policy/explain/model';
import { NotFoundError, QueryError } from '../../policy/explain/query';
import type { TraceResult } from '../../policy/explain/trace';
import { clusterObjects, networkPolicy, pod } from '../helpers/policy-objects';

function cacheOf(objects: readonly KubeObject[]): ObjectCache {
  const cache = new ObjectCache();
  for (const object of objects) cache.apply({ type: 'ADDED', object });
  return cache;
}

const TRACE: PolicyQuery = { kind: 'trace', from: 'x/b', to: 'x/a', port: '80' };

test('one model per state of the cache: reused while nothing it reads changes', (t) => {
  const cache = cacheOf(clusterObjects());
  const models = new CachedPolicyModel(cache, 'the cache');
  const first = models.current();
  t.is(models.current(), first);
  t.is(models.builds, 1);
  // The same object again changes nothing in the cache.
  cache.apply({ type: 'MODIFIED', object: clusterObjects().find((o) => o.kind === 'Pod')! });
  t.is(models.current(), first);
  cache.apply({ type: 'ADDED', object: pod('x', 'c', { labels: { app: 'c' }, ips: ['10.244.0.3'] }) });
  const second = models.current();
  t.not(second, first);
  t.truthy(second.pod('x/c'));
  t.is(models.builds, 2);
  // A what-if's policies get a model of their own; the cached one stays.
  t.not(models.withFuturePolicies([networkPolicy('x', 'new', {})]), second);
  t.is(models.current(), second);
  t.is(models.builds, 3);
  // ClusterNetworkPolicies are read, and Nodes too (`nodes` peers match their addresses).
  const policy = { apiVersion: 'policy.networking.k8s.io/v1alpha2', kind: 'ClusterNetworkPolicy' as const, metadata: { name: 'guard' }, spec: { tier: 'Admin', priority: 1, subject: { namespaces: {} } } };
  cache.apply({ type: 'ADDED', object: policy });
  const third = models.current();
  t.not(third, second);
  t.deepEqual([...third.clusterPolicies.keys()], ['guard']);
  cache.apply({ type: 'ADDED', object: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n9' }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.9' }] } } });
  t.not(models.current(), third);
  t.is(models.builds, 5);
});

test("the agent's answers are the offline answers, and follow the cache", (t) => {
  const objects = clusterObjects();
  const cache = cacheOf(objects);
  const answer = policyAnswerer(cache, 'n1');
  const offline = answerPolicyQuery(TRACE, () => PolicyModel.fromObjects(objects, { source: 'manifests' }));
  t.deepEqual(answer(TRACE), offline);
  t.is((answer(TRACE).result as TraceResult).verdict, 'allowed');
  cache.apply({ type: 'ADDED', object: networkPolicy('x', 'deny-in', { podSelector: {}, policyTypes: ['Ingress'] }) });
  t.is((answer(TRACE).result as TraceResult).verdict, 'denied');
  const unknown = t.throws(() => answer({ kind: 'explain', pod: 'x/nope' }));
  t.true(unknown instanceof NotFoundError);
  t.is(unknown?.message, 'no pod x/nope in the objects of the agent on n1 (pods in x: a, b, host)');
  const badPort = t.throws(() => answer({ kind: 'matrix', ports: ['99999'] }));
  t.true(badPort instanceof QueryError && !(badPort instanceof NotFoundError));
});

test('questions through the wire format come back as they were; a request without one is refused', (t) => {
  const queries: PolicyQuery[] = [
    { kind: 'trace', from: 'x/a', to: 'svc/y/web', port: '80/TCP', endpoint: 'y/b' },
    { kind: 'trace', from: '10.0.0.1', to: 'y/b', port: '53/udp' },
    { kind: 'explain', pod: 'y/b' },
    { kind: 'matrix', namespaces: ['x', 'y'], ports: ['80'] },
    { kind: 'what-if', policies: [networkPolicy('x', 'p', { podSelector: {} })], delete: true, namespaces: [], ports: ['80'] },
  ];
  for (const q of queries) t.deepEqual(policyQueryOf(JSON.parse(JSON.stringify(policyQueryMessage(q)))), q);
  t.throws(() => policyQueryOf({}), { instanceOf: QueryError, message: /no question/ });
  t.throws(() => policyQueryOf({ whatIf: { policiesJson: ['{'], delete: false, namespaces: [], ports: [] } }), { instanceOf: QueryError, message: /^what-if policy 1 is not JSON/ });
});
