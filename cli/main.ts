/**
 * weftctl: weft's command line, also installed as the kubectl plugin `kubectl-weft` (then it
 * calls itself "kubectl weft"). One module per command group (lab.ts, policy.ts, rules.ts,
 * services.ts, status.ts). Output is a table for people, JSON with -o json; an error is one line
 * `weftctl: <message>` on stderr and exit code 1.
 *
 * Start-up is most of a question's time (`npm run bench -- --only policy-trace`), so a command
 * loads only its own group's module, and that module loads what a run needs when it runs.
 */
import path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { skipHelpCaching } from './help-caching';
import { UsageError } from './output';

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

/** The command groups in the order --help lists them, each loaded when asked for. */
const GROUPS: Record<string, () => Promise<(y: Argv) => Argv>> = {
  lab: async () => (await import('./lab')).labCommand,
  policy: async () => (await import('./policy')).policyCommand,
  rules: async () => (await import('./rules')).rulesCommand,
  services: async () => (await import('./services')).servicesCommand,
  status: async () => (await import('./status')).statusCommand,
};

/**
 * The group the first argument names (`policy` of `policy trace ...`; the lab's modules alone
 * take ~100 ms to load); otherwise (`--help`, a typo, an option first) every group, so that help
 * and usage errors are what they are with all of them.
 */
async function commandGroups(argv: readonly string[]): Promise<((y: Argv) => Argv)[]> {
  const first = argv[0];
  const names = first !== undefined && Object.hasOwn(GROUPS, first) ? [first] : Object.keys(GROUPS);
  return Promise.all(names.map((name) => GROUPS[name]()));
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
  for (const add of await commandGroups(argv)) cli = add(cli);
  skipHelpCaching(cli);
  await cli.parseAsync();
}

// `weftctl ... | head`: a reader that has seen enough is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(stdinAsFile(process.argv.slice(2))).catch((err: unknown) => {
  const e = err as Error;
  // By name: the lab's commands, which stay files beside weftctl's bundle, throw their own module's UsageError.
  const hint = e?.name === 'UsageError' || e?.name === 'YError' ? ` (${programName()} --help)` : '';
  process.stderr.write(`${programName()}: ${e?.message ?? String(err)}${hint}\n`);
  process.exit(1);
});
