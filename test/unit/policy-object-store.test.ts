/** The object store offline models read (policy/explain/object-store.ts): what the agent's cache would answer for the same objects. */
import test from 'ava';
import { ObjectCache } from '../../agent/cache';
import { validateObject, type KubeObject } from '../../agent/objects';
import { ObjectStore } from '../../policy/explain/object-store';

const object = (raw: Record<string, unknown>): KubeObject => {
  const checked = validateObject(raw);
  if (!checked.ok) throw new Error(checked.reason);
  return checked.object;
};

const pod = (namespace: string, name: string, ip: string) => object({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, status: { podIP: ip } });

test('answers as the agent cache does: later definitions in the place of the first, by kind, namespace and name', (t) => {
  const objects = [
    pod('a', 'web', '10.0.0.1'),
    object({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }),
    pod('b', 'web', '10.0.0.2'),
    pod('a', 'db', '10.0.0.3'),
    pod('a', 'web', '10.0.0.4'),
    object({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'a' } }),
    object({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'a', labels: { 'kubernetes.io/service-name': 'web' } } }),
    object({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } }),
  ];
  const store = new ObjectStore();
  t.deepEqual(
    objects.map((o) => store.add(o)),
    [true, true, true, true, false, true, true, true],
  );
  const cache = new ObjectCache();
  for (const o of objects) cache.apply({ type: 'ADDED', object: o });
  for (const kind of ['Pod', 'Namespace', 'Service', 'EndpointSlice', 'Node', 'NetworkPolicy'] as const) t.deepEqual(store.list(kind), cache.list(kind), kind);
  t.deepEqual(store.list('Pod').map((p) => p.status?.podIP), ['10.0.0.4', '10.0.0.2', '10.0.0.3']);
  t.is(store.get('Pod', 'web', 'a'), cache.get('Pod', 'web', 'a'));
  t.is(store.get('Pod', 'web', 'c'), undefined);
  t.is(store.get('Node', 'n1'), cache.get('Node', 'n1'));
  t.deepEqual(store.endpointSlicesOf('a', 'web'), cache.endpointSlicesOf('a', 'web'));
  t.deepEqual(store.endpointSlicesOf('b', 'web'), []);
  t.deepEqual(ObjectStore.of(objects).list('Pod'), store.list('Pod'));
});
