/**
 * Objects read from manifests or listed from a cluster, for a model (weftctl offline): the
 * answers of the agent's object cache that a model asks for (list, get, a Service's
 * EndpointSlices), without the indexes the agent keeps up to date under change. Objects given
 * twice: the later definition wins, in the place of the first, as in the agent's cache. Keyed by
 * kind, namespace and name in nested maps: no key text is made per object.
 */
import { SERVICE_NAME_LABEL } from '../../agent/cache';
import type { KubeObject, ObjectKind, WatchedKind } from '../../agent/objects';
import type { ModelObjects } from './model';

interface KindObjects {
  /** In the order first given. */
  list: KubeObject[];
  /** Namespace ('' for cluster-scoped objects) to name to the place in `list`. */
  places: Map<string, Map<string, number>>;
}

export class ObjectStore implements ModelObjects {
  private readonly kinds = new Map<ObjectKind, KindObjects>();
  private slices?: Map<string, KubeObject[]>;

  static of(objects: readonly KubeObject[]): ObjectStore {
    const store = new ObjectStore();
    for (const object of objects) store.add(object);
    return store;
  }

  /** Adds an object; false when it replaced one of the same kind, namespace and name. */
  add(object: KubeObject): boolean {
    let kind = this.kinds.get(object.kind);
    if (!kind) this.kinds.set(object.kind, (kind = { list: [], places: new Map() }));
    const namespace = object.metadata.namespace ?? '';
    let names = kind.places.get(namespace);
    if (!names) kind.places.set(namespace, (names = new Map()));
    const place = names.get(object.metadata.name);
    this.slices = undefined;
    if (place !== undefined) {
      kind.list[place] = object;
      return false;
    }
    names.set(object.metadata.name, kind.list.length);
    kind.list.push(object);
    return true;
  }

  get(kind: WatchedKind, name: string, namespace?: string): KubeObject | undefined {
    const objects = this.kinds.get(kind);
    const place = objects?.places.get(namespace ?? '')?.get(name);
    return place === undefined ? undefined : objects!.list[place];
  }

  /** Every object of `kind`: the store's own list (never to be modified). */
  list(kind: ObjectKind): readonly KubeObject[] {
    return this.kinds.get(kind)?.list ?? [];
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
