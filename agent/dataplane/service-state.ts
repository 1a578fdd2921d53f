/**
 * Service proxying as a node does it, in terms no backend has to interpret: for every port of
 * every Service (one entry per IP family of a dual-stack Service), the frontends traffic arrives
 * at (cluster IP, node port, external IPs, load-balancer IPs) and the endpoints it is spread
 * over, with kube-proxy's choices already made (which endpoints serve which traffic, what is
 * rejected or dropped, affinity). agent/proxy/ produces this from Services, EndpointSlices and
 * the Node; the nftables and iptables backends render it.
 */

export type ServiceProtocol = 'tcp' | 'udp' | 'sctp';

/**
 * The packet mark bit a backend's service chains set to have postrouting masquerade a packet
 * (kube-proxy's 0x4000, so that the two are recognisable side by side): one value for both
 * backends.
 */
export const MASQUERADE_MARK = 0x4000;

/** One endpoint of a service port: a pod address and the port it serves this service port on. */
export interface ServiceEndpoint {
  /** Bare canonical address, of the port's family. */
  ip: string;
  port: number;
  /** The endpoint runs on this node. */
  local: boolean;
}

/**
 * One port of one Service in one IP family: kube-proxy's "service port". Headless services
 * (clusterIP None) and ExternalName services have none.
 */
export interface ServicePortState {
  /**
   * "namespace/name:portName:protocol:v4|v6" (portName empty for an unnamed port): stable while
   * the port exists, so it can name kernel objects (hashed) and unrelated changes leave them.
   */
  key: string;
  /** "namespace/name" of the Service. */
  service: string;
  /** The port's name in the Service ('' when unnamed). */
  portName: string;
  protocol: ServiceProtocol;
  family: 4 | 6;
  /** The cluster IP of this family. */
  clusterIp: string;
  /** The service port (on the cluster IP, external IPs and load-balancer IPs). */
  port: number;
  /** Served on this node's node-port addresses (ServiceState.nodePortAddresses); absent: none. */
  nodePort?: number;
  /** spec.externalIPs of this family, sorted. */
  externalIps: string[];
  /** status.loadBalancer.ingress[].ip of this family (type LoadBalancer only), sorted. */
  loadBalancerIps: string[];
  /**
   * spec.loadBalancerSourceRanges of this family, canonical CIDRs, sorted. Non-empty: traffic to
   * the load-balancer IPs from other sources is dropped. Empty: any source.
   */
  loadBalancerSourceRanges: string[];
  /**
   * Endpoints for traffic to the cluster IP: the ready ones (with internalTrafficPolicy Local,
   * only this node's); when none is ready, the serving terminating ones, as kube-proxy does.
   * Sorted by ip, then port. Empty: see anyEndpoints.
   */
  clusterEndpoints: ServiceEndpoint[];
  /**
   * Endpoints for traffic from outside (node port, external IPs, load-balancer IPs): the
   * cluster endpoints, or with externalTrafficPolicy Local this node's ready endpoints (serving
   * terminating ones when none is ready).
   */
  externalEndpoints: ServiceEndpoint[];
  /**
   * Some node has a usable endpoint. What an empty endpoint list means, as in kube-proxy:
   * false, connections are rejected at once (ICMP unreachable / TCP reset: the service has no
   * endpoints anywhere); true, packets are dropped (endpoints exist, on other nodes, and a Local
   * traffic policy keeps this node from using them).
   */
  anyEndpoints: boolean;
  /**
   * externalTrafficPolicy Local: external traffic keeps its client address (no masquerade) and
   * goes only to local endpoints. Traffic from this node's pods to an external IP or
   * load-balancer IP still uses the cluster endpoints (kube-proxy's short circuit).
   */
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
  /** sessionAffinity ClientIP: the affinity timeout in seconds; absent: no affinity. */
  affinityTimeoutSeconds?: number;
}

/**
 * A health-check node port (externalTrafficPolicy Local on a LoadBalancer service): the agent
 * answers HTTP on it with 200 while the service has local endpoints and 503 when not, as
 * kube-proxy does, so that load balancers send traffic only to nodes with endpoints.
 */
export interface HealthCheckPort {
  /** "namespace/name" */
  service: string;
  port: number;
  /**
   * Ready local endpoints: distinct addresses across the Service's ports and families (a
   * dual-stack pod counts twice, a pod serving two ports once), as kube-proxy counts them.
   */
  localEndpoints: number;
}

export interface ServiceProblem {
  /**
   * "namespace/name" of the Service or EndpointSlice (reasons about a slice start with
   * "EndpointSlice"); the node's name for its Node; "nodePortAddresses" for the configuration.
   */
  object: string;
  reason: string;
}

/**
 * The compiler memoises per object: states of unchanged Services are the same objects from one
 * compile to the next, so consumers must not mutate them (and may compare them by identity).
 */
export interface ServiceState {
  /** Sorted by key. */
  ports: ServicePortState[];
  /** This node's addresses node ports are served on (bare, canonical, sorted). */
  nodePortAddresses: string[];
  /** Sorted by port. */
  healthChecks: HealthCheckPort[];
  /** Objects and fields that could not be used (reported, and skipped; the rest is proxied); grouped by object. */
  problems: ServiceProblem[];
}
