/**
 * The objects a policy question is answered from, read once and indexed: Namespaces, Pods,
 * Nodes, NetworkPolicies, ClusterNetworkPolicies, Services and EndpointSlices, as plain
 * KubeObjects from any source (a manifests directory offline; the agent's cache online). Pods
 * are distilled exactly as the agent distils them (agent/compile/policy.ts), and the reference
 * evaluator is built once. Pods the objects give no address get a placeholder (placeholders.ts).
 */
import { ObjectCache } from '../../agent/cache';
import { policyInputFromCache } from '../../agent/compile/policy';
import type { KubeObject } from '../../agent/objects';
import { canonicalIpText, parseIp } from '../address';
import { podRecordOf, type PodRecord } from '../cluster';
import { ClusterIndex } from '../cluster-index';
import type { ContainerPort, PolicyInput, PolicyNamespace, PolicyPod } from '../input';
import { parsePolicies, type ParsedPolicy } from '../parse';
import { parseClusterPolicies, type ParsedClusterPolicy } from '../cluster-policy/parse';
import { IndexedEvaluator } from './indexed-evaluator';
import { placeholderAddresses, type Span } from './placeholders';
import { NotFoundError } from './query';

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

export interface ModelOptions {
  /** Where the objects come from, for messages ("manifests /tmp/x"). */
  source: string;
  /** Policies questions will add (what-if): placeholders keep clear of their ipBlocks too. */
  futurePolicies?: readonly KubeObject[];
}

/** The ranges every ipBlock of `policies` matches (cidr minus except). */
function ipBlockSpans(policies: readonly ParsedPolicy[]): Span[] {
  const out: Span[] = [];
  for (const policy of policies) {
    for (const rule of [...(policy.ingress ?? []), ...(policy.egress ?? [])]) {
      for (const peer of rule.peers ?? []) if (peer.kind === 'ipBlock') for (const r of peer.ranges) out.push({ family: peer.family, first: r.first, last: r.last });
    }
  }
  return out;
}

/** The ranges ClusterNetworkPolicy `networks` peers match: placeholders keep clear of them too. */
function networkSpans(policies: readonly ParsedClusterPolicy[]): Span[] {
  const out: Span[] = [];
  for (const policy of policies) {
    for (const rule of [...policy.ingress, ...policy.egress]) {
      for (const peer of rule.peers ?? []) if (peer.kind === 'networks') for (const c of peer.cidrs) out.push({ family: c.family, first: c.first, last: c.last });
    }
  }
  return out;
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class PolicyModel {
  readonly evaluator: IndexedEvaluator;
  /** Usable policies by id ("namespace/name"). */
  readonly policies: ReadonlyMap<string, ParsedPolicy>;
  /** Usable ClusterNetworkPolicies by name. */
  readonly clusterPolicies: ReadonlyMap<string, ParsedClusterPolicy>;
  /** Every pod, sorted by id. */
  readonly pods: readonly ModelPod[];
  private readonly byId: ReadonlyMap<string, ModelPod>;
  private readonly byAddress: ReadonlyMap<string, ModelPod>;
  private readonly serviceByAddress = new Map<string, KubeObject>();

  private constructor(
    readonly source: string,
    private readonly cache: ObjectCache,
    readonly input: PolicyInput,
    pods: ModelPod[],
    readonly index: ClusterIndex,
    /** False: some placeholder lies inside an ipBlock (every address is in one), see notes. */
    readonly placeholdersClear: boolean,
  ) {
    this.evaluator = new IndexedEvaluator(input);
    this.policies = new Map(this.evaluator.policies.map((p) => [p.id, p]));
    this.clusterPolicies = new Map(this.evaluator.clusterPolicies.map((p) => [p.name, p]));
    this.pods = pods;
    this.byId = new Map(pods.map((p) => [p.id, p]));
    const byAddress = new Map<string, ModelPod>();
    for (const pod of pods) for (const a of pod.addresses) if (!byAddress.has(a)) byAddress.set(a, pod);
    this.byAddress = byAddress;
    for (const svc of cache.list('Service')) {
      const spec = svc.spec ?? {};
      const ips = Array.isArray(spec.clusterIPs) ? (spec.clusterIPs as unknown[]) : [spec.clusterIP];
      for (const ip of ips) {
        const text = typeof ip === 'string' ? canonicalIpText(ip) : undefined;
        if (text) this.serviceByAddress.set(text, svc);
      }
    }
  }

  static fromObjects(objects: readonly KubeObject[], options: ModelOptions): PolicyModel {
    const cache = new ObjectCache();
    // Later definitions of the same object replace earlier ones, as in the agent's source.
    for (const object of objects) cache.apply({ type: 'ADDED', object });
    return PolicyModel.fromCache(cache, options);
  }

  /**
   * From a cache as it is now: the agent's own, online, so that it answers from what it
   * enforces without a copy. Services and EndpointSlices are read from the cache when a
   * question needs them: the model is good for this state of the cache only (its holder
   * builds another once the cache's lists change, see agent/api/policy-answers.ts).
   */
  static fromCache(cache: ObjectCache, options: ModelOptions): PolicyModel {
    const base = policyInputFromCache(cache, [], '');
    const pods = [...base.pods].sort((a, b) => compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
    const taken: Span[] = [];
    // Node addresses are taken too: a placeholder must not be matched by a `nodes` peer.
    for (const ip of [...pods.flatMap((p) => p.ips), ...(base.nodes ?? []).flatMap((n) => n.addresses)]) {
      const a = parseIp(ip);
      if (a) taken.push({ family: a.family, first: a.value, last: a.value });
    }
    const blocks = [...ipBlockSpans(parsePolicies([...base.policies, ...(options.futurePolicies ?? [])]).policies), ...networkSpans(parseClusterPolicies(base.clusterPolicies ?? []).policies)];
    const addressless = pods.filter((p) => !p.ips.some((ip) => parseIp(ip)));
    const placeholders = placeholderAddresses(addressless.length, taken, blocks);
    const assigned = new Map(addressless.map((p, i) => [p, placeholders.addresses[i]]));
    const modelPods: ModelPod[] = [];
    const inputPods: PolicyPod[] = [];
    for (const pod of pods) {
      const placeholder = assigned.get(pod);
      const input: PolicyPod = placeholder ? { ...pod, ips: [placeholder] } : pod;
      inputPods.push(input);
      const record = podRecordOf(input);
      modelPods.push({
        id: record.id,
        namespace: pod.namespace,
        name: pod.name,
        labels: pod.labels ?? {},
        ...(pod.nodeName ? { nodeName: pod.nodeName } : {}),
        containerPorts: pod.containerPorts,
        addresses: placeholder ? [] : record.addresses.map((a) => a.text),
        address: placeholder ?? record.addresses[0].text,
        policyApplies: record.endpoint,
        record,
      });
    }
    const input: PolicyInput = { ...base, pods: inputPods };
    return new PolicyModel(options.source, cache, input, modelPods, new ClusterIndex(input), placeholders.clear);
  }

  /** The same objects with other NetworkPolicies (what-if): pods and placeholders are kept. */
  withPolicies(policies: readonly KubeObject[]): PolicyModel {
    const input: PolicyInput = { ...this.input, policies };
    const blocks = ipBlockSpans(parsePolicies(policies).policies);
    const covered = this.pods.some((p) => {
      if (p.addresses.length > 0) return false;
      const a = parseIp(p.address)!;
      return blocks.some((b) => b.family === a.family && b.first <= a.value && a.value <= b.last);
    });
    return new PolicyModel(this.source, this.cache, input, [...this.pods], this.index, this.placeholdersClear && !covered);
  }

  get namespaces(): readonly PolicyNamespace[] {
    return this.input.namespaces;
  }

  get policyObjects(): readonly KubeObject[] {
    return this.input.policies;
  }

  get problems(): readonly { policy: string; reason: string }[] {
    return this.evaluator.problems;
  }

  /** ClusterNetworkPolicies the API server would refuse (they play no part). */
  get clusterProblems(): readonly { policy: string; reason: string }[] {
    return this.evaluator.clusterProblems;
  }

  pod(id: string): ModelPod | undefined {
    return this.byId.get(id);
  }

  /** The pod holding an address (its own: placeholders are not addresses anyone can ask about). */
  podAt(address: string): ModelPod | undefined {
    return this.byAddress.get(canonicalIpText(address) ?? address);
  }

  /** A pod by namespace and name, or an error that says which pods there are. */
  requirePod(namespace: string, name: string): ModelPod {
    const pod = this.byId.get(`${namespace}/${name}`);
    if (pod) return pod;
    const inNamespace = this.pods.filter((p) => p.namespace === namespace).map((p) => p.name);
    const hint = inNamespace.length > 0 ? `pods in ${namespace}: ${inNamespace.slice(0, 8).join(', ')}${inNamespace.length > 8 ? ', ...' : ''}` : `no pod at all in namespace ${namespace}`;
    const service = this.service(namespace, name) ? `; ${namespace}/${name} is a Service: svc/${namespace}/${name}` : '';
    throw new NotFoundError(`no pod ${namespace}/${name} in ${this.source} (${hint}${service})`);
  }

  /** Pods NetworkPolicy applies to, of the given namespaces (all when none), sorted by id. */
  policyPods(namespaces: readonly string[] = []): ModelPod[] {
    const wanted = new Set(namespaces);
    return this.pods.filter((p) => p.policyApplies && (wanted.size === 0 || wanted.has(p.namespace)));
  }

  service(namespace: string, name: string): KubeObject | undefined {
    return this.cache.get('Service', name, namespace);
  }

  serviceAt(address: string): KubeObject | undefined {
    return this.serviceByAddress.get(address);
  }

  endpointSlicesOf(namespace: string, name: string): readonly KubeObject[] {
    return this.cache.endpointSlicesOf(namespace, name);
  }
}
