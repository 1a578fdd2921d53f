/**
 * The agent's gRPC server on a unix socket, mode 0600: only root (CNI plugins, weftctl run as
 * root) may talk to it, since registering endpoints changes what the agent enforces.
 */
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { claimSocketPath } from '../../kernel/unix-socket';
import type { LocalEndpoints } from './endpoints';
import type { AgentStatus, EndpointMessage } from './messages';
import { agentService } from './proto';

export interface AgentApiOptions {
  socketPath: string;
  status: () => AgentStatus;
  endpoints: LocalEndpoints;
}

export interface AgentApi {
  readonly socketPath: string;
  close(): Promise<void>;
}

function invalid(message: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.INVALID_ARGUMENT, details: message };
}

export async function startAgentApi(options: AgentApiOptions): Promise<AgentApi> {
  const { socketPath, endpoints } = options;
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
      done(null, {});
    },
    UnregisterEndpoint: (call: grpc.ServerUnaryCall<{ containerId: string; interface: string }, object>, done: grpc.sendUnaryData<object>) => {
      endpoints.unregister(call.request.containerId, call.request.interface);
      done(null, {});
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
