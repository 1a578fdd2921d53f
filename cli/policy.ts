/**
 * `weftctl policy ...`: NetworkPolicy as a node enforces it. `policy counters`: what each policy
 * allowed and dropped on the node, from the kernel's per-element counters (nftables backend).
 * `drops`: the connections denied on the node as they happen (policy-drops.ts).
 * `trace`, `explain`, `matrix`, `what-if`: why a connection is allowed or denied, from the
 * agent's objects (online) or from manifests (offline: --manifests), one module each.
 */
import type { Argv } from 'yargs';
import type { PolicyCounterMessage } from '../agent/api/messages';
import { agentOptions, askAgent, type AgentArgs } from './agent-socket';
import { OUTPUT_CHOICES, printJson, table, type OutputFormat } from './output';
import { dropsCommand } from './policy-drops';
import { explainCommand } from './policy-explain';
import { matrixCommand } from './policy-matrix';
import { traceCommand } from './policy-trace';
import { whatIfCommand } from './policy-what-if';

interface CountersArgs extends AgentArgs {
  output: OutputFormat;
}

export function countersText(counters: readonly PolicyCounterMessage[]): string {
  if (counters.length === 0) return 'no NetworkPolicy selects a pod of this node\n';
  const rows = counters.map((c) => [c.policy, c.direction, String(c.allowedPackets), String(c.allowedBytes), String(c.droppedPackets), String(c.droppedBytes)]);
  return `${table(['POLICY', 'DIRECTION', 'ALLOWED PKTS', 'ALLOWED BYTES', 'DROPPED PKTS', 'DROPPED BYTES'], rows)}\n`;
}

async function counters(a: CountersArgs): Promise<void> {
  const { result } = await askAgent(a, (client) => client.policyCounters());
  if (a.output === 'json') return printJson(result);
  process.stdout.write(countersText(result));
}

export function policyCommand(y: Argv): Argv {
  return y.command('policy', 'NetworkPolicy: counters and drops on a node; trace, explain, matrix, what-if from the agent or from manifests', (p) =>
    [traceCommand, explainCommand, matrixCommand, whatIfCommand, dropsCommand]
      .reduce((q, add) => add(q), p)
      .command(
        'counters',
        'what each policy allowed (new connections) and dropped on a node, from the kernel counters',
        (c) => agentOptions(c).option('output', { alias: 'o', choices: OUTPUT_CHOICES, default: 'table' as OutputFormat }),
        (a) => counters(a as CountersArgs),
      )
      .demandCommand(1, 'which policy command? (trace, explain, matrix, what-if, counters, drops)'),
  );
}
