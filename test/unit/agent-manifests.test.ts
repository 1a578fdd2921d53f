import test from 'ava';
import { ObjectCache } from '../../agent/cache';
import { objectKey, validateObject, type KubeObject } from '../../agent/objects';
import { parseManifests } from '../../agent/sources/manifest-files';
import { parseAllDocuments } from 'yaml';

const YAML = `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {team: web}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: shop
  labels: {app: web, tier: front}
spec:
  nodeName: node-1
---
# an empty document is fine
---
apiVersion: v1
kind: Pod
metadata: {name: no-namespace}
`;

test('multi-document YAML: objects in order, cluster-scoped kinds without namespace, default namespace filled in', (t) => {
  const { objects, skipped } = parseManifests(YAML, 'a.yaml');
  t.deepEqual(skipped, []);
  t.deepEqual(objects.map(objectKey), ['Namespace/shop', 'Pod/shop/web-0', 'Pod/default/no-namespace']);
});

test('JSON files and List wrappers', (t) => {
  const list = { apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } }, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api' } }] };
  const { objects } = parseManifests(JSON.stringify(list), 'l.json');
  t.deepEqual(objects.map(objectKey), ['Node/node-1', 'Service/default/api']);
});

test('invalid documents are reported with where and why, the rest is kept', (t) => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: Bad_Name}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
kind: Pod
metadata: {name: x}
---
apiVersion: v1
kind: Pod
metadata: {name: ok, labels: {a: 1}}
---
key: [unclosed
---
apiVersion: v1
kind: Pod
metadata: {name: good}
`;
  const { objects, skipped } = parseManifests(text, 'm.yaml');
  t.deepEqual(objects.map(objectKey), ['Pod/default/good']);
  t.deepEqual(skipped.map((s) => s.where), ['m.yaml document 1', 'm.yaml document 2', 'm.yaml document 3', 'm.yaml document 4', 'm.yaml document 5']);
  t.regex(skipped[0].reason, /invalid name "Bad_Name"/);
  t.regex(skipped[1].reason, /kind "ConfigMap" is not one weft watches/);
  t.regex(skipped[2].reason, /apiVersion missing/);
  t.regex(skipped[3].reason, /labels must map strings to strings/);
  t.regex(skipped[4].reason, /invalid YAML/);
  t.deepEqual(parseManifests('{"kind": ', 'x.json').skipped.map((s) => s.where), ['x.json']);
});

test('YAML without errors (the fast reader) reads as the precise reader reads it: documents, their numbers, core schema scalars', (t) => {
  const podText = (name: string, labels: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, labels: {${labels}}}\nspec: {nodeName: n}\n`;
  const texts = [
    YAML,
    `---\n${podText('a', 'x: y')}`,
    `${podText('a', 'x: y')}---\n---\n${podText('b', 'x: "2024-01-01T00:00:00Z"')}---\n`,
    `# a comment\n${podText('a', 'on: yes, off: no, t: 2024-01-01T00:00:00Z')}...\n---\n${podText('b', 'n: 0o17')}`,
    `${podText('a', 'hex: 0x1f')}---\n# only a comment\n---\n${podText('b', 'e: ~')}`,
    '',
  ];
  for (const text of texts) {
    // What the precise reader (yaml) gives, document by document, as parseManifests reads documents.
    const expected = { objects: [] as KubeObject[], skipped: [] as { where: string; reason: string }[] };
    parseAllDocuments(text).forEach((doc, i) => {
      const js = doc.toJS() as unknown;
      if (js === null || js === undefined) return;
      const checked = validateObject(js);
      if (checked.ok) expected.objects.push(checked.object);
      else expected.skipped.push({ where: `m.yaml document ${i + 1}`, reason: checked.reason });
    });
    t.deepEqual(parseManifests(text, 'm.yaml'), expected, text);
  }
});

function pod(name: string, labels: Record<string, string>, nodeName?: string, namespace = 'shop'): KubeObject {
  const checked = validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec: nodeName ? { nodeName } : {} });
  if (!checked.ok) throw new Error(checked.reason);
  return checked.object;
}

test('cache indexes follow adds, relabels, moves and deletes', (t) => {
  const cache = new ObjectCache();
  t.true(cache.apply({ type: 'ADDED', object: pod('a', { app: 'web', tier: 'front' }, 'n1') }));
  t.true(cache.apply({ type: 'ADDED', object: pod('b', { app: 'web' }, 'n2') }));
  t.true(cache.apply({ type: 'ADDED', object: pod('c', { app: 'web' }, 'n1', 'other') }));
  const names = (objs: KubeObject[]) => objs.map((o) => o.metadata.name).sort();
  t.deepEqual(names(cache.podsWithLabels('shop', { app: 'web' })), ['a', 'b']);
  t.deepEqual(names(cache.podsWithLabels('shop', { app: 'web', tier: 'front' })), ['a']);
  t.deepEqual(names(cache.podsWithLabels('shop', {})), ['a', 'b']);
  t.deepEqual(names(cache.podsOnNode('n1')), ['a', 'c']);
  // Same object again: no change.
  t.false(cache.apply({ type: 'MODIFIED', object: pod('a', { app: 'web', tier: 'front' }, 'n1') }));
  // Relabel: old label entries go.
  t.true(cache.apply({ type: 'MODIFIED', object: pod('a', { app: 'db' }, 'n1') }));
  t.deepEqual(names(cache.podsWithLabels('shop', { app: 'web' })), ['b']);
  t.deepEqual(names(cache.podsWithLabels('shop', { tier: 'front' })), []);
  t.true(cache.apply({ type: 'DELETED', object: pod('c', {}, 'n1', 'other') }));
  t.false(cache.apply({ type: 'DELETED', object: pod('c', {}, 'n1', 'other') }));
  t.deepEqual(names(cache.podsOnNode('n1')), ['a']);
  t.is(cache.counts().Pod, 2);
  t.is(cache.get('Pod', 'b', 'shop')?.metadata.name, 'b');
});

test('endpoint slices are found by their service', (t) => {
  const cache = new ObjectCache();
  const slice = (name: string, service: string) => {
    const checked = validateObject({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': service } }, endpoints: [] });
    if (!checked.ok) throw new Error(checked.reason);
    return checked.object;
  };
  cache.apply({ type: 'ADDED', object: slice('api-1', 'api') });
  cache.apply({ type: 'ADDED', object: slice('api-2', 'api') });
  cache.apply({ type: 'ADDED', object: slice('db-1', 'db') });
  t.deepEqual(cache.endpointSlicesOf('shop', 'api').map((s) => s.metadata.name).sort(), ['api-1', 'api-2']);
  t.deepEqual(cache.endpointSlicesOf('other', 'api'), []);
});
