/**
 * NetworkPolicy for this node from the object cache: Namespace, Pod, Node, NetworkPolicy and
 * ClusterNetworkPolicy objects distilled into policy/'s plain input, merged with the node's
 * local pods (a local pod with no Pod object in the cache is one the CNI plugin registered
 * before the object arrived: policy/ isolates it with nothing allowed). Pure, but for the memory
 * of the last compile per node that lets unchanged parts stay the same objects.
 */
import type { ObjectCache } from '../cache';
import { policyNodeOf, policyPodOf } from './policy-objects';
import type { NodePolicy } from '../dataplane/policy-state';
import type { LocalPod } from '../dataplane/node-state';
import type { KubeObject } from '../objects';
import { NodePolicyCompiler } from '../../policy/compile';
import { PolicyInterner } from '../../policy/intern';
import type { PolicyInput, PolicyPod } from '../../policy/input';

/**
 * A pod placed on this node with the addresses the CNI plugin registered: the pod itself when
 * that changes nothing, else the same object for as long as the pod and the addresses are the
 * same (the compiler tells changed pods by identity).
 */
const placedMemo = new WeakMap<PolicyPod, { nodeName: string; ips: string; placed: PolicyPod }>();

function placed(pod: PolicyPod, nodeName: string, localIps: readonly string[]): PolicyPod {
  const ips = [...new Set([...pod.ips, ...localIps])];
  if (pod.nodeName === nodeName && ips.length === pod.ips.length) return pod;
  const key = ips.join(',');
  const memo = placedMemo.get(pod);
  if (memo && memo.nodeName === nodeName && memo.ips === key) return memo.placed;
  const out = { ...pod, nodeName, ips };
  placedMemo.set(pod, { nodeName, ips: key, placed: out });
  return out;
}

/** Per node, the local pods without a Pod object as last given, by "namespace/name": the same object while unchanged. */
const unknownMemo = new Map<string, Map<string, PolicyPod>>();

function unknownPod(memo: Map<string, PolicyPod> | undefined, local: LocalPod, nodeName: string): PolicyPod {
  const before = memo?.get(`${local.namespace}/${local.name}`);
  if (before && before.ips.length === local.ips.length && before.ips.every((ip, i) => ip === local.ips[i])) return before;
  return { namespace: local.namespace, name: local.name, labels: null, ips: local.ips, nodeName, containerPorts: [] };
}

/** The plain input policy/ compiles, with `localPods` (objects or registrations) placed on `nodeName`. */
export function policyInputFromCache(cache: ObjectCache, localPods: readonly LocalPod[], nodeName: string): PolicyInput {
  const before = unknownMemo.get(nodeName);
  const unknown = new Map<string, PolicyPod>();
  const register = (key: string, local: LocalPod) => {
    const pod = unknownPod(before, local, nodeName);
    unknown.set(key, pod);
    return pod;
  };
  const pods = podsOf(cache.list('Pod'), localPods, nodeName, register);
  if (unknown.size > 0) unknownMemo.set(nodeName, unknown);
  else unknownMemo.delete(nodeName);
  return {
    namespaces: cache.list('Namespace').map((ns) => ({ name: ns.metadata.name, labels: ns.metadata.labels ?? {} })),
    pods,
    policies: cache.list('NetworkPolicy'),
    clusterPolicies: cache.list('ClusterNetworkPolicy'),
    nodes: cache.list('Node').map(policyNodeOf),
  };
}

/**
 * The Pod objects distilled, one per "namespace/name" (the last), local ones placed on the
 * node, then the local pods without object (`register` makes those). Addresses the CNI plugin
 * registered count before the API server reports them.
 */
function podsOf(objects: readonly KubeObject[], localPods: readonly LocalPod[], nodeName: string, register: (key: string, local: LocalPod) => PolicyPod): PolicyPod[] {
  const locals = new Map(localPods.map((l) => [`${l.namespace}/${l.name}`, l]));
  // The cache holds each namespace/name once, unless a pod without namespace (read as
  // "default") meets its namesake there: then, and for a local pod given twice, by name.
  if (locals.size === localPods.length && objects.every((o) => o.metadata.namespace)) {
    const pods: PolicyPod[] = [];
    for (const object of objects) {
      const { pod, key } = policyPodOf(object);
      const local = locals.get(key);
      if (local) locals.delete(key);
      pods.push(local ? placed(pod, nodeName, local.ips) : pod);
    }
    for (const [key, local] of locals) pods.push(register(key, local));
    return pods;
  }
  const pods = new Map<string, PolicyPod>();
  for (const object of objects) {
    const { pod, key } = policyPodOf(object);
    pods.set(key, pod);
  }
  for (const local of localPods) {
    const key = `${local.namespace}/${local.name}`;
    const pod = pods.get(key);
    pods.set(key, pod ? placed(pod, nodeName, local.ips) : register(key, local));
  }
  return [...pods.values()];
}

/**
 * Per node, the compiler that follows changes from one compile to the next (policy/compile.ts),
 * and the last compile, so that what did not change is the same objects (policy/intern.ts).
 */
const compilers = new Map<string, { compiler: NodePolicyCompiler; interner: PolicyInterner }>();

export function compileNodePolicyFromCache(cache: ObjectCache, localPods: LocalPod[], nodeName: string): NodePolicy {
  let node = compilers.get(nodeName);
  if (!node) compilers.set(nodeName, (node = { compiler: new NodePolicyCompiler(nodeName), interner: new PolicyInterner() }));
  return node.interner.intern(node.compiler.compile(policyInputFromCache(cache, localPods, nodeName)));
}
