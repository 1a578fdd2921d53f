/** cli/help-caching.ts: yargs' help rendering at each command's start is turned off, and help itself is whole. */
import test from 'ava';
import yargs, { type Argv } from 'yargs';
import { skipHelpCaching } from '../../cli/help-caching';

/** A command line shaped as weftctl's: a group, a command with options, errors thrown. */
function program(argv: string[], ran: string[]): Argv {
  return yargs(argv)
    .scriptName('prog')
    .strict()
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .command('group', 'a group', (g) =>
      g
        .command('run', 'runs', (c) => c.option('port', { type: 'number', demandOption: true, describe: 'the port' }), (a) => {
          ran.push(`run ${String(a.port)}`);
        })
        .demandCommand(1),
    );
}

/** Counts the renderings of `cli`'s help from now on (yargs' usage instance, which the step calls). */
function helpRenders(cli: Argv): { count: number } {
  const renders = { count: 0 };
  const usage = (cli as unknown as { getInternalMethods(): { getUsageInstance(): { help(): string } } }).getInternalMethods().getUsageInstance();
  const help = usage.help.bind(usage);
  usage.help = () => {
    renders.count++;
    return help();
  };
  return renders;
}

test('with this yargs the step is there to turn off; commands, help and usage errors are as before', async (t) => {
  const ran: string[] = [];
  const cli = program(['group', 'run', '--port', '80'], ran);
  // What runs in place of the step turned off must not render help.
  const rendered = helpRenders(cli);
  t.true(skipHelpCaching(cli));
  await cli.parseAsync();
  t.deepEqual(ran, ['run 80']);
  t.is(rendered.count, 0, 'no help rendered for a command that runs');

  // Without the change the same run renders help once (the step this removes).
  const plain = program(['group', 'run', '--port', '81'], []);
  const before = helpRenders(plain);
  await plain.parseAsync();
  t.is(before.count, 1);

  // Help and usage errors are unchanged.
  const helpOf = (off: boolean): string => {
    const cli = program([], []);
    if (off) skipHelpCaching(cli);
    let text = '';
    cli.parse(['group', 'run', '--help'], {}, (_err, _argv, output) => {
      text = output;
    });
    return text;
  };
  t.regex(helpOf(false), /--port +the port/);
  t.is(helpOf(true), helpOf(false));
  const missing = program(['group', 'run'], []);
  skipHelpCaching(missing);
  await t.throwsAsync(async () => missing.parseAsync(), { message: /Missing required argument: port/ });
});

test('a yargs without the step is left as it is', (t) => {
  t.false(skipHelpCaching({} as Argv));
  t.false(skipHelpCaching({ getInternalMethods: () => ({}) } as unknown as Argv));
});
