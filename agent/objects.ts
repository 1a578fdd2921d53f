/**
 * The Kubernetes objects weft-agent consumes, as they arrive from a source (the API server or a
 * manifests directory): only the envelope is typed here; each compiler reads the fields it needs
 * from `spec`/`status`. validateObject turns untrusted input into a typed object or a reason.
 */

/**
 * The kinds the agent watches. ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2) is served
 * by a CRD most clusters do not install: the Kubernetes source treats it as optional (see
 * agent/sources/kube-list.ts, KIND_PATHS).
 */
export const WATCHED_KINDS = ['NetworkPolicy', 'Service', 'EndpointSlice', 'Pod', 'Namespace', 'Node', 'ClusterNetworkPolicy'] as const;
export type WatchedKind = (typeof WATCHED_KINDS)[number];

/** Every kind weft reads: the watched ones. */
export type ObjectKind = WatchedKind;

/** What `weftctl policy ... --manifests` reads: what the agent reads. */
export const POLICY_QUESTION_KINDS: readonly ObjectKind[] = WATCHED_KINDS;

/** Kinds that are not namespaced. */
const CLUSTER_SCOPED: ReadonlySet<ObjectKind> = new Set(['Namespace', 'Node', 'ClusterNetworkPolicy']);

/** A kind whose objects have no namespace. */
export function isClusterScoped(kind: ObjectKind): boolean {
  return CLUSTER_SCOPED.has(kind);
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject {
  apiVersion: string;
  kind: ObjectKind;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  /** EndpointSlice keeps its data at the top level. */
  [field: string]: unknown;
}

/** "Kind/namespace/name" ("Kind/name" for cluster-scoped kinds): one key per object. */
export function objectKey(obj: Pick<KubeObject, 'kind' | 'metadata'>): string {
  return obj.metadata.namespace ? `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}` : `${obj.kind}/${obj.metadata.name}`;
}

export function isWatchedKind(kind: unknown): kind is WatchedKind {
  return typeof kind === 'string' && (WATCHED_KINDS as readonly string[]).includes(kind);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringMap(v: unknown): v is Record<string, string> {
  if (!isRecord(v)) return false;
  // A loop, not Object.values(): this runs for every object of a large manifest read.
  for (const key in v) if (typeof v[key] !== 'string') return false;
  return true;
}

/** DNS-1123 subdomain, what Kubernetes requires of most object names. */
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export type Validated = { ok: true; object: KubeObject } | { ok: false; reason: string };

/**
 * Checks the envelope of an object from an untrusted source. Namespaced kinds without a
 * namespace get `defaultNamespace` ("default", as kubectl does). Only `kinds` are accepted: the
 * watched ones unless the reader says otherwise (policy questions read POLICY_QUESTION_KINDS).
 * The object comes back as it is when it needs no namespace change, else as a copy: the
 * caller hands over `raw`, which nobody changes after.
 */
export function validateObject(raw: unknown, defaultNamespace = 'default', kinds: readonly ObjectKind[] = WATCHED_KINDS): Validated {
  if (!isRecord(raw)) return { ok: false, reason: 'not an object' };
  const { apiVersion, kind, metadata } = raw;
  if (typeof apiVersion !== 'string' || apiVersion === '') return { ok: false, reason: 'apiVersion missing' };
  if (typeof kind !== 'string' || !(kinds as readonly string[]).includes(kind)) return { ok: false, reason: `kind ${JSON.stringify(kind)} is not one weft watches (${kinds.join(', ')})` };
  if (!isRecord(metadata)) return { ok: false, reason: `${kind} without metadata` };
  const { name, namespace, labels, annotations } = metadata;
  if (typeof name !== 'string' || name.length > 253 || !NAME.test(name)) return { ok: false, reason: `${kind} has an invalid name ${JSON.stringify(name)}` };
  if (namespace !== undefined && (typeof namespace !== 'string' || !NAME.test(namespace))) {
    return { ok: false, reason: `${kind}/${name} has an invalid namespace ${JSON.stringify(namespace)}` };
  }
  if (labels !== undefined && !isStringMap(labels)) return { ok: false, reason: `${kind}/${name}: labels must map strings to strings` };
  if (annotations !== undefined && !isStringMap(annotations)) return { ok: false, reason: `${kind}/${name}: annotations must map strings to strings` };
  for (const field of ['spec', 'status'] as const) {
    if (raw[field] !== undefined && !isRecord(raw[field])) return { ok: false, reason: `${kind}/${name}: ${field} must be an object` };
  }
  const scoped = CLUSTER_SCOPED.has(kind as ObjectKind);
  // Already as it should be (most objects): itself, not a copy (a large list is read faster).
  if (scoped ? namespace === undefined : namespace !== undefined) return { ok: true, object: raw as KubeObject };
  const meta: ObjectMeta = { ...(metadata as unknown as ObjectMeta) };
  if (scoped) delete meta.namespace;
  else meta.namespace = (namespace as string | undefined) ?? defaultNamespace;
  return { ok: true, object: { ...(raw as KubeObject), metadata: meta } };
}
