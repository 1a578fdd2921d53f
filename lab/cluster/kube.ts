/**
 * Kubernetes objects as the control plane and a kubelet would write them for the lab: Nodes with
 * their pod CIDRs and addresses, Namespaces with the kubernetes.io/metadata.name label the API
 * server adds, Pods bound to a node (Pending), then Running with their addresses. Pure functions.
 */
import crypto from 'node:crypto';
import type { KubeObject } from '../../agent/objects';
import type { NodeRecord } from './state';

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export function nodeObject(node: NodeRecord): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      uid: crypto.randomUUID(),
      labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux' },
    },
    spec: { podCIDR: node.podCIDRs.v4, podCIDRs: [node.podCIDRs.v4, node.podCIDRs.v6] },
    status: {
      addresses: [
        { type: 'InternalIP', address: node.underlay.v4 },
        { type: 'InternalIP', address: node.underlay.v6 },
        { type: 'Hostname', address: node.name },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
    },
  };
}

/** A Namespace with the immutable name label the API server sets on every namespace. */
export function namespaceObject(name: string, from?: KubeObject): KubeObject {
  const metadata = from?.metadata ?? { name };
  return {
    ...(from ?? {}),
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { ...metadata, uid: metadata.uid ?? crypto.randomUUID(), labels: { ...(metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: name } },
    status: { phase: 'Active' },
  };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol: 'TCP' | 'UDP';
}

/** The spec of a lab default pod: one container serving `ports` on TCP and UDP, each port named. */
export function defaultPodSpec(ports: number[]): Record<string, unknown> {
  const containerPorts: ContainerPort[] = ports.flatMap((p) => [
    { name: `tcp-${p}`, containerPort: p, protocol: 'TCP' as const },
    { name: `udp-${p}`, containerPort: p, protocol: 'UDP' as const },
  ]);
  return { containers: [{ name: 'server', image: 'weft-lab/pod-server', ports: containerPorts }] };
}

/**
 * The Pod as it is once the scheduler has bound it and before its sandbox has a network: what
 * the node's agent sees when the CNI ADD registers the pod (its labels decide its policy).
 */
export function scheduledPod(obj: KubeObject, uid: string, node: NodeRecord): KubeObject {
  return {
    ...obj,
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...obj.metadata, uid },
    spec: { ...(obj.spec ?? {}), nodeName: node.name },
    status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }] },
  };
}

/** The Pod as the kubelet reports it once its sandbox has a network: nodeName, IPs, Running. */
export function runningPod(obj: KubeObject, uid: string, node: NodeRecord, ips: string[]): KubeObject {
  return {
    ...scheduledPod(obj, uid, node),
    status: {
      phase: 'Running',
      hostIP: node.underlay.v4,
      hostIPs: [{ ip: node.underlay.v4 }, { ip: node.underlay.v6 }],
      podIP: ips[0],
      podIPs: ips.map((ip) => ({ ip })),
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: 'True' },
        { type: 'ContainersReady', status: 'True' },
        { type: 'PodScheduled', status: 'True' },
      ],
    },
  };
}
