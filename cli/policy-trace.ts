/**
 * `weftctl policy trace --from NS/POD|IP --to NS/POD|IP|svc/NS/NAME --port N[/PROTO]`: the
 * verdict for a new connection, both directions explained in NetworkPolicy terms; through a
 * Service, one verdict per endpoint (address and port after the DNAT).
 */
import type { Argv } from 'yargs';
import { missText, type DirectionExplanation } from '../policy/explain/direction';
import type { EndReport, PathTrace, TraceResult } from '../policy/explain/trace';
import { askPolicy, once, outputOption, sourceOptions, type SourceArgs } from './policy-source';
import { printReport, REPORT_FORMATS, type ReportFormat } from './structured-output';

interface TraceArgs extends SourceArgs {
  from: string;
  to: string;
  port: string;
  endpoint?: string;
  output: ReportFormat;
}

export function endText(end: EndReport): string {
  if (!end.pod) return end.address ?? '?';
  return end.address ? `${end.pod} (${end.address})` : end.pod;
}

/** A direction's line, then for a denial what each rule lacks, then notes. */
export function directionLines(d: DirectionExplanation, indent: string): string[] {
  return [`${indent}${d.text}`, ...d.notAllowedBy.map((m) => `${indent}  ${missText(d.direction, m)}`), ...d.notes.map((n) => `${indent}  note: ${n}`)];
}

const verdictWord = (allowed: boolean): string => (allowed ? 'ALLOWED' : 'DENIED');

function pathLines(p: PathTrace, indent: string): string[] {
  return [...directionLines(p.egress, indent), ...directionLines(p.ingress, indent)];
}

export function traceText(r: TraceResult): string {
  const port = `port ${r.port}/${r.protocol.toUpperCase()}`;
  const lines: string[] = [];
  if (r.service) {
    const to = `service ${r.service.service}${r.service.clusterIp ? ` (${r.service.clusterIp})` : ''}`;
    lines.push(`${endText(r.from)} -> ${to} ${port}: ${r.verdict.toUpperCase()}`);
    lines.push(`  ${r.paths.length} endpoint${r.paths.length === 1 ? '' : 's'} (from ${r.service.source === 'selector' ? "the Service's selector" : 'its EndpointSlices'})`);
    for (const p of r.paths) {
      lines.push(`  endpoint ${endText(p.to)} port ${p.port}/${p.protocol.toUpperCase()}: ${verdictWord(p.allowed)}`);
      lines.push(...pathLines(p, '    '));
    }
  } else {
    lines.push(`${endText(r.from)} -> ${endText(r.to)} ${port}: ${r.verdict.toUpperCase()}`);
    lines.push(...pathLines(r.paths[0], '  '));
  }
  lines.push(...r.notes.map((n) => `  note: ${n}`));
  return `${lines.join('\n')}\n`;
}

async function run(a: TraceArgs): Promise<void> {
  const result = await askPolicy(a, { kind: 'trace', from: a.from, to: a.to, port: a.port, ...(a.endpoint !== undefined ? { endpoint: a.endpoint } : {}) });
  printReport(a.output, result, traceText);
}

export function traceCommand(p: Argv): Argv {
  return p.command(
    'trace',
    'may a new connection go from A to B on a port, and which policies and rules decide it',
    (c) =>
      outputOption(
        sourceOptions(c)
          .option('from', { type: 'string', demandOption: true, describe: 'source: NS/POD or an IP address', coerce: once('from') })
          .option('to', { type: 'string', demandOption: true, describe: 'destination: NS/POD, an IP address, or a Service (svc/NS/NAME, its cluster IP, or NS/NAME when no pod has that name)', coerce: once('to') })
          .option('port', { type: 'string', demandOption: true, describe: 'N or N/PROTO (TCP, UDP, SCTP; TCP by default); the service port for a Service', coerce: once('port') })
          .option('endpoint', { type: 'string', describe: 'with a Service: only this endpoint (NS/POD or address)', coerce: once('endpoint') }),
        REPORT_FORMATS,
      ),
    (a) => run(a as unknown as TraceArgs),
  );
}
