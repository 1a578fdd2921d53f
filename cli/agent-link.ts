/**
 * What weftctl loads to talk to an agent: grpc-js and the agent API client. One module, so that
 * `npm run build` can bundle it on its own (bundle-build.ts, a "part" with its own code cache):
 * half of what the CLI bundle held, which an offline question never runs.
 */
export { status } from '@grpc/grpc-js';
export { createAgentClient } from '../agent/api/client';
