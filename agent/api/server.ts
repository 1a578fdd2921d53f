/**
 * The agent's gRPC server on a unix socket, mode 0600: only root (CNI plugins, weftctl run as
 * root) may talk to it, since registering endpoints changes what the agent enforces.
 */
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { claimSocketPath } from '../../kernel/unix-socket';
import type { LocalEndpoints } from './endpoints';
import type { PolicyCounter } from '../dataplane/policy-state';
import type { PolicyQuery, PolicyReply } from '../../policy/explain/answer';
import { NotFoundError, QueryError } from '../../policy/explain/query';
import type { AgentStatus, EndpointMessage, PolicyCounterMessage, PolicyQueryMessage, PolicyQueryResponseMessage } from './messages';
import { policyQueryOf } from './policy-query';
import { agentService } from './proto';

export interface AgentApiOptions {
  socketPath: string;
  status: () => AgentStatus;
  endpoints: LocalEndpoints;
  /**
   * Called after an endpoint was registered or unregistered; the call is answered when the
   * promise settles (the agent resolves it once the change is in the kernel). Rejecting answers
   * UNAVAILABLE, which a CNI plugin reports as "try again later".
   */
  afterEndpointChange?: (registered?: { podNamespace: string; podName: string }) => Promise<void>;
  /** Per-policy counters; absent when the backend does not count per policy. */
  policyCounters?: () => Promise<PolicyCounter[]>;
  /** Answers a policy question from the agent's objects; throws QueryError for a bad question. */
  policyQuery?: (query: PolicyQuery) => PolicyReply;
}

export interface AgentApi {
  readonly socketPath: string;
  close(): Promise<void>;
}

function invalid(message: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.INVALID_ARGUMENT, details: message };
}

/** A policy question's answer, or its error: the question's fault (NOT_FOUND, INVALID_ARGUMENT) or the agent's (INTERNAL). */
function answerPolicyQuery(answer: AgentApiOptions['policyQuery'], request: PolicyQueryMessage, done: grpc.sendUnaryData<PolicyQueryResponseMessage>): void {
  if (!answer) return done({ code: grpc.status.UNIMPLEMENTED, details: 'this agent does not answer policy questions' });
  let reply: PolicyReply;
  try {
    reply = answer(policyQueryOf(request));
  } catch (err) {
    const code = err instanceof NotFoundError ? grpc.status.NOT_FOUND : err instanceof QueryError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
    return done({ code, details: code === grpc.status.INTERNAL ? `answering failed: ${(err as Error).message}` : (err as Error).message });
  }
  done(null, { resultJson: JSON.stringify(reply.result), warnings: reply.warnings });
}

export async function startAgentApi(options: AgentApiOptions): Promise<AgentApi> {
  const { socketPath, endpoints } = options;
  const answerAfterChange = (done: grpc.sendUnaryData<object>, registered?: { podNamespace: string; podName: string }) => {
    if (!options.afterEndpointChange) return done(null, {});
    options.afterEndpointChange(registered).then(
      () => done(null, {}),
      (err: Error) => done({ code: grpc.status.UNAVAILABLE, details: `not applied yet: ${err.message}` }),
    );
  };
  await claimSocketPath(socketPath);
  const server = new grpc.Server();
  server.addService(agentService().service, {
    Status: (_call: grpc.ServerUnaryCall<unknown, AgentStatus>, done: grpc.sendUnaryData<AgentStatus>) => done(null, options.status()),
    RegisterEndpoint: (call: grpc.ServerUnaryCall<{ endpoint?: EndpointMessage }, object>, done: grpc.sendUnaryData<object>) => {
      const e = call.request.endpoint;
      if (!e || !e.containerId || !e.interface || !e.podName || !e.podNamespace) {
        done(invalid('endpoint needs podNamespace, podName, containerId and interface'));
        return;
      }
      endpoints.register({ podNamespace: e.podNamespace, podName: e.podName, containerId: e.containerId, interface: e.interface, addresses: [...e.addresses] });
      answerAfterChange(done, { podNamespace: e.podNamespace, podName: e.podName });
    },
    PolicyCounters: (_call: grpc.ServerUnaryCall<unknown, object>, done: grpc.sendUnaryData<{ counters: PolicyCounterMessage[] }>) => {
      if (!options.policyCounters) {
        done({ code: grpc.status.UNIMPLEMENTED, details: "this agent's backend does not count per policy (nftables does)" });
        return;
      }
      options.policyCounters().then(
        (counters) =>
          done(null, {
            counters: counters.map((c) => ({ policy: c.policy, direction: c.direction, allowedPackets: c.allowed.packets, allowedBytes: c.allowed.bytes, droppedPackets: c.dropped.packets, droppedBytes: c.dropped.bytes })),
          }),
        (err: Error) => done({ code: grpc.status.UNAVAILABLE, details: `reading the counters failed: ${err.message}` }),
      );
    },
    PolicyQuery: (call: grpc.ServerUnaryCall<PolicyQueryMessage, PolicyQueryResponseMessage>, done: grpc.sendUnaryData<PolicyQueryResponseMessage>) =>
      answerPolicyQuery(options.policyQuery, call.request, done),
    UnregisterEndpoint: (call: grpc.ServerUnaryCall<{ containerId: string; interface: string }, object>, done: grpc.sendUnaryData<object>) => {
      if (endpoints.unregister(call.request.containerId, call.request.interface)) answerAfterChange(done);
      else done(null, {});
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  fs.chmodSync(socketPath, 0o600);
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          fs.rmSync(socketPath, { force: true });
          resolve();
        });
      }),
  };
}
