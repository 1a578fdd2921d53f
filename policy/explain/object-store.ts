/**
 * Objects read from manifests, for a model (weftctl offline): the answers of the agent's object
 * cache that a model asks for (list, get, a Service's EndpointSlices), without the indexes the
 * agent keeps up to date under change. Objects given twice: the later definition wins, in the
 * place of the first, as in the agent's cache. A kind is keyed only when first asked for: a
 * trace between two pods never keys the EndpointSlices.
 */
import { SERVICE_NAME_LABEL } from '../../agent/cache';
import { objectKey, type KubeObject, type ObjectKind, type WatchedKind } from '../../agent/objects';
import type { ModelObjects } from './model';

export class ObjectStore implements ModelObjects {
  /** Each kind's objects as given, duplicates included, until keyed. */
  private readonly given = new Map<ObjectKind, KubeObject[]>();
  private readonly keyed = new Map<ObjectKind, { byKey: Map<string, KubeObject>; list: KubeObject[] }>();
  private slices?: Map<string, KubeObject[]>;

  static of(objects: readonly KubeObject[]): ObjectStore {
    const store = new ObjectStore();
    for (const object of objects) {
      const list = store.given.get(object.kind);
      if (list) list.push(object);
      else store.given.set(object.kind, [object]);
    }
    return store;
  }

  get(kind: WatchedKind, name: string, namespace?: string): KubeObject | undefined {
    return this.kind(kind).byKey.get(objectKey({ kind, metadata: { name, namespace } }));
  }

  list(kind: ObjectKind): readonly KubeObject[] {
    return this.kind(kind).list;
  }

  endpointSlicesOf(namespace: string, service: string): readonly KubeObject[] {
    if (!this.slices) {
      this.slices = new Map();
      for (const slice of this.list('EndpointSlice')) {
        const name = slice.metadata.labels?.[SERVICE_NAME_LABEL];
        if (!name) continue;
        const key = `${slice.metadata.namespace ?? ''}/${name}`;
        const list = this.slices.get(key);
        if (list) list.push(slice);
        else this.slices.set(key, [slice]);
      }
    }
    return this.slices.get(`${namespace}/${service}`) ?? [];
  }

  private kind(kind: ObjectKind): { byKey: Map<string, KubeObject>; list: KubeObject[] } {
    let keyed = this.keyed.get(kind);
    if (!keyed) {
      const byKey = new Map<string, KubeObject>();
      for (const object of this.given.get(kind) ?? []) byKey.set(objectKey(object), object);
      this.keyed.set(kind, (keyed = { byKey, list: [...byKey.values()] }));
    }
    return keyed;
  }
}
