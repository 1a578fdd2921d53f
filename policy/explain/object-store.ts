/**
 * Objects read from manifests, for a model (weftctl offline): the answers of the agent's object
 * cache that a model asks for (list, get, a Service's EndpointSlices), without the indexes the
 * agent keeps up to date under change. Objects given twice: the later definition wins, as in
 * the agent's manifests source.
 */
import { SERVICE_NAME_LABEL } from '../../agent/cache';
import { objectKey, type KubeObject, type ObjectKind, type WatchedKind } from '../../agent/objects';
import type { ModelObjects } from './model';

export class ObjectStore implements ModelObjects {
  private readonly objects = new Map<string, KubeObject>();
  private lists?: Map<ObjectKind, KubeObject[]>;
  private slices?: Map<string, KubeObject[]>;

  static of(objects: readonly KubeObject[]): ObjectStore {
    const store = new ObjectStore();
    for (const object of objects) store.objects.set(objectKey(object), object);
    return store;
  }

  get(kind: WatchedKind, name: string, namespace?: string): KubeObject | undefined {
    return this.objects.get(objectKey({ kind, metadata: { name, namespace } }));
  }

  list(kind: ObjectKind): readonly KubeObject[] {
    if (!this.lists) {
      this.lists = new Map();
      for (const object of this.objects.values()) {
        const list = this.lists.get(object.kind);
        if (list) list.push(object);
        else this.lists.set(object.kind, [object]);
      }
    }
    return this.lists.get(kind) ?? [];
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
}
