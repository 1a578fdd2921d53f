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
import { InspectError } from '../inspect/errors';
import type { DropsView } from './inspect-answers';
import type {
  AgentStatus,
  EndpointMessage,
  PolicyCounterMessage,
  PolicyDropMessage,
  PolicyDropsRequestMessage,
  PolicyQueryMessage,
  PolicyQueryResponseMessage,
  RulesRequestMessage,
  RulesResponseMessage,
  ServicesResponseMessage,
} from './messages';
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
  /** The proxied services checked against the kernel (weftctl services); throws InspectError. */
  services?: (namespace: string) => Promise<ServicesResponseMessage>;
  /** The kernel rules and elements of a pod or Service (weftctl rules); throws InspectError. */
  rules?: (request: RulesRequestMessage) => Promise<RulesResponseMessage>;
  /** The drops a weftctl policy drops request asks for; throws InspectError. */
  policyDrops?: (request: { pod: string }) => DropsView;
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

/** An inspection's answer, or its error: InspectError says which, anything else is the agent's fault (INTERNAL). */
function answerInspection<T>(answer: (() => Promise<T>) | undefined, done: grpc.sendUnaryData<T>): void {
  if (!answer) return done({ code: grpc.status.UNIMPLEMENTED, details: 'this agent does not answer this' });
  answer().then(
    (reply) => done(null, reply),
    (err: Error) => {
      const code = err instanceof InspectError ? grpc.status[err.code] : grpc.status.INTERNAL;
      done({ code, details: code === grpc.status.INTERNAL ? `answering failed: ${err.message}` : err.message });
    },
  );
}

/**
 * A PolicyDrops stream: the recent drops, then with `follow` each new one until the client
 * cancels or the server closes (`following` holds the ends of open streams for that).
 */
function streamDrops(options: AgentApiOptions, call: grpc.ServerWritableStream<PolicyDropsRequestMessage, PolicyDropMessage>, following: Set<() => void>): void {
  let view: DropsView;
  try {
    if (!options.policyDrops) throw new InspectError('UNIMPLEMENTED', 'this agent does not report policy drops');
    view = options.policyDrops({ pod: call.request.pod });
  } catch (err) {
    const code = err instanceof InspectError ? grpc.status[err.code] : grpc.status.INTERNAL;
    call.emit('error', { code, details: (err as Error).message });
    return;
  }
  // Headers now: a follower knows the request was accepted before any drop comes.
  call.sendMetadata(new grpc.Metadata());
  for (const drop of view.recent) call.write(drop);
  if (!call.request.follow) {
    call.end();
    return;
  }
  const stop = view.follow((drop) => call.write(drop));
  const end = () => {
    stop();
    following.delete(end);
    call.end();
  };
  following.add(end);
  call.on('cancelled', end);
  call.on('error', end);
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
  const following = new Set<() => void>();
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
    Services: (call: grpc.ServerUnaryCall<{ namespace: string }, ServicesResponseMessage>, done: grpc.sendUnaryData<ServicesResponseMessage>) =>
      answerInspection(options.services && (() => options.services!(call.request.namespace)), done),
    Rules: (call: grpc.ServerUnaryCall<RulesRequestMessage, RulesResponseMessage>, done: grpc.sendUnaryData<RulesResponseMessage>) =>
      answerInspection(options.rules && (() => options.rules!(call.request)), done),
    PolicyDrops: (call: grpc.ServerWritableStream<PolicyDropsRequestMessage, PolicyDropMessage>) => streamDrops(options, call, following),
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
        // Streams that follow drops end only when asked: the shutdown would wait for them forever.
        for (const end of [...following]) end();
        server.tryShutdown(() => {
          fs.rmSync(socketPath, { force: true });
          resolve();
        });
      }),
  };
}
