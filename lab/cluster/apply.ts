/**
 * `lab apply -f FILE|DIR [--delete]`: creates, updates or deletes objects as `kubectl apply` and
 * `kubectl delete -f` would against a cluster whose API server, scheduler, kubelets and
 * EndpointSlice controller the lab plays:
 *
 * - Namespace, NetworkPolicy, Service and EndpointSlice objects are stored in the manifests
 *   directory the agents watch (Namespaces get the kubernetes.io/metadata.name label, Services a
 *   ClusterIP from 10.96.0.0/16).
 * - A new Pod is scheduled (spec.nodeName, else the node with the fewest pods), gets a network
 *   namespace, is attached through CNI ADD and runs a server on the ports it declares; its
 *   status (podIPs, hostIP, phase) is stored with it. An existing Pod may change only its labels
 *   and annotations (as in Kubernetes), which changes nothing on the network side.
 * - Deleting a Pod detaches it (CNI DEL), stops its server and removes its namespace; deleting a
 *   Namespace deletes everything in it.
 * - Services with a selector get their EndpointSlices, kept up to date on every apply.
 *
 * Every object is checked before anything changes; if a pod cannot be attached, the pods this
 * apply created are removed again and nothing is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { objectKey, type KubeObject } from '../../agent/objects';
import { MANIFEST_EXTENSIONS, parseManifests } from '../../agent/sources/manifest-files';
import { bounded } from './bounded';
import { endpointSliceChanges } from './endpoints';
import { namespaceObject } from './kube';
import { withLabLock } from './lock';
import { deleteObject, readObjects, writeObject } from './manifests';
import { labPaths, validateLabName, type LabPaths } from './names';
import { podNetworkSpec, servedPorts } from './pod-spec';
import { attachPod, detachPod } from './pods';
import { admitService } from './services';
import { ATTACH_CONCURRENCY } from './up';
import { loadState, saveState, sortPods, type LabState, type NodeRecord, type PodRecord } from './state';

export interface ApplyOptions {
  name: string;
  root: string;
  /** Files and directories (their .yaml/.yml/.json files, not recursive), or "-" for stdin. */
  files: string[];
  delete?: boolean;
  /** Reads stdin for "-". */
  stdin?: () => string;
}

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'deleted' | 'not found';

export interface ApplyChange {
  kind: string;
  namespace?: string;
  name: string;
  action: ApplyAction;
  /** For pods: where they run and their addresses. */
  detail?: string;
}

/** Namespaces Kubernetes refuses to delete. */
const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);

/** Reads and parses every input; any object that cannot be used fails the whole apply. */
export function readInputs(files: string[], stdin: () => string = () => fs.readFileSync(0, 'utf8')): KubeObject[] {
  if (files.length === 0) throw new Error('no input: give -f FILE or -f DIR');
  const objects: KubeObject[] = [];
  const problems: string[] = [];
  for (const input of files) {
    let sources: { file: string; text: string }[];
    if (input === '-') sources = [{ file: 'stdin.yaml', text: stdin() }];
    else {
      let stat: fs.Stats;
      try {
        stat = fs.statSync(input);
      } catch {
        throw new Error(`the path ${JSON.stringify(input)} does not exist`);
      }
      const list = stat.isDirectory()
        ? fs.readdirSync(input).filter((f) => MANIFEST_EXTENSIONS.some((e) => f.endsWith(e)) && !f.startsWith('.')).sort().map((f) => path.join(input, f))
        : [input];
      if (list.length === 0) throw new Error(`no .yaml, .yml or .json files in ${input}`);
      sources = list.map((file) => ({ file, text: fs.readFileSync(file, 'utf8') }));
    }
    for (const { file, text } of sources) {
      const parsed = parseManifests(text, file);
      for (const s of parsed.skipped) problems.push(`${s.where}: ${s.reason}`);
      objects.push(...parsed.objects);
    }
  }
  if (problems.length > 0) throw new Error(`invalid input, nothing applied:\n  ${problems.join('\n  ')}`);
  const seen = new Set<string>();
  for (const o of objects) {
    if (o.kind === 'Node') throw new Error(`Node/${o.metadata.name}: nodes belong to the lab (lab up --nodes); nothing applied`);
    const key = objectKey(o);
    if (seen.has(key)) throw new Error(`${key} is given more than once; nothing applied`);
    seen.add(key);
  }
  return objects;
}

/** JSON with sorted keys: specs compared regardless of the order a file lists fields in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const change = (o: KubeObject, action: ApplyAction, detail?: string): ApplyChange => ({
  kind: o.kind,
  ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
  name: o.metadata.name,
  action,
  ...(detail ? { detail } : {}),
});

const podDetail = (p: PodRecord) => `${p.node} ${p.ips.join(',')}`;

function specWithoutNode(spec: Record<string, unknown> | undefined): Record<string, unknown> {
  const copy = { ...(spec ?? {}) };
  delete copy.nodeName;
  return copy;
}

interface Plan {
  creates: { object: KubeObject; node: NodeRecord; ports: ReturnType<typeof podNetworkSpec>['ports'] }[];
  relabels: { pod: PodRecord; object: KubeObject }[];
  /** Namespaces first, then the rest (Services, NetworkPolicies, EndpointSlices). */
  writes: KubeObject[];
  changes: ApplyChange[];
  /** Input position of each object, to report in the order of the files. */
  order: Map<string, number>;
}

const changeKey = (c: ApplyChange) => `${c.kind}/${c.namespace ? `${c.namespace}/` : ''}${c.name}`;

function planApply(state: LabState, current: Map<string, KubeObject>, inputs: KubeObject[]): Plan {
  const plan: Plan = { creates: [], relabels: [], writes: [], changes: [], order: new Map(inputs.map((o, i) => [objectKey(o), i])) };
  const namespaces = new Set([...current.values()].filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
  for (const o of inputs) if (o.kind === 'Namespace') namespaces.add(o.metadata.name);
  const pods = new Map(state.pods.map((p) => [objectKey(p.object), p]));
  const load = new Map(state.nodes.map((n) => [n.name, state.pods.filter((p) => p.node === n.name).length]));
  const admitted = new Map(current);
  // Namespaces before what lives in them, as kubectl applies files in order.
  const ordered = [...inputs.filter((o) => o.kind === 'Namespace'), ...inputs.filter((o) => o.kind !== 'Namespace')];
  for (const o of ordered) {
    const key = objectKey(o);
    const ns = o.metadata.namespace;
    if (ns !== undefined && !namespaces.has(ns)) throw new Error(`${key}: namespaces "${ns}" not found (apply the Namespace too)`);
    if (o.kind === 'Pod') {
      const net = podNetworkSpec(o);
      const existing = pods.get(key);
      if (existing) {
        if (canonical(specWithoutNode(o.spec)) !== canonical(specWithoutNode(existing.object.spec)) || (net.nodeName && net.nodeName !== existing.node)) {
          throw new Error(`${key}: Forbidden: pod updates may not change fields other than labels and annotations (delete it first: lab apply --delete)`);
        }
        const object = { ...existing.object, metadata: { ...existing.object.metadata, labels: o.metadata.labels, annotations: o.metadata.annotations } };
        if (canonical(object.metadata) === canonical(existing.object.metadata)) plan.changes.push(change(o, 'unchanged', podDetail(existing)));
        else {
          plan.relabels.push({ pod: existing, object });
          plan.changes.push(change(o, 'configured', podDetail(existing)));
        }
        continue;
      }
      let node: NodeRecord | undefined;
      if (net.nodeName) {
        node = state.nodes.find((n) => n.name === net.nodeName);
        if (!node) throw new Error(`${key}: spec.nodeName ${JSON.stringify(net.nodeName)} is not a node of lab ${state.name} (${state.nodes.map((n) => n.name).join(', ')})`);
      } else {
        // The scheduler's simplest sensible choice: the node with the fewest pods, lowest first.
        node = [...state.nodes].sort((a, b) => (load.get(a.name) ?? 0) - (load.get(b.name) ?? 0) || a.index - b.index)[0];
      }
      load.set(node.name, (load.get(node.name) ?? 0) + 1);
      plan.creates.push({ object: o, node, ports: net.ports });
      continue;
    }
    const before = current.get(key);
    let object: KubeObject = o;
    if (o.kind === 'Namespace') object = namespaceObject(o.metadata.name, { ...o, metadata: { ...o.metadata, uid: before?.metadata.uid } });
    if (o.kind === 'Service') object = admitService(o, before, admitted.values());
    admitted.set(key, object);
    if (before && canonical(before) === canonical(object)) plan.changes.push(change(o, 'unchanged'));
    else {
      plan.writes.push(object);
      plan.changes.push(change(o, before ? 'configured' : 'created'));
    }
  }
  return plan;
}

async function execApply(paths: LabPaths, state: LabState, plan: Plan): Promise<ApplyChange[]> {
  const created: PodRecord[] = [];
  try {
    await bounded(
      plan.creates.map((c) => async () => {
        created.push(await attachPod(paths.dir, state, { object: c.object, node: c.node, serves: servedPorts(c.ports, state.options.ports) }));
      }),
      ATTACH_CONCURRENCY,
    );
  } catch (err) {
    await bounded(created.map((p) => () => detachPod(paths.dir, state, p, true)), ATTACH_CONCURRENCY);
    for (const p of created) deleteObject(paths.manifests, p.object);
    saveState(paths, state);
    throw new Error(`${(err as Error).message}; nothing applied`, { cause: err });
  }
  state.pods.push(...created);
  sortPods(state);
  saveState(paths, state);
  for (const o of plan.writes.filter((w) => w.kind === 'Namespace')) writeObject(paths.manifests, o);
  for (const p of created) writeObject(paths.manifests, p.object);
  for (const r of plan.relabels) {
    r.pod.object = r.object;
    writeObject(paths.manifests, r.object);
  }
  saveState(paths, state);
  for (const o of plan.writes.filter((w) => w.kind !== 'Namespace')) writeObject(paths.manifests, o);
  const byKey = new Map(created.map((p) => [objectKey(p.object), p]));
  const changes = [...plan.changes];
  for (const c of plan.creates) {
    const pod = byKey.get(objectKey(c.object));
    if (pod) changes.push(change(c.object, 'created', podDetail(pod)));
  }
  return changes.sort((a, b) => (plan.order.get(changeKey(a)) ?? 0) - (plan.order.get(changeKey(b)) ?? 0));
}

async function execDelete(paths: LabPaths, state: LabState, current: Map<string, KubeObject>, inputs: KubeObject[]): Promise<ApplyChange[]> {
  for (const o of inputs) {
    if (o.kind === 'Namespace' && PROTECTED_NAMESPACES.has(o.metadata.name)) throw new Error(`Namespace/${o.metadata.name}: Forbidden: this namespace may not be deleted; nothing deleted`);
  }
  const changes: ApplyChange[] = [];
  const doomedNamespaces = new Set(inputs.filter((o) => o.kind === 'Namespace' && current.has(objectKey(o))).map((o) => o.metadata.name));
  const podKeys = new Set(inputs.filter((o) => o.kind === 'Pod').map(objectKey));
  const doomedPods = state.pods.filter((p) => podKeys.has(objectKey(p.object)) || doomedNamespaces.has(p.namespace));
  await bounded(doomedPods.map((p) => () => detachPod(paths.dir, state, p)), ATTACH_CONCURRENCY);
  const gone = new Set(doomedPods.map((p) => objectKey(p.object)));
  state.pods = state.pods.filter((p) => !gone.has(objectKey(p.object)));
  saveState(paths, state);
  for (const p of doomedPods) deleteObject(paths.manifests, p.object);
  for (const o of inputs) {
    const key = objectKey(o);
    const exists = current.has(key) || (o.kind === 'Pod' && gone.has(key));
    if (exists) deleteObject(paths.manifests, o);
    changes.push(change(o, exists ? 'deleted' : 'not found'));
  }
  // Everything else that lived in a deleted namespace goes with it.
  for (const obj of current.values()) if (obj.metadata.namespace && doomedNamespaces.has(obj.metadata.namespace)) deleteObject(paths.manifests, obj);
  return changes;
}

/** Brings the controller-managed EndpointSlices in line with Services and Pods. */
export function syncEndpointSlices(manifests: string): void {
  const { write, remove } = endpointSliceChanges(readObjects(manifests).values());
  for (const s of write) writeObject(manifests, s);
  for (const s of remove) deleteObject(manifests, s);
}

export async function labApply(o: ApplyOptions): Promise<ApplyChange[]> {
  validateLabName(o.name);
  const inputs = readInputs(o.files, o.stdin);
  const paths = labPaths(o.root, o.name);
  // Before taking the lock, so that a mistyped name leaves no lock file behind.
  loadState(paths, o.name);
  return withLabLock(paths.lock, o.name, async () => {
    const state = loadState(paths, o.name);
    if (state.phase !== 'ready') throw new Error(`lab ${o.name} is not ready (its lab up did not finish); run lab down and lab up again`);
    const current = readObjects(paths.manifests);
    if (o.delete) {
      const changes = await execDelete(paths, state, current, inputs);
      syncEndpointSlices(paths.manifests);
      return changes;
    }
    let plan: Plan;
    try {
      plan = planApply(state, current, inputs);
    } catch (err) {
      throw new Error(`${(err as Error).message}; nothing applied`, { cause: err });
    }
    const changes = await execApply(paths, state, plan);
    syncEndpointSlices(paths.manifests);
    return changes;
  });
}
