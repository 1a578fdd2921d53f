/**
 * `weftctl policy matrix [-n NS...] [--port N[/PROTO]...]`: who may open connections to whom,
 * a grid per port for people, JSON/YAML for scripts, and a picture (-o dot, -o svg).
 */
import type { Argv } from 'yargs';
import type { MatrixResult } from '../policy/explain/matrix';
import { matrixDot } from './matrix-dot';
import { matrixSvg } from './matrix-svg';
import { table } from './output';
import { askPolicy, outputOption, sourceOptions, type SourceArgs } from './policy-source';
import { printReport, REPORT_FORMATS } from './structured-output';

const MATRIX_FORMATS = [...REPORT_FORMATS, 'dot', 'svg'] as const;
type MatrixFormat = (typeof MATRIX_FORMATS)[number];

interface MatrixArgs extends SourceArgs {
  namespace?: string[];
  port?: string[];
  output: MatrixFormat;
}

export function matrixText(m: MatrixResult): string {
  const n = m.pods.length;
  const grids = m.ports.map((port) => {
    const rows = m.pods.map((from, i) => [from, ...m.pairs.slice(i * n, (i + 1) * n).map((p) => (p.allowed.includes(port) ? '✓' : '✗'))]);
    return `${port}\n${table(['FROM \\ TO', ...m.pods], rows)}`;
  });
  return `${grids.join('\n\n')}\n\n✓ allowed, ✗ denied (new connections from the row's pod to the column's; a pod always reaches itself)\n`;
}

async function run(a: MatrixArgs): Promise<void> {
  const m = await askPolicy(a, { kind: 'matrix', namespaces: a.namespace ?? [], ports: a.port ?? [] });
  if (a.output === 'dot') process.stdout.write(matrixDot(m));
  else if (a.output === 'svg') process.stdout.write(matrixSvg(m));
  else printReport(a.output, m, matrixText);
}

export function matrixCommand(p: Argv): Argv {
  return p.command(
    'matrix',
    'which pods may open connections to which, per port (a table, JSON/YAML, or a DOT/SVG picture)',
    (c) =>
      outputOption(
        sourceOptions(c)
          .option('namespace', { alias: 'n', type: 'string', array: true, describe: 'pods of these namespaces (all by default)' })
          .option('port', { type: 'string', array: true, describe: 'N[/PROTO] (default: every container port the pods declare)' }),
        MATRIX_FORMATS,
      ),
    (a) => run(a as unknown as MatrixArgs),
  );
}
