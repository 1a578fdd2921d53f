/** The agent API's messages as TypeScript sees them (proto/weft/agent/v1/agent.proto, camelCase). */
export interface SourceStatus {
  description: string;
  synced: boolean;
  skipped: number;
}

export interface SyncStatus {
  lastSyncUnixMs: number;
  lastSyncDurationMs: number;
  lastError: string;
}

export interface AgentStatus {
  nodeName: string;
  sources: SourceStatus[];
  objectCounts: Record<string, number>;
  sync: SyncStatus;
  localEndpoints: number;
  backend: string;
  rulesLocation: string;
  rules: number;
  ready: boolean;
}

export interface EndpointMessage {
  podNamespace: string;
  podName: string;
  containerId: string;
  interface: string;
  addresses: string[];
}

export interface PolicyCounterMessage {
  policy: string;
  direction: string;
  allowedPackets: number;
  allowedBytes: number;
  droppedPackets: number;
  droppedBytes: number;
}

/** PolicyQueryRequest: one of the four questions (the others null or absent). */
export interface PolicyQueryMessage {
  trace?: { from: string; to: string; port: string; endpoint: string } | null;
  explain?: { pod: string } | null;
  matrix?: { namespaces: string[]; ports: string[] } | null;
  whatIf?: { policiesJson: string[]; delete: boolean; namespaces: string[]; ports: string[] } | null;
}

export interface PolicyQueryResponseMessage {
  resultJson: string;
  warnings: string[];
}

/** A frontend of a service port (weftctl services). */
export interface ServiceFrontendMessage {
  /** "cluster IP", "external IP", "load-balancer IP" or "node port". */
  kind: string;
  /** Empty for a node port (served on every node-port address of the family). */
  address: string;
  port: number;
  inKernel: boolean;
}

export interface ServiceEndpointMessage {
  address: string;
  port: number;
  local: boolean;
  /** "namespace/name" of the pod its EndpointSlice names; empty when none does. */
  pod: string;
  /** "ready", "terminating" (serving while terminating), "not ready", or "" when no slice has it any more. */
  condition: string;
  inKernel: boolean;
}

export interface ServicePortMessage {
  service: string;
  portName: string;
  /** "TCP", "UDP", "SCTP". */
  protocol: string;
  family: number;
  frontends: ServiceFrontendMessage[];
  clusterEndpoints: ServiceEndpointMessage[];
  /** For the external frontends (node port, external and load-balancer IPs); empty without them. */
  externalEndpoints: ServiceEndpointMessage[];
  anyEndpoints: boolean;
  /** Traffic policies and affinity that shape it, in the Service's words. */
  notes: string[];
  /** Every frontend and endpoint of it is in the kernel. */
  inKernel: boolean;
}

export interface ServiceProblemMessage {
  object: string;
  reason: string;
}

export interface ServicesResponseMessage {
  nodeName: string;
  backend: string;
  nodePortAddresses: string[];
  ports: ServicePortMessage[];
  problems: ServiceProblemMessage[];
}

export interface RulesRequestMessage {
  pod: string;
  service: string;
}

export interface KernelEntryMessage {
  location: string;
  text: string;
  counted: boolean;
  packets: number;
  bytes: number;
  meaning: string;
  shared: boolean;
  missing: boolean;
}

export interface RulesObjectMessage {
  kind: 'pod' | 'service';
  name: string;
  addresses: string[];
  entries: KernelEntryMessage[];
}

export interface RulesResponseMessage {
  nodeName: string;
  backend: string;
  rulesLocation: string;
  objects: RulesObjectMessage[];
}

export interface PolicyDropsRequestMessage {
  follow: boolean;
  pod: string;
}

export interface PolicyDropMessage {
  firstSeenUnixMs: number;
  lastSeenUnixMs: number;
  packets: number;
  direction: string;
  family: number;
  protocol: string;
  source: string;
  sourcePort: number;
  sourcePod: string;
  destination: string;
  destinationPort: number;
  destinationPod: string;
  pod: string;
  policies: string[];
  tcpFlags: string;
  /**
   * "Admin" or "Baseline" when a ClusterNetworkPolicy tier's rule denied it, "" when NetworkPolicy
   * did; with its policy's name and the rule in words ("" when not known). Decoded messages
   * always have them; optional for senders written before them.
   */
  tier?: string;
  clusterPolicy?: string;
  rule?: string;
}
