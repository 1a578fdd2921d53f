#!/usr/bin/env -S node
/**
 * weftctl: weft's command line, also installed as the kubectl plugin `kubectl-weft` (then it
 * calls itself "kubectl weft"). One module per command group (lab.ts, policy.ts, rules.ts,
 * services.ts, status.ts). Output is a table for people, JSON with -o json; an error is one line
 * `weftctl: <message>` on stderr and exit code 1.
 */
import path from 'node:path';
import yargs from 'yargs';
import { labCommand } from './lab';
import { UsageError } from './output';
import { policyCommand } from './policy';
import { rulesCommand } from './rules';
import { servicesCommand } from './services';
import { statusCommand } from './status';

function programName(): string {
  return path.basename(process.argv[1] ?? 'weftctl').replace(/\.js$/, '') === 'kubectl-weft' ? 'kubectl weft' : 'weftctl';
}

/** `-f -` (stdin, as kubectl takes it): the parser would read a lone "-" as an argument. */
function stdinAsFile(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '-f' || argv[i] === '--filename') && argv[i + 1] === '-') {
      out.push('--filename=-');
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  const name = programName();
  let cli = yargs(argv)
    .scriptName(name)
    .usage(`${name} <command>\n\nweft's command line: agent status, services, kernel rules, policy counters, policy debugging (trace, explain, matrix, what-if) and a lab of network namespaces.`)
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .strict()
    .demandCommand(1, 'which command? (lab, policy, rules, services, status)')
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    // Usage errors are thrown and reported like every other error (one line, exit 1).
    .fail((msg, err) => {
      throw err ?? new UsageError(msg.replace(/\n\s*/g, ' '));
    });
  cli = labCommand(cli);
  cli = policyCommand(cli);
  cli = rulesCommand(cli);
  cli = servicesCommand(cli);
  cli = statusCommand(cli);
  await cli.parseAsync();
}

// `weftctl ... | head`: a reader that has seen enough is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(stdinAsFile(process.argv.slice(2))).catch((err: unknown) => {
  const e = err as Error;
  const hint = e instanceof UsageError || e?.name === 'YError' ? ` (${programName()} --help)` : '';
  process.stderr.write(`${programName()}: ${e?.message ?? String(err)}${hint}\n`);
  process.exit(1);
});
