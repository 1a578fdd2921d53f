/**
 * How weftctl finds and asks an agent: its API socket (--socket), or the agent of a lab node
 * (--lab, --node), with a deadline; a missing socket or an agent that does not answer is one
 * clear error.
 *
 * grpc-js, the client and the lab's modules are loaded when a question is asked, not when
 * weftctl starts: they are most of a command's start-up, and an offline question or a usage
 * error needs none of them.
 */
import fs from 'node:fs';
import type { status as GrpcStatus } from '@grpc/grpc-js';
import type { Argv } from 'yargs';
import type { AgentClient } from '../agent/api/client';

export const DEFAULT_AGENT_SOCKET = '/run/weft/agent.sock';

export interface AgentArgs {
  socket?: string;
  lab?: string;
  node?: string;
  'state-root'?: string;
  timeout: number;
}

export function agentOptions<T>(c: Argv<T>) {
  return c
    .option('socket', { type: 'string', describe: `the agent's API socket (default ${DEFAULT_AGENT_SOCKET})` })
    .option('lab', { type: 'string', describe: 'the agent of a lab node instead (with --node; the first node by default)' })
    .option('node', { type: 'string', describe: 'lab node (with --lab)' })
    .option('state-root', { type: 'string', describe: 'lab state root (with --lab)' })
    .option('timeout', { type: 'number', default: 5, describe: 'seconds to wait for an answer' });
}

/** A gRPC status code by its name (NOT_FOUND): callers say which without loading grpc-js. */
export type StatusName = keyof typeof GrpcStatus;

export async function socketOf(a: AgentArgs): Promise<string> {
  if (a.socket) return a.socket;
  if (a.lab) {
    const [{ openLab }, { stateRoot }] = await Promise.all([import('../lab/cluster/inspect'), import('../lab/cluster/names')]);
    const { state } = openLab(a.lab, stateRoot(a['state-root']));
    const node = state.nodes.find((n) => n.name === (a.node ?? state.nodes[0]?.name));
    if (!node?.agent) throw new Error(`lab ${a.lab} has no agent for node ${a.node ?? '(first)'}`);
    return node.agent.socket;
  }
  return DEFAULT_AGENT_SOCKET;
}

/**
 * Runs one call against the agent and closes the connection; errors say which socket, except
 * those with a gRPC status in `answered`: the agent's own answer about the question (no such
 * pod), said in its words.
 */
export async function askAgent<R>(a: AgentArgs, fn: (client: AgentClient) => Promise<R>, answered: readonly StatusName[] = []): Promise<{ socket: string; result: R }> {
  const socket = await socketOf(a);
  if (!fs.existsSync(socket)) throw new Error(`no agent socket at ${socket} (is weft-agent running? --socket PATH)`);
  const { status, createAgentClient } = await import('./agent-link');
  const client = createAgentClient(socket, a.timeout * 1000);
  try {
    return { socket, result: await fn(client) };
  } catch (err) {
    const { code, details } = err as { code?: number; details?: string };
    const why = details || (err as Error).message;
    if (code !== undefined && answered.some((name) => status[name] === code)) throw new Error(why, { cause: err });
    if (code === status.UNIMPLEMENTED) throw new Error(`the agent at ${socket} cannot answer this: ${why}`, { cause: err });
    // A socket file nobody listens on (an agent that died): grpc-js says so in many words.
    const refused = code === status.UNAVAILABLE ? /No connection established.*connect (E[A-Z]+)/.exec(why)?.[1] : undefined;
    if (refused) throw new Error(`nothing answers on ${socket} (${refused}): is weft-agent running? (--socket PATH)`, { cause: err });
    throw new Error(`no answer from the agent at ${socket}: ${why}`, { cause: err });
  } finally {
    client.close();
  }
}
