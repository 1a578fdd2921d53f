/**
 * deploy/kubernetes against the Kubernetes API schema, offline. kubectl's own validation needs
 * the server's OpenAPI document (there is none here: no cluster, no internet), so the manifests
 * are checked against the API types of the client library weft already uses,
 * @kubernetes/client-node, generated from Kubernetes' OpenAPI (v1.34): every field must exist in
 * its type (what `kubectl apply --validate=strict` refuses as "unknown field"), have the right
 * JSON type, and required fields must be present. The checker is tested on broken manifests first,
 * so that a checker accepting everything cannot pass.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

const ROOT = path.join(__dirname, '..', '..', '..');
const DIR = path.join(ROOT, 'deploy', 'kubernetes');
const MODELS = path.join(path.dirname(require.resolve('@kubernetes/client-node/package.json')), 'dist', 'gen', 'models');

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

interface Model {
  getAttributeTypeMap(): Attribute[];
}

function model(type: string): Model | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[type];
  return typeof candidate === 'function' && 'getAttributeTypeMap' in candidate ? (candidate as unknown as Model) : undefined;
}

const requiredCache = new Map<string, string[]>();

/** Required fields of a type: the generated declarations mark the others optional (`'name'?:`). */
function requiredFields(type: string): string[] {
  let fields = requiredCache.get(type);
  if (!fields) {
    const decl = fs.readFileSync(path.join(MODELS, `${type}.d.ts`), 'utf8');
    fields = [...decl.matchAll(/^\s+'([^']+)': /gm)].map((m) => m[1]);
    requiredCache.set(type, fields);
  }
  return fields;
}

/** apps/v1 DaemonSet -> V1DaemonSet, as the client library names its types. */
export function typeOf(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop() ?? '';
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

/** Every problem of `value` as an instance of `type`, with the path to it. */
export function schemaErrors(value: unknown, type: string, where = ''): string[] {
  const at = where || '.';
  if (type === 'any' || type === 'object') return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return [`${at}: expected a list (${type})`];
    return value.flatMap((item, i) => schemaErrors(item, array[1], `${where}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected a map (${type})`];
    return Object.entries(value).flatMap(([k, v]) => schemaErrors(v, map[1], `${where}.${k}`));
  }
  switch (type) {
    case 'string':
    case 'Date':
      return typeof value === 'string' ? [] : [`${at}: expected a string, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' ? [] : [`${at}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${at}: expected true or false, got ${JSON.stringify(value)}`];
    case 'IntOrString':
      return typeof value === 'string' || Number.isInteger(value) ? [] : [`${at}: expected an integer or a string, got ${JSON.stringify(value)}`];
  }
  const m = model(type);
  if (!m) return [`${at}: no type ${type} in the API`];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected an object (${type})`];
  const attributes = new Map(m.getAttributeTypeMap().map((a) => [a.baseName, a]));
  const errors: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const attribute = attributes.get(key);
    if (!attribute) errors.push(`${where}.${key}: unknown field in ${type}`);
    else if (attribute.format === 'int32' || attribute.format === 'int64') {
      if (!Number.isInteger(v)) errors.push(`${where}.${key}: expected an integer, got ${JSON.stringify(v)}`);
    } else errors.push(...schemaErrors(v, attribute.type, `${where}.${key}`));
  }
  for (const field of requiredFields(type)) if (!(field in value)) errors.push(`${where}.${field}: required in ${type}`);
  return errors;
}

function documentErrors(doc: Record<string, unknown>): string[] {
  const type = typeOf(String(doc.apiVersion), String(doc.kind));
  if (!model(type)) return [`${String(doc.apiVersion)} ${String(doc.kind)}: not an API kind`];
  return schemaErrors(doc, type);
}

function manifests(): { file: string; doc: Record<string, unknown> }[] {
  return fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((file) =>
      parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8')).map((d) => {
        if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
        return { file, doc: d.toJS() as Record<string, unknown> };
      }),
    );
}

const MINIMAL_DAEMONSET = `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      hostNetwork: true
      containers:
        - name: c
          image: i
          volumeMounts: [{name: v, mountPath: /v, mountPropagation: HostToContainer}]
          livenessProbe: {httpGet: {path: /healthz, port: 9764}}
          resources: {requests: {cpu: 50m}}
      volumes: [{name: v, hostPath: {path: /v}}]
`;

test('the checker accepts a valid DaemonSet and finds unknown fields, wrong types and missing required fields', (t) => {
  const valid = parseAllDocuments(MINIMAL_DAEMONSET)[0].toJS() as Record<string, unknown>;
  t.deepEqual(documentErrors(valid), []);
  const broken = (edit: (ds: { spec: { selector?: unknown; template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } } }) => void) => {
    const ds = structuredClone(valid) as never;
    edit(ds);
    return documentErrors(ds);
  };
  t.deepEqual(
    broken((ds) => {
      ds.spec.template.spec.containers[0].volumeMounts = [{ name: 'v', mountPath: '/v', mountPropogation: 'HostToContainer' }];
    }),
    ['.spec.template.spec.containers[0].volumeMounts[0].mountPropogation: unknown field in V1VolumeMount'],
  );
  t.deepEqual(
    broken((ds) => {
      ds.spec.template.spec.hostNetwork = 'yes';
    }),
    ['.spec.template.spec.hostNetwork: expected true or false, got "yes"'],
  );
  t.deepEqual(
    broken((ds) => {
      delete ds.spec.selector;
    }),
    ['.spec.selector: required in V1DaemonSetSpec'],
  );
  t.deepEqual(
    broken((ds) => {
      delete ds.spec.template.spec.containers[0].name;
    }),
    ['.spec.template.spec.containers[0].name: required in V1Container'],
  );
  t.deepEqual(
    broken((ds) => {
      ds.spec.template.spec.terminationGracePeriodSeconds = 2.5;
    }),
    ['.spec.template.spec.terminationGracePeriodSeconds: expected an integer, got 2.5'],
  );
  t.deepEqual(documentErrors({ apiVersion: 'apps/v1', kind: 'DeamonSet', metadata: { name: 'x' } }), ['apps/v1 DeamonSet: not an API kind']);
});

test('every manifest in deploy/kubernetes is valid against the Kubernetes API types', (t) => {
  const all = manifests();
  t.deepEqual(all.map((m) => `${m.file}: ${String(m.doc.kind)}`).sort(), [
    'daemonset.yaml: DaemonSet',
    'rbac.yaml: ClusterRole',
    'rbac.yaml: ClusterRoleBinding',
    'rbac.yaml: ServiceAccount',
  ]);
  for (const { file, doc } of all) t.deepEqual(documentErrors(doc), [], `${file} ${String(doc.kind)}`);
});
