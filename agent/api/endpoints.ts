/**
 * Pods attached on this node as the CNI plugins report them (RegisterEndpoint on ADD,
 * UnregisterEndpoint on DEL), keyed by container ID and interface like a CNI attachment.
 */
export interface LocalEndpoint {
  podNamespace: string;
  podName: string;
  containerId: string;
  interface: string;
  addresses: string[];
}

export class LocalEndpoints {
  private readonly byAttachment = new Map<string, LocalEndpoint>();

  private static key(containerId: string, ifName: string): string {
    return `${containerId}/${ifName}`;
  }

  register(endpoint: LocalEndpoint): void {
    this.byAttachment.set(LocalEndpoints.key(endpoint.containerId, endpoint.interface), endpoint);
  }

  /** True when something was registered under this attachment. */
  unregister(containerId: string, ifName: string): boolean {
    return this.byAttachment.delete(LocalEndpoints.key(containerId, ifName));
  }

  list(): LocalEndpoint[] {
    return [...this.byAttachment.values()];
  }

  get size(): number {
    return this.byAttachment.size;
  }
}
