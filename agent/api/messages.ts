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
