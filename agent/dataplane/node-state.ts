/**
 * The desired data-plane state of one node, as the compilers produce it from the object cache:
 * what weft wants in the kernel, in terms of Kubernetes (pods, later policies, services, routes),
 * not of a backend. Each backend (nftables, iptables) renders the same NodeState, which is why
 * both enforce the same semantics.
 */

import type { NodePolicy, PolicyCounter } from './policy-state';
import type { ServiceState } from './service-state';

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

/** Service proxying on this node (service-state.ts), and what it needs to know of the cluster. */
export interface NodeServices {
  state: ServiceState;
  /**
   * The cluster's pod ranges (either family): a client outside them reaching a cluster IP is
   * masqueraded, and under externalTrafficPolicy Local a client inside them short-circuits to
   * any endpoint, as kube-proxy does with --cluster-cidr. Empty: neither.
   */
  clusterCidrs: string[];
}

export interface NodeState {
  nodeName: string;
  /** Pods attached on this node, sorted by namespace/name. */
  localPods: LocalPod[];
  masquerade?: Masquerade;
  /**
   * The bridge this node's pods are attached to. With it, the backend admits only known pods:
   * a packet that enters from the bridge with a source address that is not a local pod's
   * (spoofed, or from a pod interface the agent does not know yet) is dropped, and so is a
   * unicast packet to an address on the bridge that is not a local pod's. IPv6 link-local and
   * unspecified sources pass for ICMPv6 only (neighbour discovery), multicast destinations pass.
   */
  podBridge?: string;
  /** NetworkPolicy for this node's pods (policy-state.ts); absent: nothing is isolated. */
  policy?: NodePolicy;
  /** Service proxying; absent: none (kube-proxy or nothing does it). */
  services?: NodeServices;
}

/** What applying a NodeState did. */
export interface ApplyOutcome {
  /** Kernel operations applied; 0 when the kernel already had the desired state. */
  changes: number;
  /** Rules plus set/map elements weft now owns in the kernel. */
  rules: number;
}

export interface ApplyOptions {
  /**
   * Read what the kernel has instead of trusting what this backend committed last: for the
   * periodic resync, which reverts changes made behind the agent's back. Reading a large
   * ruleset back costs far more than the change itself, so other syncs skip it. 'if-changed':
   * only when the kernel may have been changed since this backend's last commit, as far as the
   * backend can tell (nftables: the ruleset's generation); otherwise it is read back.
   */
  fromKernel?: boolean | 'if-changed';
}

/** A backend that makes the kernel match a NodeState, in one transaction per apply. */
export interface DataPlaneBackend {
  readonly name: 'nftables' | 'iptables';
  /** Where its rules live, for status and logs ("inet weft", "filter WEFT-*"). */
  readonly location: string;
  /**
   * Applies the difference between `state` and what the kernel has, atomically (nothing when
   * there is none). What the kernel has is read back on the first apply, after a failed one and
   * when asked (`fromKernel`); otherwise it is what the last apply committed. Rules left by an
   * earlier agent are adopted, never flushed first.
   */
  apply(state: NodeState, options?: ApplyOptions): Promise<ApplyOutcome>;
  /** Per-policy counters, read from the kernel; absent where the backend does not count per policy. */
  policyCounters?(): Promise<PolicyCounter[]>;
}
