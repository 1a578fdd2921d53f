/**
 * The desired data-plane state of one node, as the compilers produce it from the object cache:
 * what weft wants in the kernel, in terms of Kubernetes (pods, later policies, services, routes),
 * not of a backend. Each backend (nftables, iptables) renders the same NodeState, which is why
 * both enforce the same semantics.
 */

/** A pod running on this node, with the addresses it has on the pod network. */
export interface LocalPod {
  namespace: string;
  name: string;
  /** Bare addresses (no prefix length), IPv4 and IPv6, sorted. */
  ips: string[];
}

/**
 * Source NAT for pods talking to the world: traffic from this node's pod subnets to anything
 * outside the cluster's pod and service ranges leaves with the node's address; pod-to-pod and
 * pod-to-service traffic keeps the pod's own.
 */
export interface Masquerade {
  /** This node's pod subnets (CIDRs, either family). */
  sources: string[];
  /** Cluster pod and service ranges: destinations never masqueraded. */
  exceptDestinations: string[];
}

export interface NodeState {
  nodeName: string;
  /** Pods attached on this node, sorted by namespace/name. */
  localPods: LocalPod[];
  masquerade?: Masquerade;
}

/** What applying a NodeState did. */
export interface ApplyOutcome {
  /** Kernel operations applied; 0 when the kernel already had the desired state. */
  changes: number;
  /** Rules plus set/map elements weft now owns in the kernel. */
  rules: number;
}

/** A backend that makes the kernel match a NodeState, in one transaction per apply. */
export interface DataPlaneBackend {
  readonly name: 'nftables' | 'iptables';
  /** Where its rules live, for status and logs ("inet weft", "filter WEFT-*"). */
  readonly location: string;
  /**
   * Reads what the kernel has, and applies the difference atomically (nothing when there is
   * none). Rules left by an earlier agent are adopted, never flushed first.
   */
  apply(state: NodeState): Promise<ApplyOutcome>;
}
