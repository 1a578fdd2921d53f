/**
 * The agent's object cache: the latest version of every watched object, with the indexes the
 * compilers look things up by (pods by namespace, by label, by node; endpoint slices by
 * service), kept current on every event so that no compiler scans all objects.
 */
import { objectKey, WATCHED_KINDS, type KubeObject, type ObjectKind, type WatchedKind } from './objects';
import type { SourceEvent } from './sources/source';

/** The label EndpointSlices carry to name their Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** A multimap from index key to object keys. */
class Index {
  private readonly sets = new Map<string, Set<string>>();

  add(indexKey: string, key: string): void {
    let set = this.sets.get(indexKey);
    if (!set) this.sets.set(indexKey, (set = new Set()));
    set.add(key);
  }

  remove(indexKey: string, key: string): void {
    const set = this.sets.get(indexKey);
    if (!set) return;
    set.delete(key);
    if (set.size === 0) this.sets.delete(indexKey);
  }

  get(indexKey: string): ReadonlySet<string> {
    return this.sets.get(indexKey) ?? new Set();
  }
}

function nodeNameOf(pod: KubeObject): string | undefined {
  const nodeName = pod.spec?.nodeName;
  return typeof nodeName === 'string' ? nodeName : undefined;
}

export class ObjectCache {
  private readonly objects = new Map<string, KubeObject>();
  private readonly podsByNamespace = new Index();
  private readonly podsByLabel = new Index();
  private readonly podsByNode = new Index();
  private readonly slicesByService = new Index();
  /**
   * Answers of list() and endpointSlicesOf(), kept until an object they hold changes: the same
   * array while nothing changed is what lets compilers skip work by identity (proxy/compile.ts).
   */
  private readonly lists = new Map<ObjectKind, readonly KubeObject[]>();
  private readonly sliceLists = new Map<string, readonly KubeObject[]>();

  /** Applies a source event; true when the cache changed. */
  apply(event: SourceEvent): boolean {
    if (event.type !== 'ADDED' && event.type !== 'MODIFIED' && event.type !== 'DELETED') return false;
    const key = objectKey(event.object);
    const previous = this.objects.get(key);
    if (event.type === 'DELETED') {
      if (!previous) return false;
      this.unindex(key, previous);
      this.objects.delete(key);
      this.lists.delete(previous.kind);
      return true;
    }
    if (previous) {
      if (JSON.stringify(previous) === JSON.stringify(event.object)) return false;
      this.unindex(key, previous);
    }
    this.objects.set(key, event.object);
    this.lists.delete(event.object.kind);
    this.index(key, event.object);
    return true;
  }

  get(kind: WatchedKind, name: string, namespace?: string): KubeObject | undefined {
    return this.objects.get(objectKey({ kind, metadata: { name, namespace } }));
  }

  /** Every object of `kind`: the same array until one of them changes (never to be modified). */
  list(kind: ObjectKind): readonly KubeObject[] {
    let list = this.lists.get(kind);
    if (!list) this.lists.set(kind, (list = [...this.objects.values()].filter((o) => o.kind === kind)));
    return list;
  }

  counts(): Record<WatchedKind, number> {
    const counts = Object.fromEntries(WATCHED_KINDS.map((k) => [k, 0])) as Record<WatchedKind, number>;
    for (const o of this.objects.values()) if (o.kind in counts) counts[o.kind as WatchedKind]++;
    return counts;
  }

  podsInNamespace(namespace: string): KubeObject[] {
    return this.resolve(this.podsByNamespace.get(namespace));
  }

  /** Pods of `namespace` carrying every label of `labels` (an empty map matches all of them). */
  podsWithLabels(namespace: string, labels: Record<string, string>): KubeObject[] {
    const entries = Object.entries(labels);
    if (entries.length === 0) return this.podsInNamespace(namespace);
    const sets = entries.map(([k, v]) => this.podsByLabel.get(`${namespace}\0${k}=${v}`)).sort((a, b) => a.size - b.size);
    const [smallest, ...rest] = sets;
    return this.resolve(new Set([...smallest].filter((key) => rest.every((s) => s.has(key)))));
  }

  podsOnNode(nodeName: string): KubeObject[] {
    return this.resolve(this.podsByNode.get(nodeName));
  }

  /** The Service's EndpointSlices: the same array until one of them changes (never to be modified). */
  endpointSlicesOf(namespace: string, service: string): readonly KubeObject[] {
    const key = `${namespace}/${service}`;
    let slices = this.sliceLists.get(key);
    if (!slices) this.sliceLists.set(key, (slices = this.resolve(this.slicesByService.get(key))));
    return slices;
  }

  private resolve(keys: ReadonlySet<string>): KubeObject[] {
    return [...keys].map((k) => this.objects.get(k)).filter((o): o is KubeObject => o !== undefined);
  }

  private index(key: string, o: KubeObject): void {
    this.forEachIndexEntry(o, (index, indexKey) => index.add(indexKey, key));
  }

  private unindex(key: string, o: KubeObject): void {
    this.forEachIndexEntry(o, (index, indexKey) => index.remove(indexKey, key));
  }

  private forEachIndexEntry(o: KubeObject, fn: (index: Index, indexKey: string) => void): void {
    const ns = o.metadata.namespace ?? '';
    if (o.kind === 'Pod') {
      fn(this.podsByNamespace, ns);
      for (const [k, v] of Object.entries(o.metadata.labels ?? {})) fn(this.podsByLabel, `${ns}\0${k}=${v}`);
      const node = nodeNameOf(o);
      if (node) fn(this.podsByNode, node);
    } else if (o.kind === 'EndpointSlice') {
      const service = o.metadata.labels?.[SERVICE_NAME_LABEL];
      if (service) {
        fn(this.slicesByService, `${ns}/${service}`);
        this.sliceLists.delete(`${ns}/${service}`);
      }
    }
  }
}
