/**
 * The cluster indexed for the compiler: pods by namespace and by label, so that a peer's pods
 * are found without scanning every pod; namespaces matched once per selector; pods by address
 * and by node. Only pods whose object is known and that are pod-network endpoints with
 * addresses can be pod peers.
 *
 * The index can follow pod changes (update): the node's compiler (policy/compile.ts) keeps it
 * across compiles instead of rebuilding it from every pod, and learns from it which peers'
 * pods changed. Namespaces are fixed for the life of an index.
 */
import type { PolicyInput } from './input';
import { namespaceLabels, podRecordOf, type PodRecord } from './cluster';
import type { PodPeer } from './parse';
import { selectorMatches, type Selector } from './selector';

const EMPTY: readonly PodRecord[] = [];

/** What one update did to the pods of one peer (by identity). */
export interface PeerPodsChange {
  removed: PodRecord[];
  added: PodRecord[];
}

/** A peer's pods: the peer itself, so that a changed pod can be tested against it. */
interface PeerMemo {
  peer: PodPeer;
  pods: readonly PodRecord[];
}

export class ClusterIndex {
  private readonly byNode = new Map<string | undefined, readonly PodRecord[]>();
  /**
   * Known endpoint pods with addresses, per named port they have: where an egress named port
   * can resolve. Built when first asked for (few compiles need it), then kept current.
   */
  private byNamedPort: Map<string, readonly PodRecord[]> | undefined;
  private readonly nsLabels: Map<string, Readonly<Record<string, string>> | null>;
  private readonly peersByNamespace = new Map<string, readonly PodRecord[]>();
  /** Per namespace, built when first needed: label "key\0value" to pods. */
  private readonly peersByLabel = new Map<string, Map<string, readonly PodRecord[]>>();
  private readonly byAddress = new Map<string, readonly PodRecord[]>();
  private readonly namespaceMemo = new Map<string, { list: string[]; set: ReadonlySet<string> }>();
  private readonly peerMemo = new Map<string, PeerMemo>();

  constructor(input: PolicyInput) {
    this.nsLabels = namespaceLabels(input);
    for (const pod of input.pods) this.add(podRecordOf(pod), true);
  }

  /** Endpoint pods with addresses and this named port (`name/protocol`; known pods only). */
  podsWithNamedPort(key: string): Iterable<PodRecord> {
    if (!this.byNamedPort) {
      this.byNamedPort = new Map();
      for (const pods of this.byNode.values()) for (const pod of pods) if (isPeerPod(pod)) for (const k of pod.namedPortKeys) push(this.byNamedPort, k, pod, true);
    }
    return this.byNamedPort.get(key) ?? EMPTY;
  }

  /** Whether the namespace is known: by its object (true), or only through its pods (false); undefined: unknown. */
  namespaceHasObject(namespace: string): boolean | undefined {
    const labels = this.nsLabels.get(namespace);
    return labels === undefined ? (this.nsLabels.has(namespace) ? false : undefined) : labels !== null;
  }

  /** The endpoint pods (known or not) holding an address (canonical text). */
  podsAt(address: string): readonly PodRecord[] {
    return this.byAddress.get(address) ?? EMPTY;
  }

  /** Pods on `nodeName` that policy applies to (known or not), with addresses. */
  localPods(nodeName: string): PodRecord[] {
    const out: PodRecord[] = [];
    for (const p of this.byNode.get(nodeName) ?? []) if (p.endpoint && p.addresses.length > 0) out.push(p);
    return out;
  }

  namespacesMatching(selector: Selector): string[] {
    return this.namespacesOf(selector).list;
  }

  private namespacesOf(selector: Selector): { list: string[]; set: ReadonlySet<string> } {
    let names = this.namespaceMemo.get(selector.canonical);
    if (!names) {
      const list = [...this.nsLabels.entries()].filter(([, labels]) => selectorMatches(selector, labels)).map(([name]) => name);
      this.namespaceMemo.set(selector.canonical, (names = { list, set: new Set(list) }));
    }
    return names;
  }

  /** How many peers' pods the index keeps current (each costs a little on every update). */
  get followedPeers(): number {
    return this.peerMemo.size;
  }

  /** The pods a pod peer matches (memoised by the peer's identity, and kept current by update). */
  podsMatching(peer: PodPeer): readonly PodRecord[] {
    let memo = this.peerMemo.get(peer.identity);
    if (!memo) {
      const namespaces = peer.namespace !== undefined ? [peer.namespace] : this.namespacesMatching(peer.namespaceSelector!);
      const out: PodRecord[] = [];
      for (const ns of namespaces) for (const pod of this.podsInNamespace(ns, peer.podSelector)) out.push(pod);
      this.peerMemo.set(peer.identity, (memo = { peer, pods: out }));
    }
    return memo.pods;
  }

  /** Whether `pod` is one of the pods `peer` matches: what podsMatching lists, for one pod. */
  private matches(peer: PodPeer, pod: PodRecord): boolean {
    if (!isPeerPod(pod)) return false;
    const inNamespace = peer.namespace !== undefined ? peer.namespace === pod.namespace : this.namespacesOf(peer.namespaceSelector!).set.has(pod.namespace);
    return inNamespace && selectorMatches(peer.podSelector, pod.labels);
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

  private labelIndex(namespace: string, pods: readonly PodRecord[]): Map<string, readonly PodRecord[]> {
    let index = this.peersByLabel.get(namespace);
    if (!index) {
      index = new Map();
      for (const pod of pods) for (const key in pod.labels) push(index, `${key}\0${pod.labels![key]}`, pod, true);
      this.peersByLabel.set(namespace, index);
    }
    return index;
  }

  /**
   * Follows pod changes: `removed` records leave the index, `added` ones join it (a changed pod
   * is both: its old record and its new one). The namespaces of the pods must be ones the index
   * knows, with the same labels (the caller rebuilds the index otherwise). Returns, per peer
   * identity podsMatching has answered for, what changed in its pods; podsMatching answers with
   * new lists from then on (lists handed out before are never changed).
   */
  update(removed: readonly PodRecord[], added: readonly PodRecord[]): Map<string, PeerPodsChange> {
    const changes = new Map<string, PeerPodsChange>();
    const change = (identity: string) => {
      let c = changes.get(identity);
      if (!c) changes.set(identity, (c = { removed: [], added: [] }));
      return c;
    };
    for (const pod of removed) {
      for (const [identity, memo] of this.peerMemo) {
        if (!this.matches(memo.peer, pod)) continue;
        memo.pods = memo.pods.filter((p) => p !== pod);
        change(identity).removed.push(pod);
      }
      this.remove(pod);
    }
    for (const pod of added) {
      this.add(pod, false);
      for (const [identity, memo] of this.peerMemo) {
        if (!this.matches(memo.peer, pod)) continue;
        memo.pods = [...memo.pods, pod];
        change(identity).added.push(pod);
      }
    }
    return changes;
  }

  /** `fresh`: while building, when no list has been handed out yet and lists can grow in place. */
  private add(pod: PodRecord, fresh: boolean): void {
    push(this.byNode, pod.nodeName, pod, fresh);
    if (!pod.endpoint || pod.addresses.length === 0) return;
    for (const a of pod.addresses) push(this.byAddress, a.text, pod, fresh);
    if (pod.labels === null) return;
    push(this.peersByNamespace, pod.namespace, pod, fresh);
    const byLabel = this.peersByLabel.get(pod.namespace);
    if (byLabel) for (const key in pod.labels) push(byLabel, `${key}\0${pod.labels[key]}`, pod, fresh);
    if (this.byNamedPort) for (const key of pod.namedPortKeys) push(this.byNamedPort, key, pod, fresh);
  }

  private remove(pod: PodRecord): void {
    pull(this.byNode, pod.nodeName, pod);
    if (!pod.endpoint || pod.addresses.length === 0) return;
    for (const a of pod.addresses) pull(this.byAddress, a.text, pod);
    if (pod.labels === null) return;
    pull(this.peersByNamespace, pod.namespace, pod);
    const byLabel = this.peersByLabel.get(pod.namespace);
    if (byLabel) for (const key in pod.labels) pull(byLabel, `${key}\0${pod.labels[key]}`, pod);
    if (this.byNamedPort) for (const key of pod.namedPortKeys) pull(this.byNamedPort, key, pod);
  }
}

/** Pods that pod peers can match: known endpoint pods with addresses. */
function isPeerPod(pod: PodRecord): pod is PodRecord & { labels: Readonly<Record<string, string>> } {
  return pod.endpoint && pod.addresses.length > 0 && pod.labels !== null;
}

/** Namespaces with at most this many pods are scanned rather than indexed by label. */
const SCAN_BELOW = 64;

/** Lists handed out are replaced, not changed (callers may hold them); `fresh` ones grow in place. */
function push<K, V>(map: Map<K, readonly V[]>, key: K, value: V, fresh: boolean): void {
  const list = map.get(key);
  if (!list) map.set(key, [value]);
  else if (fresh) (list as V[]).push(value);
  else map.set(key, [...list, value]);
}

function pull<K, V>(map: Map<K, readonly V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (!list) return;
  const rest = list.filter((v) => v !== value);
  if (rest.length > 0) map.set(key, rest);
  else map.delete(key);
}
