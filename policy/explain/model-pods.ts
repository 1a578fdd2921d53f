/**
 * The pods of a policy model, distilled exactly as the agent distils them
 * (agent/compile/policy-objects.ts) but only as far as questions reach: a trace between two
 * pods distils those two and the pods sharing their addresses, not five thousand. Pods are
 * found by id through the objects' own index; by address, through one light pass over the
 * address texts of every pod, made when a question first asks about an address.
 *
 * Pods the objects give no address get a placeholder (placeholders.ts). Placeholders must keep
 * clear of every pod's address and every policy's ipBlocks, so they are chosen, all at once,
 * when a question first meets a pod without address (or an address no pod has, which could be
 * one).
 */
import { policyPodOf } from '../../agent/compile/policy-objects';
import type { KubeObject } from '../../agent/objects';
import { canonicalIpText, formatIp, parseIp, type Family } from '../address';
import { podRecordOf, type PodRecord } from '../cluster';
import type { Address } from '../evaluate';
import type { ContainerPort, PolicyPod } from '../input';
import type { ModelObjects } from './model';
import { placeholderAddresses, type PlaceholderResult, type Span } from './placeholders';

export interface ModelPod {
  /** "namespace/name". */
  id: string;
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  nodeName?: string;
  containerPorts: readonly ContainerPort[];
  /** The addresses the objects give it (status.podIPs), canonical; empty: it has a placeholder. */
  addresses: string[];
  /** The address questions use: its first own address, or its placeholder (never shown). */
  address: string;
  /** NetworkPolicy applies to it: a pod-network pod (not hostNetwork), not finished. */
  policyApplies: boolean;
  record: PodRecord;
}

/** status.podIPs[].ip and status.podIP, as the agent reads them (agent/compile/policy-objects.ts). */
function forEachListedIp(pod: KubeObject, fn: (ip: string, pod: KubeObject) => void): void {
  const status = pod.status;
  if (!status) return;
  const podIPs = status.podIPs as ({ ip?: unknown } | null)[] | undefined;
  if (Array.isArray(podIPs)) {
    for (let i = 0; i < podIPs.length; i++) {
      const ip = podIPs[i]?.ip;
      if (typeof ip === 'string') fn(ip, pod);
    }
  }
  if (typeof status.podIP === 'string') fn(status.podIP, pod);
}

const idOf = (pod: KubeObject): string => `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class ModelPods {
  private index?: { 4: Map<string, KubeObject[]>; 6?: Map<string, KubeObject[]>; pendingV6: [object: KubeObject, address: string][] };
  private readonly distilled = new Map<string, ModelPod>();
  private placeholders?: { byId: Map<string, string>; byAddress: Map<string, string>; clear: boolean };
  private everyPod?: ModelPod[];

  /**
   * `objects`: where the Pod objects are, one per namespace/name (the agent's cache, or
   * weftctl's store). `taken`: addresses placeholders must not be besides the pods' (nodes': a
   * `nodes` peer must not match a placeholder); `blocks`: the ranges they keep clear of when they
   * can (ipBlocks, `networks` peers), asked for only when placeholders are chosen.
   */
  constructor(
    private readonly objects: Pick<ModelObjects, 'list' | 'get'>,
    private readonly taken: readonly string[],
    private readonly blocks: () => Span[],
  ) {}

  /** Every pod, sorted by id. */
  get all(): readonly ModelPod[] {
    if (!this.everyPod) this.everyPod = this.objects.list('Pod').map(idOf).sort(compareText).map((id) => this.pod(id)!);
    return this.everyPod;
  }

  /** The pods as policy/ reads them, placeholders in place of missing addresses. */
  get input(): PolicyPod[] {
    return this.all.map((p) => this.inputPod(this.objectOf(p.id)!).input);
  }

  /** False: some placeholder lies inside an ipBlock (every address is in one), see notes. */
  get placeholdersClear(): boolean {
    return this.chosen().clear;
  }

  pod(id: string): ModelPod | undefined {
    let pod = this.distilled.get(id);
    if (!pod) {
      const object = this.objectOf(id);
      if (!object) return undefined;
      const { input, placeholder } = this.inputPod(object);
      const record = podRecordOf(input);
      pod = {
        id: record.id,
        namespace: input.namespace,
        name: input.name,
        labels: input.labels ?? {},
        ...(input.nodeName ? { nodeName: input.nodeName } : {}),
        containerPorts: input.containerPorts,
        addresses: placeholder ? [] : record.addresses.map((a) => a.text),
        address: placeholder ?? record.addresses[0].text,
        policyApplies: record.endpoint,
        record,
      };
      this.distilled.set(id, pod);
    }
    return pod;
  }

  /** The pod holding an address as its own (canonical text). */
  podAt(address: string): ModelPod | undefined {
    const object = this.addresses(address.includes(':') ? 6 : 4).get(address)?.[0];
    return object && this.pod(idOf(object));
  }

  /** Every pod at an address, its placeholder included (the evaluator's view). */
  recordsAt(address: Address): readonly PodRecord[] {
    const text = formatIp(address.family, address.value);
    const objects = this.addresses(address.family).get(text);
    if (objects) return objects.map((o) => this.pod(idOf(o))!.record);
    const placeholder = this.chosen().byAddress.get(text);
    return placeholder === undefined ? [] : [this.pod(placeholder)!.record];
  }

  private objectOf(id: string): KubeObject | undefined {
    const slash = id.indexOf('/');
    return slash < 0 ? undefined : this.objects.get('Pod', id.slice(slash + 1), id.slice(0, slash));
  }

  /** The distilled pod, its placeholder in place of addresses when it has none. */
  private inputPod(object: KubeObject): { input: PolicyPod; placeholder?: string } {
    const { pod, key } = policyPodOf(object);
    if (pod.ips.some((ip) => parseIp(ip))) return { input: pod };
    const placeholder = this.chosen().byId.get(key)!;
    return { input: placeholderPod(pod, placeholder), placeholder };
  }

  /**
   * Own addresses of a family (canonical text) to the pods listing them, in id order. One pass
   * reads every listed address; IPv6 texts are only made canonical (a parse, unless they are
   * already) when a question first asks about an IPv6 address.
   */
  private addresses(family: Family): Map<string, KubeObject[]> {
    if (!this.index) {
      const pending: [KubeObject, string][] = [];
      const v4 = new Map<string, KubeObject[]>();
      const pods = this.objects.list('Pod');
      const index = (text: string, object: KubeObject) => (text.includes(':') ? pending.push([object, text]) : addPod(v4, canonicalIpText(text), object));
      // Indexed loops and no list per pod: this runs once per process over every pod, before
      // the JIT has warmed up.
      for (let i = 0; i < pods.length; i++) forEachListedIp(pods[i], index);
      this.index = { 4: sortedById(v4), pendingV6: pending };
    }
    if (family === 6 && !this.index[6]) {
      const v6 = new Map<string, KubeObject[]>();
      for (const [object, listed] of this.index.pendingV6) addPod(v6, canonicalIpText(listed), object);
      this.index[6] = sortedById(v6);
    }
    return this.index[family]!;
  }

  /** Placeholders for every pod without address, in id order (the same however questions come). */
  private chosen(): { byId: Map<string, string>; byAddress: Map<string, string>; clear: boolean } {
    if (!this.placeholders) {
      const addressless = this.objects
        .list('Pod')
        .filter((o) => !policyPodOf(o).pod.ips.some((ip) => parseIp(ip)))
        .map(idOf)
        .sort(compareText);
      let result: PlaceholderResult = { addresses: [], clear: true };
      if (addressless.length > 0) {
        const taken = [...this.addresses(4).keys(), ...this.addresses(6).keys(), ...this.taken].flatMap(spanOf);
        result = placeholderAddresses(addressless.length, taken, this.blocks());
      }
      const byId = new Map(addressless.map((id, i) => [id, result.addresses[i]]));
      this.placeholders = { byId, byAddress: new Map(addressless.map((id, i) => [result.addresses[i], id])), clear: result.clear };
    }
    return this.placeholders;
  }
}

/** Adds a pod under an address (undefined: not an address); a pod listing it twice (podIPs and podIP) is there once. */
function addPod(index: Map<string, KubeObject[]>, address: string | undefined, object: KubeObject): void {
  if (address === undefined) return;
  const objects = index.get(address);
  if (!objects) index.set(address, [object]);
  else if (objects[objects.length - 1] !== object) objects.push(object);
}

/** In id order, as every list of the model: the first is the pod an address names. */
function sortedById(index: Map<string, KubeObject[]>): Map<string, KubeObject[]> {
  for (const objects of index.values()) if (objects.length > 1) objects.sort((a, b) => compareText(idOf(a), idOf(b)));
  return index;
}

/** The same pod object for the same placeholder: podRecordOf remembers records by identity. */
const placeholderMemo = new WeakMap<PolicyPod, { address: string; pod: PolicyPod }>();

function placeholderPod(pod: PolicyPod, address: string): PolicyPod {
  const memo = placeholderMemo.get(pod);
  if (memo && memo.address === address) return memo.pod;
  const out = { ...pod, ips: [address] };
  placeholderMemo.set(pod, { address, pod: out });
  return out;
}

function spanOf(ip: string): Span[] {
  const a = parseIp(ip);
  return a ? [{ family: a.family, first: a.value, last: a.value }] : [];
}
