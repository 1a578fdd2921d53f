/**
 * `weftctl policy explain NS/POD`: what may reach a pod and what it may reach, rule by rule,
 * each peer with the known pods it stands for.
 */
import type { Argv } from 'yargs';
import type { DirectionReport, PodReport } from '../policy/explain/pod-report';
import { labelsText } from './output';
import { askPolicy, outputOption, sourceOptions, type SourceArgs } from './policy-source';
import { printReport, REPORT_FORMATS, type ReportFormat } from './structured-output';

interface ExplainArgs extends SourceArgs {
  pod: string;
  output: ReportFormat;
}

function podsText(pods: readonly string[]): string {
  if (pods.length === 0) return 'no known pod';
  return pods.length > 6 ? `${pods.slice(0, 6).join(', ')} and ${pods.length - 6} more` : pods.join(', ');
}

function directionText(d: DirectionReport): string[] {
  const word = d.direction === 'ingress' ? 'from' : 'to';
  const lines = [`${d.direction}: ${d.summary}`];
  for (const r of d.rules) {
    lines.push(`  ${r.policy} ${d.direction} rule ${r.rule}`);
    if (r.peers === null) lines.push(`    ${word} anywhere`);
    else for (const p of r.peers) lines.push(`    ${word} ${p.peer}   = ${podsText(p.pods)}`);
    lines.push(`    on ${r.ports === null ? 'any port' : r.ports.join(', ')}`);
  }
  return lines;
}

export function podReportText(r: PodReport): string {
  const lines = [
    `pod ${r.pod}${r.addresses.length ? ` (${r.addresses.join(', ')})` : ' (no address known)'}${r.node ? ` on ${r.node}` : ''}`,
    `  labels: ${labelsText(r.labels)}`,
    `  ports: ${r.ports.length ? r.ports.join(', ') : 'none declared'}`,
    '',
    ...directionText(r.ingress),
    '',
    ...directionText(r.egress),
  ];
  return `${lines.join('\n')}\n`;
}

async function run(a: ExplainArgs): Promise<void> {
  const report = await askPolicy(a, { kind: 'explain', pod: a.pod });
  printReport(a.output, report, podReportText);
}

export function explainCommand(p: Argv): Argv {
  return p.command(
    'explain <pod>',
    'what may reach a pod and what it may reach, policy by policy and rule by rule',
    (c) =>
      outputOption(
        sourceOptions(c)
          .positional('pod', { type: 'string', demandOption: true, describe: 'NS/POD (or its address)' }),
        REPORT_FORMATS,
      ),
    (a) => run(a as unknown as ExplainArgs),
  );
}
