/**
 * The objects a policy question is answered from: Namespaces, Pods, Nodes, NetworkPolicies,
 * ClusterNetworkPolicies, Services and EndpointSlices, as plain KubeObjects from any source (a
 * manifests directory offline; the agent's cache online), read only as far as a question
 * reaches: pods are distilled when asked for (model-pods.ts: a trace distils its two ends and
 * the pods sharing their addresses), NetworkPolicies parsed per namespace, so that a trace
 * between two pods reads the policies of two namespaces, not a thousand. The model is the
 * evaluator's view (policy/evaluate.ts EvaluatorView); what it has read, it keeps.
 */
import type { ObjectCache } from '../../agent/cache';
import { policyNodeOf } from '../../agent/compile/policy-objects';
import type { KubeObject } from '../../agent/objects';
import { canonicalIpText } from '../address';
import { ClusterIndex } from '../cluster-index';
import type { PodRecord } from '../cluster';
import { nodeRecordOf, PolicyEvaluator, type Address, type EvaluatorView, type NodeRecord, type PolicyProblem } from '../evaluate';
import type { PolicyInput, PolicyNamespace, PolicyNode } from '../input';
import { parsePolicies, type ParsedPolicy } from '../parse';
import { parseClusterPolicies, type ParsedClusterPolicy } from '../cluster-policy/parse';
import { ModelPods, type ModelPod } from './model-pods';
import { ObjectStore } from './object-store';
import type { Span } from './placeholders';
import { NotFoundError } from './query';

export type { ModelPod } from './model-pods';

/** What a model reads: the agent's object cache, or weftctl's store of manifest objects. */
export type ModelObjects = Pick<ObjectCache, 'list' | 'get' | 'endpointSlicesOf'>;

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

/** NetworkPolicy objects parsed a namespace at a time, when asked. */
class PolicyTable {
  private byNamespace?: Map<string, KubeObject[]>;
  private readonly parsed = new Map<string, { policies: ParsedPolicy[]; problems: PolicyProblem[] }>();
  private everything?: { policies: ParsedPolicy[]; problems: PolicyProblem[] };

  constructor(readonly objects: readonly KubeObject[]) {}

  policiesIn(namespace: string): { policies: readonly ParsedPolicy[]; problems: readonly PolicyProblem[] } {
    let out = this.parsed.get(namespace);
    if (!out) {
      if (!this.byNamespace) {
        this.byNamespace = new Map();
        for (const object of this.objects) {
          const ns = object.metadata.namespace ?? 'default';
          const list = this.byNamespace.get(ns);
          if (list) list.push(object);
          else this.byNamespace.set(ns, [object]);
        }
      }
      this.parsed.set(namespace, (out = parsePolicies(this.byNamespace.get(namespace) ?? [])));
    }
    return out;
  }

  all(): { policies: ParsedPolicy[]; problems: PolicyProblem[] } {
    return (this.everything ??= parsePolicies(this.objects));
  }

  /** The invalid policies of the namespaces read so far (all of them once all were read). */
  problemsRead(): PolicyProblem[] {
    if (this.everything) return this.everything.problems;
    return [...this.parsed.values()].flatMap((p) => p.problems).sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0));
  }
}

export class PolicyModel implements EvaluatorView {
  readonly evaluator: PolicyEvaluator;
  /** Usable ClusterNetworkPolicies by name. */
  readonly clusterPolicies: ReadonlyMap<string, ParsedClusterPolicy>;
  readonly namespaces: readonly PolicyNamespace[];
  readonly nodes: readonly NodeRecord[];
  readonly parsedClusterPolicies: { policies: readonly ParsedClusterPolicy[]; problems: readonly PolicyProblem[] };
  private readonly table: PolicyTable;
  private readonly nsLabels: Map<string, Readonly<Record<string, string>>>;
  private serviceByAddress?: Map<string, KubeObject>;
  private built?: { input: PolicyInput; index: ClusterIndex };

  private constructor(
    readonly source: string,
    private readonly objects: ModelObjects,
    private readonly podTable: ModelPods,
    policies: readonly KubeObject[],
    private readonly policyNodes: readonly PolicyNode[],
    /** Some placeholder lies inside an ipBlock of `policies` (what-if's, see withPolicies). */
    private readonly placeholderCovered = false,
  ) {
    this.table = new PolicyTable(policies);
    this.namespaces = objects.list('Namespace').map((ns) => ({ name: ns.metadata.name, labels: ns.metadata.labels ?? {} }));
    this.nsLabels = new Map(this.namespaces.map((ns) => [ns.name, ns.labels]));
    this.nodes = policyNodes.map(nodeRecordOf);
    this.parsedClusterPolicies = parseClusterPolicies(objects.list('ClusterNetworkPolicy'));
    this.evaluator = new PolicyEvaluator(this);
    this.clusterPolicies = new Map(this.evaluator.clusterPolicies.map((p) => [p.name, p]));
  }

  /** Objects from files (weftctl offline): later definitions of an object replace earlier ones, as in the agent's source. */
  static fromObjects(objects: readonly KubeObject[], options: ModelOptions): PolicyModel {
    return PolicyModel.fromCache(ObjectStore.of(objects), options);
  }

  /**
   * From objects as they are now: the agent's own cache, online, so that it answers from what it
   * enforces without a copy. Policies, Services and EndpointSlices are read when a question needs
   * them: the model is good for this state of the objects only (its holder builds another once
   * the cache's lists change, see agent/api/policy-answers.ts).
   */
  static fromCache(objects: ModelObjects, options: ModelOptions): PolicyModel {
    const nodes = objects.list('Node').map(policyNodeOf);
    const policies = objects.list('NetworkPolicy');
    const blocks = () => [...ipBlockSpans(parsePolicies([...policies, ...(options.futurePolicies ?? [])]).policies), ...networkSpans(parseClusterPolicies(objects.list('ClusterNetworkPolicy')).policies)];
    // Node addresses are taken too: a placeholder must not be matched by a `nodes` peer.
    const pods = new ModelPods(objects, nodes.flatMap((n) => n.addresses), blocks);
    return new PolicyModel(options.source, objects, pods, policies, nodes);
  }

  /** The same objects with other NetworkPolicies (what-if): pods and placeholders are kept. */
  withPolicies(policies: readonly KubeObject[]): PolicyModel {
    const blocks = ipBlockSpans(parsePolicies(policies).policies);
    const covered = this.pods.some((p) => {
      if (p.addresses.length > 0) return false;
      const a = p.record.addresses[0];
      return blocks.some((b) => b.family === a.family && b.first <= a.value && a.value <= b.last);
    });
    return new PolicyModel(this.source, this.objects, this.podTable, policies, this.policyNodes, this.placeholderCovered || covered);
  }

  // The evaluator's view (policy/evaluate.ts).

  policiesIn(namespace: string): readonly ParsedPolicy[] {
    return this.table.policiesIn(namespace).policies;
  }

  allPolicies(): { policies: readonly ParsedPolicy[]; problems: readonly PolicyProblem[] } {
    return this.table.all();
  }

  podsAt(address: Address): readonly PodRecord[] {
    return this.podTable.recordsAt(address);
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | null {
    return this.nsLabels.get(namespace) ?? null;
  }

  /** False: some placeholder lies inside an ipBlock (every address is in one), see notes. */
  get placeholdersClear(): boolean {
    return this.podTable.placeholdersClear && !this.placeholderCovered;
  }

  /** A usable NetworkPolicy by id ("namespace/name"). */
  policy(id: string): ParsedPolicy | undefined {
    const namespace = id.slice(0, id.indexOf('/'));
    return this.policiesIn(namespace).find((p) => p.id === id);
  }

  /** Every pod, sorted by id. */
  get pods(): readonly ModelPod[] {
    return this.podTable.all;
  }

  /** The whole input as policy/ reads it (placeholders in place of missing addresses), built when asked. */
  get input(): PolicyInput {
    return this.build().input;
  }

  /** Pods by selector, built when asked (explain lists the pods a peer matches). */
  get index(): ClusterIndex {
    return this.build().index;
  }

  private build(): { input: PolicyInput; index: ClusterIndex } {
    if (!this.built) {
      const input: PolicyInput = { namespaces: this.namespaces, pods: this.podTable.input, policies: this.table.objects, clusterPolicies: this.objects.list('ClusterNetworkPolicy'), nodes: this.policyNodes };
      this.built = { input, index: new ClusterIndex(input) };
    }
    return this.built;
  }

  get policyObjects(): readonly KubeObject[] {
    return this.table.objects;
  }

  /**
   * The invalid NetworkPolicies among those questions have read so far: a question reads the
   * policies of the namespaces it reaches (all of them for some), and warns of those.
   */
  get problems(): readonly PolicyProblem[] {
    return this.table.problemsRead();
  }

  /** ClusterNetworkPolicies the API server would refuse (they play no part). */
  get clusterProblems(): readonly PolicyProblem[] {
    return this.evaluator.clusterProblems;
  }

  pod(id: string): ModelPod | undefined {
    return this.podTable.pod(id);
  }

  /** The pod holding an address (its own: placeholders are not addresses anyone can ask about). */
  podAt(address: string): ModelPod | undefined {
    return this.podTable.podAt(canonicalIpText(address) ?? address);
  }

  /** A pod by namespace and name, or an error that says which pods there are. */
  requirePod(namespace: string, name: string): ModelPod {
    const pod = this.podTable.pod(`${namespace}/${name}`);
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
    return this.objects.get('Service', name, namespace);
  }

  serviceAt(address: string): KubeObject | undefined {
    if (!this.serviceByAddress) {
      this.serviceByAddress = new Map();
      for (const svc of this.objects.list('Service')) {
        const spec = svc.spec ?? {};
        const ips = Array.isArray(spec.clusterIPs) ? (spec.clusterIPs as unknown[]) : [spec.clusterIP];
        for (const ip of ips) {
          const text = typeof ip === 'string' ? canonicalIpText(ip) : undefined;
          if (text) this.serviceByAddress.set(text, svc);
        }
      }
    }
    return this.serviceByAddress.get(address);
  }

  endpointSlicesOf(namespace: string, name: string): readonly KubeObject[] {
    return this.objects.endpointSlicesOf(namespace, name);
  }
}
