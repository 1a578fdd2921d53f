/**
 * Tells weft-agent about a pod a plugin attached (ADD) or detached (DEL), when the network
 * configuration names the agent's socket (`"agentSocket": "/run/weft/agent.sock"`). The agent
 * answers a registration once the pod's rules are in the kernel, so a pod never starts before
 * its policy does; when the agent cannot confirm that, the ADD is undone and fails with code 11
 * (try again later), which makes the runtime retry. Unregistering is best effort: a DEL must
 * succeed, and an agent that restarts forgets registrations anyway (it learns pods from the
 * API server).
 *
 * The gRPC client is loaded only when a configuration asks for it: plugins without an agent pay
 * nothing for it.
 */
import type { AttachmentRequest, CniPlugin } from '../plugin';
import { CniError, ErrorCode, type Result } from '../types';

/**
 * The agent must answer within this (or the configuration's `"agentTimeoutMs"`), or the ADD
 * fails with "try again later".
 */
const REGISTER_TIMEOUT_MS = 10_000;
const MAX_REGISTER_TIMEOUT_MS = 120_000;

function registerTimeoutOf(req: AttachmentRequest): number {
  const value = req.config.agentTimeoutMs;
  if (value === undefined || value === null) return REGISTER_TIMEOUT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_REGISTER_TIMEOUT_MS) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `agentTimeoutMs must be an integer from 1 to ${MAX_REGISTER_TIMEOUT_MS}, got ${JSON.stringify(value)}`);
  }
  return value;
}
const UNREGISTER_TIMEOUT_MS = 2_000;

function agentSocketOf(req: AttachmentRequest): string | undefined {
  const socket = req.config.agentSocket;
  if (socket === undefined || socket === null || socket === '') return undefined;
  if (typeof socket !== 'string' || !socket.startsWith('/')) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `agentSocket must be an absolute path, got ${JSON.stringify(socket)}`);
  }
  return socket;
}

async function client(socket: string, timeoutMs: number) {
  const { createAgentClient } = await import('../../agent/api/client');
  return createAgentClient(socket, timeoutMs);
}

/** Wraps an attachment plugin so that ADD registers and DEL unregisters the pod with the agent. */
export function withAgentRegistration(plugin: CniPlugin): CniPlugin {
  return {
    ...plugin,
    name: plugin.name,
    async add(req: AttachmentRequest): Promise<Result> {
      const socket = agentSocketOf(req);
      const timeoutMs = registerTimeoutOf(req);
      const result = await plugin.add(req);
      if (!socket) return result;
      const podNamespace = req.args.get('K8S_POD_NAMESPACE');
      const podName = req.args.get('K8S_POD_NAME');
      // A runtime that is not kubelet (podman) names no pod: the agent has nothing to enforce.
      if (!podNamespace || !podName) return result;
      let agent: Awaited<ReturnType<typeof client>> | undefined;
      try {
        agent = await client(socket, timeoutMs);
        await agent.registerEndpoint({ podNamespace, podName, containerId: req.containerId, interface: req.ifName, addresses: (result.ips ?? []).map((ip) => ip.address) });
      } catch (err) {
        await plugin.del(req).catch(() => undefined);
        throw new CniError(ErrorCode.TryAgainLater, `weft-agent at ${socket} did not confirm the pod: ${(err as Error).message}`, 'the attachment was undone; the runtime retries the ADD');
      } finally {
        agent?.close();
      }
      return result;
    },
    async del(req: AttachmentRequest): Promise<void> {
      let socket: string | undefined;
      try {
        socket = agentSocketOf(req);
      } catch {
        socket = undefined; // a DEL does not fail on configuration it does not need
      }
      if (socket) {
        try {
          const agent = await client(socket, UNREGISTER_TIMEOUT_MS);
          await agent.unregisterEndpoint(req.containerId, req.ifName).catch(() => undefined);
          agent.close();
        } catch {
          // No client could be made (e.g. no API definition): nothing to tell; the DEL goes on.
        }
      }
      await plugin.del(req);
    },
  };
}
