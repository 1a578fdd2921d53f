/**
 * The cluster indexed for the compiler: pods by namespace and by label, so that a peer's pods
 * are found without scanning every pod; namespaces matched once per selector; pods by address.
 * Only pods whose object is known and that are pod-network endpoints with addresses can be
 * pod peers.
 */
import type { PolicyInput } from './input';
import { namespaceLabels, podRecordOf, type PodRecord } from './cluster';
import type { PodPeer } from './parse';
import { selectorMatches, type Selector } from './selector';

const EMPTY: readonly PodRecord[] = [];

export class ClusterIndex {
  readonly pods: PodRecord[];
  /** Known endpoint pods with addresses and named ports: where an egress named port can resolve. */
  readonly podsWithNamedPorts: PodRecord[] = [];
  private readonly nsLabels: Map<string, Readonly<Record<string, string>> | null>;
  private readonly peersByNamespace = new Map<string, PodRecord[]>();
  /** Per namespace, built when first needed: label "key\0value" to pods. */
  private readonly peersByLabel = new Map<string, Map<string, PodRecord[]>>();
  private readonly byAddress = new Map<string, PodRecord[]>();
  private readonly namespaceMemo = new Map<string, string[]>();
  private readonly peerMemo = new Map<string, readonly PodRecord[]>();

  constructor(input: PolicyInput) {
    this.pods = input.pods.map(podRecordOf);
    this.nsLabels = namespaceLabels(input);
    for (const pod of this.pods) {
      if (!pod.endpoint || pod.addresses.length === 0) continue;
      for (const a of pod.addresses) push(this.byAddress, a.text, pod);
      if (pod.labels === null) continue;
      push(this.peersByNamespace, pod.namespace, pod);
      if (pod.namedPortKeys.length > 0) this.podsWithNamedPorts.push(pod);
    }
  }

  /** The endpoint pods (known or not) holding an address (canonical text). */
  podsAt(address: string): readonly PodRecord[] {
    return this.byAddress.get(address) ?? EMPTY;
  }

  /** Pods on `nodeName` that policy applies to (known or not), with addresses. */
  localPods(nodeName: string): PodRecord[] {
    return this.pods.filter((p) => p.nodeName === nodeName && p.endpoint && p.addresses.length > 0);
  }

  namespacesMatching(selector: Selector): string[] {
    let names = this.namespaceMemo.get(selector.canonical);
    if (!names) {
      names = [...this.nsLabels.entries()].filter(([, labels]) => selectorMatches(selector, labels)).map(([name]) => name);
      this.namespaceMemo.set(selector.canonical, names);
    }
    return names;
  }

  /** The pods a pod peer matches (memoised by the peer's identity). */
  podsMatching(peer: PodPeer): readonly PodRecord[] {
    let pods = this.peerMemo.get(peer.identity);
    if (!pods) {
      const namespaces = peer.namespace !== undefined ? [peer.namespace] : this.namespacesMatching(peer.namespaceSelector!);
      const out: PodRecord[] = [];
      for (const ns of namespaces) for (const pod of this.podsInNamespace(ns, peer.podSelector)) out.push(pod);
      pods = out;
      this.peerMemo.set(peer.identity, pods);
    }
    return pods;
  }

  /**
   * Pods of a namespace a selector matches: in a large namespace, from the smallest label
   * bucket of its equalities; a small one is scanned (cheaper than indexing it).
   */
  podsInNamespace(namespace: string, selector: Selector): readonly PodRecord[] {
    const all = this.peersByNamespace.get(namespace) ?? EMPTY;
    if (selector.requirements.length === 0) return all;
    let candidates = all;
    if (all.length > SCAN_BELOW) {
      const byLabel = this.labelIndex(namespace, all);
      for (const r of selector.requirements) {
        if (r.operator !== 'In' || r.values.length !== 1) continue;
        const bucket = byLabel.get(`${r.key}\0${r.values[0]}`) ?? EMPTY;
        if (bucket.length < candidates.length) candidates = bucket;
        if (candidates.length === 0) return EMPTY;
      }
    }
    return candidates.filter((p) => selectorMatches(selector, p.labels));
  }

  private labelIndex(namespace: string, pods: readonly PodRecord[]): Map<string, PodRecord[]> {
    let index = this.peersByLabel.get(namespace);
    if (!index) {
      index = new Map();
      for (const pod of pods) for (const key in pod.labels) push(index, `${key}\0${pod.labels![key]}`, pod);
      this.peersByLabel.set(namespace, index);
    }
    return index;
  }
}

/** Namespaces with at most this many pods are scanned rather than indexed by label. */
const SCAN_BELOW = 64;

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
