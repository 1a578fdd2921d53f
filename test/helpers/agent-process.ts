/** The real weft-agent process in a test's namespace, killed when the test ends (see lab/agent-process.ts). */
import type { ExecutionContext } from 'ava';
import { spawnAgent, type AgentProcess } from '../../lab/agent-process';

export { eventually, waitReady, type AgentProcess } from '../../lab/agent-process';

export function startAgentProcess(t: ExecutionContext, netns: string, args: string[], socket: string): AgentProcess {
  const agent = spawnAgent(netns, args, socket);
  t.teardown(() => agent.kill());
  return agent;
}
