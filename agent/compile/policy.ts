/**
 * NetworkPolicy for this node from the object cache: Namespace, Pod, Node, NetworkPolicy and
 * ClusterNetworkPolicy objects distilled into policy/'s plain input, merged with the node's
 * local pods (a local pod with no Pod object in the cache is one the CNI plugin registered
 * before the object arrived: policy/ isolates it with nothing allowed). Pure, but for the memory
 * of the last compile per node that lets unchanged parts stay the same objects.
 */
import type { ObjectCache } from '../cache';
import type { NodePolicy } from '../dataplane/policy-state';
import type { LocalPod } from '../dataplane/node-state';
import type { KubeObject } from '../objects';
import { compileNodePolicy } from '../../policy/compile';
import { PolicyInterner } from '../../policy/intern';
import type { ContainerPort, PolicyInput, PolicyNode, PolicyPod } from '../../policy/input';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function podIpsOf(pod: KubeObject): string[] {
  const status = pod.status ?? {};
  const ips = new Set<string>();
  if (Array.isArray(status.podIPs)) {
    for (const entry of status.podIPs as unknown[]) if (isRecord(entry) && typeof entry.ip === 'string') ips.add(entry.ip);
  }
  if (typeof status.podIP === 'string') ips.add(status.podIP);
  return [...ips];
}

function containerPortsOf(pod: KubeObject): ContainerPort[] {
  const containers = pod.spec?.containers;
  if (!Array.isArray(containers)) return [];
  const out: ContainerPort[] = [];
  for (const c of containers as unknown[]) {
    if (!isRecord(c) || !Array.isArray(c.ports)) continue;
    for (const p of c.ports as unknown[]) {
      if (!isRecord(p) || typeof p.containerPort !== 'number') continue;
      out.push({
        ...(typeof p.name === 'string' ? { name: p.name } : {}),
        containerPort: p.containerPort,
        ...(typeof p.protocol === 'string' ? { protocol: p.protocol } : {}),
      });
    }
  }
  return out;
}

/**
 * Pod objects are replaced, never mutated, in the cache: their distilled form is kept per object
 * so that a recompile after an unrelated change does not redo it for every pod.
 */
const podMemo = new WeakMap<KubeObject, PolicyPod>();

function policyPodOf(pod: KubeObject): PolicyPod {
  let out = podMemo.get(pod);
  if (!out) {
    const phase = pod.status?.phase;
    const nodeName = pod.spec?.nodeName;
    out = {
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name,
      labels: pod.metadata.labels ?? {},
      ips: podIpsOf(pod),
      ...(typeof nodeName === 'string' ? { nodeName } : {}),
      ...(pod.spec?.hostNetwork === true ? { hostNetwork: true } : {}),
      ...(typeof phase === 'string' ? { phase } : {}),
      containerPorts: containerPortsOf(pod),
    };
    podMemo.set(pod, out);
  }
  return out;
}

/** The node addresses ClusterNetworkPolicy `nodes` peers match (as kube-network-policies does). */
const NODE_ADDRESS_TYPES: ReadonlySet<unknown> = new Set(['InternalIP', 'ExternalIP']);
const nodeMemo = new WeakMap<KubeObject, PolicyNode>();

function policyNodeOf(node: KubeObject): PolicyNode {
  let out = nodeMemo.get(node);
  if (!out) {
    const addresses = Array.isArray(node.status?.addresses) ? (node.status.addresses as unknown[]) : [];
    const ips = addresses.flatMap((a) => (isRecord(a) && NODE_ADDRESS_TYPES.has(a.type) && typeof a.address === 'string' ? [a.address] : []));
    out = { name: node.metadata.name, labels: node.metadata.labels ?? {}, addresses: [...new Set(ips)] };
    nodeMemo.set(node, out);
  }
  return out;
}

/** The plain input policy/ compiles, with `localPods` (objects or registrations) placed on `nodeName`. */
export function policyInputFromCache(cache: ObjectCache, localPods: readonly LocalPod[], nodeName: string): PolicyInput {
  const pods = new Map<string, PolicyPod>();
  for (const object of cache.list('Pod')) {
    const pod = policyPodOf(object);
    pods.set(`${pod.namespace}/${pod.name}`, pod);
  }
  for (const local of localPods) {
    const key = `${local.namespace}/${local.name}`;
    const pod = pods.get(key);
    // Addresses the CNI plugin registered count before the API server reports them.
    if (pod) pods.set(key, { ...pod, nodeName, ips: [...new Set([...pod.ips, ...local.ips])] });
    else pods.set(key, { namespace: local.namespace, name: local.name, labels: null, ips: local.ips, nodeName, containerPorts: [] });
  }
  return {
    namespaces: cache.list('Namespace').map((ns) => ({ name: ns.metadata.name, labels: ns.metadata.labels ?? {} })),
    pods: [...pods.values()],
    policies: cache.list('NetworkPolicy'),
    clusterPolicies: cache.list('ClusterNetworkPolicy'),
    nodes: cache.list('Node').map(policyNodeOf),
  };
}

/** The last compile per node, so that what did not change is the same objects (policy/intern.ts). */
const interners = new Map<string, PolicyInterner>();

export function compileNodePolicyFromCache(cache: ObjectCache, localPods: LocalPod[], nodeName: string): NodePolicy {
  let interner = interners.get(nodeName);
  if (!interner) interners.set(nodeName, (interner = new PolicyInterner()));
  return interner.intern(compileNodePolicy(policyInputFromCache(cache, localPods, nodeName), nodeName));
}
