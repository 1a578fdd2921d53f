/**
 * What the policy compiler reads: plain records distilled from Namespace, Pod, Node,
 * NetworkPolicy and ClusterNetworkPolicy objects, so that the semantics can be tested without an
 * object cache. agent/compile/policy.ts builds this from the agent's cache.
 */
import type { KubeObject } from '../agent/objects';

export interface PolicyNamespace {
  name: string;
  /** The Namespace object's labels (kubernetes.io/metadata.name only when the object has it). */
  labels: Readonly<Record<string, string>>;
}

/** One entry of spec.containers[].ports[], as the Pod object gives it. */
export interface ContainerPort {
  name?: string;
  containerPort: number;
  /** "TCP" (the default), "UDP" or "SCTP". */
  protocol?: string;
}

export interface PolicyPod {
  namespace: string;
  name: string;
  /**
   * The Pod object's labels; null when there is no Pod object yet (a pod the CNI plugin
   * registered on this node before the object arrived): such a pod is isolated both ways with
   * nothing allowed, and matches no pod selector.
   */
  labels: Readonly<Record<string, string>> | null;
  /** Its pod-network addresses, bare (no prefix length), either family. */
  ips: readonly string[];
  nodeName?: string;
  hostNetwork?: boolean;
  /** status.phase: Succeeded and Failed pods are no longer endpoints. */
  phase?: string;
  containerPorts: readonly ContainerPort[];
}

/** A Node as ClusterNetworkPolicy's `nodes` peers see it: its labels and its addresses. */
export interface PolicyNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** status.addresses of type InternalIP and ExternalIP, bare, either family. */
  addresses: readonly string[];
}

/**
 * Pods and policy objects are read as immutable: each is distilled once and remembered by
 * identity (the agent's cache replaces an object when it changes, never edits it), so that a
 * recompile after one change does not redo the work for every object. Pass a new object for a
 * changed pod or policy.
 */
export interface PolicyInput {
  namespaces: readonly PolicyNamespace[];
  /** Every pod of the cluster (peers can be anywhere), local ones with nodeName set. */
  pods: readonly PolicyPod[];
  /** NetworkPolicy objects (networking.k8s.io/v1), unvalidated beyond the envelope. */
  policies: readonly KubeObject[];
  /**
   * ClusterNetworkPolicy objects (policy.networking.k8s.io/v1alpha2), unvalidated beyond the
   * envelope: the Admin tier before NetworkPolicy, the Baseline tier after. Absent: none.
   */
  clusterPolicies?: readonly KubeObject[];
  /** Nodes, for ClusterNetworkPolicy `nodes` peers. Absent: none known. */
  nodes?: readonly PolicyNode[];
}
