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

export interface NodeState {
  nodeName: string;
  /** Pods attached on this node, sorted by namespace/name. */
  localPods: LocalPod[];
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
