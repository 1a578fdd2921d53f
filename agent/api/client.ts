/** A typed client of the agent API over its unix socket (weftctl, CNI plugins, tests). */
import * as grpc from '@grpc/grpc-js';
import type { AgentStatus, EndpointMessage } from './messages';
import { agentService } from './proto';

export interface AgentClient {
  status(): Promise<AgentStatus>;
  registerEndpoint(endpoint: EndpointMessage): Promise<void>;
  unregisterEndpoint(containerId: string, ifName: string): Promise<void>;
  close(): void;
}

type Unary = (request: object, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response: unknown) => void) => void;

export function createAgentClient(socketPath: string, timeoutMs = 5000): AgentClient {
  const Service = agentService();
  const client = new Service(`unix:${socketPath}`, grpc.credentials.createInsecure());
  const call = <T>(method: string, request: object): Promise<T> =>
    new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, Unary>)[method].bind(client);
      fn(request, { deadline: Date.now() + timeoutMs }, (err, response) => (err ? reject(err) : resolve(response as T)));
    });
  return {
    status: () => call<AgentStatus>('Status', {}),
    registerEndpoint: async (endpoint) => void (await call('RegisterEndpoint', { endpoint })),
    unregisterEndpoint: async (containerId, ifName) => void (await call('UnregisterEndpoint', { containerId, interface: ifName })),
    close: () => client.close(),
  };
}
