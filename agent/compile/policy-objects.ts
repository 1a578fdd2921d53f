/**
 * Pod and Node objects distilled into policy/'s plain input (agent/compile/policy.ts builds the
 * node's input from them; weftctl's model, policy/explain/, reads pods one at a time with them),
 * each once per object: the cache replaces objects, never changes them.
 */
import type { KubeObject } from '../objects';
import type { ContainerPort, PolicyNode, PolicyPod } from '../../policy/input';

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
const podMemo = new WeakMap<KubeObject, { pod: PolicyPod; key: string }>();

/** The distilled pod, and its "namespace/name". */
export function policyPodOf(pod: KubeObject): { pod: PolicyPod; key: string } {
  let out = podMemo.get(pod);
  if (!out) {
    const phase = pod.status?.phase;
    const nodeName = pod.spec?.nodeName;
    const distilled: PolicyPod = {
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name,
      labels: pod.metadata.labels ?? {},
      ips: podIpsOf(pod),
      ...(typeof nodeName === 'string' ? { nodeName } : {}),
      ...(pod.spec?.hostNetwork === true ? { hostNetwork: true } : {}),
      ...(typeof phase === 'string' ? { phase } : {}),
      containerPorts: containerPortsOf(pod),
    };
    podMemo.set(pod, (out = { pod: distilled, key: `${distilled.namespace}/${distilled.name}` }));
  }
  return out;
}

/** The node addresses ClusterNetworkPolicy `nodes` peers match (as kube-network-policies does). */
const NODE_ADDRESS_TYPES: ReadonlySet<unknown> = new Set(['InternalIP', 'ExternalIP']);
const nodeMemo = new WeakMap<KubeObject, PolicyNode>();

export function policyNodeOf(node: KubeObject): PolicyNode {
  let out = nodeMemo.get(node);
  if (!out) {
    const addresses = Array.isArray(node.status?.addresses) ? (node.status.addresses as unknown[]) : [];
    const ips = addresses.flatMap((a) => (isRecord(a) && NODE_ADDRESS_TYPES.has(a.type) && typeof a.address === 'string' ? [a.address] : []));
    out = { name: node.metadata.name, labels: node.metadata.labels ?? {}, addresses: [...new Set(ips)] };
    nodeMemo.set(node, out);
  }
  return out;
}
