/**
 * `weftctl rules --pod NS/POD | --service NS/NAME`: the kernel rules and set/map elements the
 * agent wrote for the object, read from the kernel now, each with the packets and bytes the
 * kernel counted for it (where it counts) and what it does in Kubernetes terms.
 */
import type { Argv } from 'yargs';
import type { KernelEntryMessage, RulesObjectMessage, RulesResponseMessage } from '../agent/api/messages';
import { agentOptions, askAgent, type AgentArgs } from './agent-socket';
import { table, UsageError } from './output';
import { once, outputOption } from './policy-source';
import { INSPECT_ANSWERS } from './services';
import { printReport, REPORT_FORMATS, type ReportFormat } from './structured-output';

interface RulesArgs extends AgentArgs {
  pod?: string;
  service?: string;
  output: ReportFormat;
}

function row(e: KernelEntryMessage): string[] {
  const [packets, bytes] = e.counted ? [String(e.packets), String(e.bytes)] : ['-', '-'];
  const meaning = `${e.missing ? 'MISSING: ' : ''}${e.shared ? '(shared) ' : ''}${e.meaning}`;
  return [e.location, e.text, packets, bytes, meaning];
}

function objectText(o: RulesObjectMessage, r: RulesResponseMessage): string {
  const addresses = o.addresses.length > 0 ? ` (${o.addresses.join(', ')})` : '';
  const head = `${o.kind} ${o.name}${addresses} on ${r.nodeName} (${r.backend}, ${r.rulesLocation})`;
  if (o.entries.length === 0) return `${head}: nothing in the kernel${o.kind === 'pod' && o.addresses.length === 0 ? ' (the pod has no address)' : ''}`;
  const missing = o.entries.filter((e) => e.missing).length;
  return `${head}: ${o.entries.length} rules and elements${missing > 0 ? `, ${missing} MISSING from the kernel` : ''}\n${table(['WHERE', 'RULE OR ELEMENT', 'PACKETS', 'BYTES', 'MEANING'], o.entries.map(row))}`;
}

export function rulesText(r: RulesResponseMessage): string {
  return `${r.objects.map((o) => objectText(o, r)).join('\n\n')}\n`;
}

async function run(a: RulesArgs): Promise<void> {
  if (!a.pod && !a.service) throw new UsageError('which object? --pod NS/POD or --service NS/NAME');
  const { result } = await askAgent(a, (client) => client.rules({ pod: a.pod ?? '', service: a.service ?? '' }), INSPECT_ANSWERS);
  printReport(a.output, result, rulesText);
}

export function rulesCommand(y: Argv): Argv {
  return y.command(
    'rules',
    'the kernel rules and set elements the agent wrote for a pod or a Service, with live counters',
    (c) =>
      outputOption(
        agentOptions(c)
          .option('pod', { type: 'string', describe: 'NS/POD', coerce: once('pod') })
          .option('service', { type: 'string', describe: 'NS/NAME', coerce: once('service') }),
        REPORT_FORMATS,
      ),
    (a) => run(a as unknown as RulesArgs),
  );
}
