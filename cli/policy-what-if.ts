/**
 * `weftctl policy what-if -f POLICY.yaml [--delete]`: the connections among the known pods that
 * applying (or deleting) NetworkPolicies would newly allow or newly deny.
 */
import type { Argv } from 'yargs';
import type { ConnectionChange, WhatIfResult } from '../policy/explain/what-if';
import { askPolicy, outputOption, sourceOptions, warn, type SourceArgs } from './policy-source';
import { printReport, REPORT_FORMATS, type ReportFormat } from './structured-output';

interface WhatIfArgs extends SourceArgs {
  filename: string[];
  delete: boolean;
  namespace?: string[];
  port?: string[];
  output: ReportFormat;
}

function changeLines(title: string, changes: readonly ConnectionChange[]): string[] {
  if (changes.length === 0) return [];
  const lines = [`${title} (${changes.length}):`];
  for (const c of changes) {
    lines.push(`  ${c.from} -> ${c.to} ${c.port}`);
    for (const why of c.because) lines.push(`    ${why}`);
  }
  return [...lines, ''];
}

export function whatIfText(r: WhatIfResult): string {
  const verb = r.action === 'delete' ? 'deleting' : 'applying';
  const head = `${verb} ${r.policies.join(', ')}: ${r.newlyAllowed.length} newly allowed, ${r.newlyDenied.length} newly denied (${r.checked} connections checked: to and from the pods these policies select, on the ports the destinations declare)`;
  const lines = [head, '', ...changeLines('newly denied', r.newlyDenied), ...changeLines('newly allowed', r.newlyAllowed)];
  return `${lines.join('\n').trimEnd()}\n`;
}

async function run(a: WhatIfArgs): Promise<void> {
  const { readManifests } = await import('./manifests-dir');
  const { objects, warnings } = readManifests(a.filename, '-f');
  for (const w of warnings) warn(w);
  const result = await askPolicy(a, { kind: 'what-if', policies: objects, delete: a.delete, namespaces: a.namespace ?? [], ports: a.port ?? [] });
  printReport(a.output, result, whatIfText);
}

export function whatIfCommand(p: Argv): Argv {
  return p.command(
    'what-if',
    'the connections that applying (or deleting) NetworkPolicies would newly allow and newly deny',
    (c) =>
      outputOption(
        sourceOptions(c)
          .option('filename', { alias: 'f', type: 'string', array: true, demandOption: true, describe: 'NetworkPolicy manifests (file, directory, or "-" for stdin)' })
          .option('delete', { type: 'boolean', default: false, describe: 'what deleting these policies (by namespace and name) would do' })
          .option('namespace', { alias: 'n', type: 'string', array: true, describe: 'only pods of these namespaces (all by default)' })
          .option('port', { type: 'string', array: true, describe: 'N[/PROTO] checked on every destination besides its declared container ports' }),
        REPORT_FORMATS,
      ),
    (a) => run(a as unknown as WhatIfArgs),
  );
}
