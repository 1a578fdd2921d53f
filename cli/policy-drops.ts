/**
 * `weftctl policy drops [--follow] [--pod NS/POD]`: connections policy denied on a node, from
 * the agent's reading of its drop log, one line per flow: when, which direction's policy dropped
 * it, source and destination (pods and addresses), protocol and port, and what denied it: the
 * ClusterNetworkPolicy rule (Admin Deny, or Baseline Deny), or the NetworkPolicies isolating
 * the pod that allow nothing of it. Without --follow: the recent ones; with it, each new one as
 * it happens, until Ctrl-C.
 */
import type { Argv } from 'yargs';
import type { PolicyDropMessage } from '../agent/api/messages';
import { agentOptions, askAgent, type AgentArgs } from './agent-socket';
import { table } from './output';
import { once, outputOption } from './policy-source';
import { INSPECT_ANSWERS } from './services';
import { printReport, REPORT_FORMATS, yamlText, type ReportFormat } from './structured-output';

interface DropsArgs extends AgentArgs {
  follow: boolean;
  pod?: string;
  output: ReportFormat;
}

const hostPort = (address: string, port: number) => (port === 0 ? address : address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);
const end = (pod: string, address: string, port: number) => `${pod ? `${pod} ` : ''}${hostPort(address, port)}`;
/** Time of day in UTC, to the millisecond. */
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 23);

const HEADERS = ['TIME (UTC)', 'DIRECTION', 'PROTO', 'SOURCE', 'DESTINATION', 'PACKETS', 'DENIED BY'];

/** A tier's rule in words when a ClusterNetworkPolicy denied it, else the isolating NetworkPolicies. */
const deniedBy = (d: PolicyDropMessage) => (d.tier ? d.rule || `${d.tier} ClusterNetworkPolicy ${d.clusterPolicy ?? ''}`.trim() : d.policies.join(', ') || '-');

function row(d: PolicyDropMessage): string[] {
  const proto = d.tcpFlags && d.tcpFlags !== 'SYN' ? `${d.protocol} ${d.tcpFlags}` : d.protocol;
  return [clock(d.firstSeenUnixMs), d.direction, proto, end(d.sourcePod, d.source, d.sourcePort), end(d.destinationPod, d.destination, d.destinationPort), String(d.packets), deniedBy(d)];
}

export function dropsText(drops: readonly PolicyDropMessage[], pod?: string): string {
  if (drops.length === 0) return `no connection${pod ? ` to or from ${pod}` : ''} denied by NetworkPolicy or ClusterNetworkPolicy was logged recently\n`;
  return `${table(HEADERS, drops.map(row))}\n`;
}

/** A followed drop as a line of fixed-width columns (the widths of a whole table are not known in advance). */
const WIDTHS = [12, 9, 5, 40, 40, 7];
function followLine(cells: string[]): string {
  return `${cells.map((c, i) => (i < WIDTHS.length ? c.padEnd(WIDTHS[i]) : c)).join('   ').trimEnd()}\n`;
}

function printFollowed(format: ReportFormat, d: PolicyDropMessage): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(d)}\n`);
  else if (format === 'yaml') process.stdout.write(`---\n${yamlText(d)}`);
  else process.stdout.write(followLine(row(d)));
}

async function run(a: DropsArgs): Promise<void> {
  if (!a.follow) {
    const { result } = await askAgent(a, async (client) => {
      const drops: PolicyDropMessage[] = [];
      await client.policyDrops({ follow: false, pod: a.pod }, (d) => drops.push(d)).done;
      return drops;
    }, INSPECT_ANSWERS);
    printReport(a.output, result, (r) => dropsText(r, a.pod));
    return;
  }
  await askAgent(a, async (client) => {
    // The header once the agent accepted the request: a refused one prints only its error.
    const header = () => a.output === 'table' && process.stdout.write(followLine(HEADERS));
    const stream = client.policyDrops({ follow: true, pod: a.pod }, (d) => printFollowed(a.output, d), header);
    // Ctrl-C ends the stream, not the process: what was printed stays whole, and the exit code is
    // 0 (a second signal while it ends changes nothing).
    const stop = () => stream.cancel();
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      await stream.done;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  }, INSPECT_ANSWERS);
}

export function dropsCommand(p: Argv): Argv {
  return p.command(
    'drops',
    'connections NetworkPolicy or ClusterNetworkPolicy denied on a node, from its drop log: the recent ones, or with --follow each as it happens',
    (c) =>
      outputOption(
        agentOptions(c)
          .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'after the recent drops, print each new one as it happens (until Ctrl-C)' })
          .option('pod', { type: 'string', describe: 'only drops to or from this pod (NS/POD)', coerce: once('pod') }),
        REPORT_FORMATS,
      ),
    (a) => run(a as unknown as DropsArgs),
  );
}
