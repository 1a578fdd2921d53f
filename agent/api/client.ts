/** A typed client of the agent API over its unix socket (weftctl, CNI plugins, tests). */
import * as grpc from '@grpc/grpc-js';
import type { PolicyQuery } from '../../policy/explain/answer';
import type { AgentStatus, EndpointMessage, PolicyCounterMessage, PolicyQueryMessage, PolicyDropMessage, PolicyQueryResponseMessage, RulesRequestMessage, RulesResponseMessage, ServicesResponseMessage } from './messages';
import { agentClientConstructor } from './client-definition';

export interface AgentClient {
  status(): Promise<AgentStatus>;
  registerEndpoint(endpoint: EndpointMessage): Promise<void>;
  unregisterEndpoint(containerId: string, ifName: string): Promise<void>;
  policyCounters(): Promise<PolicyCounterMessage[]>;
  /** The engine's answer as JSON text, and warnings (invalid policies among the agent's objects). */
  policyQuery(query: PolicyQuery): Promise<PolicyQueryResponseMessage>;
  /** The proxied services, checked against the kernel; `namespace` empty: all. */
  services(namespace?: string): Promise<ServicesResponseMessage>;
  /** The kernel rules and elements of a pod and/or a Service ("namespace/name"). */
  rules(request: Partial<RulesRequestMessage>): Promise<RulesResponseMessage>;
  /**
   * Policy drops (to and from `pod` when given): the recent ones, then with `follow` each new
   * one, until `cancel()` (which settles `done` without an error). Without `follow` the call
   * has the client's deadline; with it, none. `onAccepted`: the agent took the request (before
   * any drop arrives).
   */
  policyDrops(request: { follow: boolean; pod?: string }, onDrop: (drop: PolicyDropMessage) => void, onAccepted?: () => void): DropStream;
  close(): void;
}

/** A question as the PolicyQuery request carries it (read back by policy-query.ts). */
export function policyQueryMessage(q: PolicyQuery): PolicyQueryMessage {
  switch (q.kind) {
    case 'trace':
      return { trace: { from: q.from, to: q.to, port: q.port, endpoint: q.endpoint ?? '' } };
    case 'explain':
      return { explain: { pod: q.pod } };
    case 'matrix':
      return { matrix: { namespaces: q.namespaces ?? [], ports: q.ports ?? [] } };
    case 'what-if':
      return { whatIf: { policiesJson: q.policies.map((p) => JSON.stringify(p)), delete: q.delete ?? false, namespaces: q.namespaces ?? [], ports: q.ports ?? [] } };
  }
}

export interface DropStream {
  /** Settles when the stream ends: resolved at its end or cancel(), rejected with the agent's error. */
  done: Promise<void>;
  cancel(): void;
}

type Unary = (request: object, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response: unknown) => void) => void;

export function createAgentClient(socketPath: string, timeoutMs = 5000): AgentClient {
  const Service = agentClientConstructor();
  // A subchannel of its own: grpc-js shares connections to one target process-wide, and a shared
  // one that saw the socket fail (an agent restarting) waits out a reconnect backoff of seconds
  // before trying again, which a client made to ask now must not inherit.
  // No limit on answers: a policy matrix of many pods is more than the default 4 MB.
  const client = new Service(`unix:${socketPath}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1 });
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
    policyQuery: async (query) => {
      const r = await call<PolicyQueryResponseMessage>('PolicyQuery', policyQueryMessage(query));
      return { resultJson: r.resultJson, warnings: r.warnings ?? [] };
    },
    services: (namespace = '') => call<ServicesResponseMessage>('Services', { namespace }),
    rules: (request) => call<RulesResponseMessage>('Rules', { pod: request.pod ?? '', service: request.service ?? '' }),
    policyDrops: (request, onDrop, onAccepted) => {
      const open = (client as unknown as Record<string, (req: object, options: grpc.CallOptions) => grpc.ClientReadableStream<PolicyDropMessage>>).PolicyDrops.bind(client);
      const stream = open({ follow: request.follow, pod: request.pod ?? '' }, request.follow ? {} : { deadline: Date.now() + timeoutMs });
      let cancelled = false;
      stream.on('data', onDrop);
      if (onAccepted) stream.once('metadata', () => onAccepted());
      const done = new Promise<void>((resolve, reject) => {
        stream.on('end', () => resolve());
        stream.on('error', (err: grpc.ServiceError) => (cancelled && err.code === grpc.status.CANCELLED ? resolve() : reject(err)));
      });
      return {
        done,
        cancel: () => {
          cancelled = true;
          stream.cancel();
        },
      };
    },
    close: () => client.close(),
  };
}
