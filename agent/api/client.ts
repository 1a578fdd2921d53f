/** A typed client of the agent API over its unix socket (weftctl, CNI plugins, tests). */
import * as grpc from '@grpc/grpc-js';
import type { AgentStatus, EndpointMessage, PolicyCounterMessage } from './messages';
import { agentService } from './proto';

export interface AgentClient {
  status(): Promise<AgentStatus>;
  registerEndpoint(endpoint: EndpointMessage): Promise<void>;
  unregisterEndpoint(containerId: string, ifName: string): Promise<void>;
  policyCounters(): Promise<PolicyCounterMessage[]>;
  close(): void;
}

type Unary = (request: object, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response: unknown) => void) => void;

export function createAgentClient(socketPath: string, timeoutMs = 5000): AgentClient {
  const Service = agentService();
  // A subchannel of its own: grpc-js shares connections to one target process-wide, and a shared
  // one that saw the socket fail (an agent restarting) waits out a reconnect backoff of seconds
  // before trying again, which a client made to ask now must not inherit.
  const client = new Service(`unix:${socketPath}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const call = <T>(method: string, request: object): Promise<T> =>
    new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, Unary>)[method].bind(client);
      fn(request, { deadline: Date.now() + timeoutMs }, (err, response) => (err ? reject(err) : resolve(response as T)));
    });
  return {
    status: () => call<AgentStatus>('Status', {}),
    registerEndpoint: async (endpoint) => void (await call('RegisterEndpoint', { endpoint })),
    unregisterEndpoint: async (containerId, ifName) => void (await call('UnregisterEndpoint', { containerId, interface: ifName })),
    policyCounters: async () => (await call<{ counters?: PolicyCounterMessage[] }>('PolicyCounters', {})).counters ?? [],
    close: () => client.close(),
  };
}
