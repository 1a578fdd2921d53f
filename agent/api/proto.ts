/** Loads the agent API definition once, for the server (clients: client-definition.ts). */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type * as ProtoLoader from '@grpc/proto-loader';

/** dist/agent/api -> <root>/proto/weft/agent/v1/agent.proto */
export const AGENT_PROTO = path.join(__dirname, '..', '..', '..', 'proto', 'weft', 'agent', 'v1', 'agent.proto');

let cached: grpc.ServiceClientConstructor | undefined;

/** The generated service constructor (its `.service` is the definition servers implement). */
export function agentService(): grpc.ServiceClientConstructor {
  if (!cached) {
    // Loaded here: clients (client-definition.ts) import AGENT_PROTO without it.
    const protoLoader = require('@grpc/proto-loader') as typeof ProtoLoader;
    // Numbers as numbers (counts and times fit), defaults filled in, fields camelCased.
    const definition = protoLoader.loadSync(AGENT_PROTO, { longs: Number, defaults: true, keepCase: false });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { weft: { agent: { v1: { Agent: grpc.ServiceClientConstructor } } } };
    cached = pkg.weft.agent.v1.Agent;
  }
  return cached;
}
