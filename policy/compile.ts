/**
 * compileNodePolicy: the NetworkPolicies of the cluster as this node enforces them (see
 * agent/dataplane/policy-state.ts). Per direction (direction-compile.ts):
 *
 *  1. Targets: local pods each policy selects; a policy selecting none is not in force here.
 *     Local pods without a Pod object are isolated with nothing allowed.
 *  2. Grants: the rules of the policies in force. Rules without peers go to `anyPeer`, others
 *     name peers (deduplicated by identity across policies).
 *  3. Classes (peer-classes.ts, class-space.ts): a sweep over each family's address space, with
 *     boundaries at every ipBlock edge and every pod address a pod peer matches (for egress also
 *     every pod address where a named port of a rule resolves), gives disjoint pieces; a piece's
 *     class is the set of peers that match it (plus, for egress, what the relevant named ports
 *     resolve to there). Pieces of one class that touch are merged, then cut into CIDRs.
 *  4. Allowances: each grant adds, for each of its targets' addresses, its ports to every class
 *     that contains one of its peers.
 *
 * Egress rules without peers but with named ports cannot go to `anyPeer` (what the name means
 * depends on the destination): their named part is a grant to the pseudo-peer "any", which
 * covers every address and so becomes part of every class.
 *
 * A NodePolicyCompiler keeps what it computed and, when only pods changed since its last
 * compile, updates it (the cluster index, the grants whose targets changed, the classes where
 * addresses changed, the allowances of those) instead of starting over; the result is the same
 * as a compile from scratch. Anything else that changed (policies, namespaces) starts over.
 */
import type { NodePolicy, PolicyProblem } from '../agent/dataplane/policy-state';
import { podRecordOf, type PodRecord } from './cluster';
import { ClusterIndex } from './cluster-index';
import { compileClusterTiers } from './cluster-policy/compile';
import { parseClusterPolicies } from './cluster-policy/parse';
import { DirectionCompiler, type PodChanges } from './direction-compile';
import type { PolicyInput, PolicyNamespace, PolicyPod } from './input';
import { parsePolicies } from './parse';

export function compileNodePolicy(input: PolicyInput, nodeName: string): NodePolicy {
  return new NodePolicyCompiler(nodeName).compile(input);
}

/** What a compile starts from, kept for the next one. */
interface State {
  index: ClusterIndex;
  ingress: DirectionCompiler;
  egress: DirectionCompiler;
  namespaces: readonly PolicyNamespace[];
  policyObjects: PolicyInput['policies'];
  problems: PolicyProblem[];
  /**
   * How many peers the index followed after the first compile: ClusterNetworkPolicy peers
   * that came and went since add up, and a compile starts over when they are too many.
   */
  followed: number | undefined;
  /** The input's pods, and the same as a set; no list when it held a pod twice (every compile starts over). */
  podList: readonly PolicyPod[] | undefined;
  pods: Set<PolicyPod>;
}

/** Beyond this many changed pods (and a sixteenth of them all) a compile starts over: it is cheaper. */
const MAX_CHANGES = 64;

export class NodePolicyCompiler {
  private state: State | undefined;

  constructor(readonly nodeName: string) {}

  compile(input: PolicyInput): NodePolicy {
    try {
      return this.follow(input);
    } catch (err) {
      // What was kept may be half updated: the next compile starts over.
      this.state = undefined;
      throw err;
    }
  }

  private follow(input: PolicyInput): NodePolicy {
    let changes: PodChanges | undefined;
    const pods = this.state && this.podChanges(this.state, input);
    if (this.state && pods) changes = { peers: this.state.index.update(pods.removed, pods.added), addresses: [...pods.removed, ...pods.added].flatMap((p) => p.addresses) };
    else this.state = this.start(input);
    const { index, problems } = this.state;
    const local = index.localPods(this.nodeName);
    const ingress = this.state.ingress.compile(local, changes);
    const egress = this.state.egress.compile(local, changes);
    // ClusterNetworkPolicy tiers around NetworkPolicy (cluster-policy/compile.ts), from scratch.
    const cluster = parseClusterPolicies(input.clusterPolicies ?? []);
    const isolated = { ingress: new Set(ingress.isolated), egress: new Set(egress.isolated) };
    const tiers = compileClusterTiers(cluster.policies, index, local, input.nodes ?? [], isolated);
    this.state.followed ??= index.followedPeers;
    return {
      ingress,
      egress,
      ...tiers,
      problems,
      ...(cluster.problems.length > 0 ? { clusterProblems: cluster.problems } : {}),
    };
  }

  private start(input: PolicyInput): State {
    const { policies, problems } = parsePolicies(input.policies);
    const index = new ClusterIndex(input);
    const set = new Set(input.pods);
    return {
      index,
      ingress: new DirectionCompiler('ingress', index, policies),
      egress: new DirectionCompiler('egress', index, policies),
      namespaces: input.namespaces,
      policyObjects: input.policies,
      problems,
      followed: undefined,
      podList: set.size === input.pods.length ? input.pods : undefined,
      pods: set,
    };
  }

  /**
   * The pods that changed since the last compile (records of pods that left or changed, and of
   * pods that came or changed), or undefined when the compile must start over: something else
   * changed, too much changed, or the pods' namespaces are not all known alike.
   */
  private podChanges(state: State, input: PolicyInput): { removed: PodRecord[]; added: PodRecord[] } | undefined {
    if (!state.podList || !sameItems(input.policies, state.policyObjects) || !sameNamespaces(input.namespaces, state.namespaces)) return undefined;
    if (state.index.followedPeers > 2 * (state.followed ?? 0) + MAX_CHANGES) return undefined;
    const changes = listChanges(state.podList, state.pods, input.pods, Math.max(MAX_CHANGES, input.pods.length / 16));
    if (!changes) return undefined;
    const removed = changes.removed.map(podRecordOf);
    const added = changes.added.map(podRecordOf);
    // A namespace known only through its pods may come or go with them: start over then.
    if (added.some((p) => state.index.namespaceHasObject(p.namespace) === undefined)) return undefined;
    if (removed.some((p) => state.index.namespaceHasObject(p.namespace) === false)) return undefined;
    for (const pod of changes.removed) state.pods.delete(pod);
    for (const pod of changes.added) state.pods.add(pod);
    state.podList = input.pods;
    state.namespaces = input.namespaces;
    return { removed, added };
  }
}

/** How far ahead listChanges looks for the pod at hand, to tell pods that left from pods replaced. */
const LOOKAHEAD = 8;

/**
 * The items of `prev` (each once; `prevSet` holds them) not in `next` and those of `next` not in
 * `prev`, or undefined when there are more than `limit` or `next` holds an item twice. The lists
 * are walked side by side (a cache lists pods in a stable order: a changed pod keeps its place,
 * a new one comes last, one that left leaves a gap), so that a few changes cost one pass and
 * no set of every pod.
 */
export function listChanges<T>(prev: readonly T[], prevSet: ReadonlySet<T>, next: readonly T[], limit: number): { removed: T[]; added: T[] } | undefined {
  if (prev === next) return { removed: [], added: [] };
  const removed: T[] = [];
  const added: T[] = [];
  let i = 0;
  let j = 0;
  while (i < prev.length && j < next.length) {
    if (prev[i] === next[j]) {
      i++, j++;
      continue;
    }
    // Either prev[i] (and a few after it) left, and next[j] is further on, or next[j] replaced it.
    let k = 1;
    while (k <= LOOKAHEAD && i + k < prev.length && prev[i + k] !== next[j]) k++;
    if (k <= LOOKAHEAD && i + k < prev.length) for (const end = i + k; i < end; i++) removed.push(prev[i]);
    else removed.push(prev[i++]), added.push(next[j++]);
    if (removed.length + added.length > limit) return undefined;
  }
  while (i < prev.length) removed.push(prev[i++]);
  while (j < next.length) added.push(next[j++]);
  if (removed.length + added.length > limit) return undefined;
  // An item on both sides moved: it neither left nor came. One that came but was there and did
  // not leave is in `next` twice.
  const left = new Set(removed);
  const came = new Set(added);
  if (left.size !== removed.length || came.size !== added.length) return undefined;
  const out = { removed: removed.filter((x) => !came.has(x)), added: added.filter((x) => !left.has(x)) };
  return out.added.some((x) => prevSet.has(x)) ? undefined : out;
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (!Object.prototype.hasOwnProperty.call(b, k) || a[k] !== b[k]) return false;
  return true;
}

function sameNamespaces(a: readonly PolicyNamespace[], b: readonly PolicyNamespace[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].name !== b[i].name || !sameLabels(a[i].labels, b[i].labels)) return false;
  return true;
}
