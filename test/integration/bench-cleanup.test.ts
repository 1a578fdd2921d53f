/**
 * An interrupted bench run removes what it created: a process that registered a namespace (with
 * a process inside it nobody tracked), a temporary directory, a child process and a teardown is
 * sent SIGTERM or SIGINT, and must leave none of them behind.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { deleteNamedNetns } from '../../kernel/netns';
import { eventually } from '../../lab/agent-process';
import { cmdlineOf } from '../../lab/cluster/processes';
import { runNetnsPrefix } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';

const DIST = path.join(__dirname, '..', '..');

/** The script of the interrupted run: registers everything, says what, then waits. */
const RUN = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const [dist, nsName, markerDir] = process.argv.slice(1);
const c = require(path.join(dist, 'bench', 'cleanup.js'));
const { inNetns } = require(path.join(dist, 'kernel', 'netns.js'));
c.installCleanup();
const ns = c.createBenchNetns(nsName);
const dir = c.makeBenchDir('weft-t-bench-cleanup-');
fs.writeFileSync(path.join(dir, 'data'), 'x');
const inside = inNetns(ns, () => spawn('sleep', ['300'], { stdio: 'ignore' }));
const tracked = c.trackChild(spawn('sleep', ['301'], { stdio: 'ignore' }));
c.onInterrupt(async () => fs.writeFileSync(path.join(markerDir, 'teardown-ran'), 'yes'));
process.stdout.write(JSON.stringify({ ns, dir, inside: inside.pid, tracked: tracked.pid }) + '\\n');
setInterval(() => undefined, 1000);
`;

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test(`${signal}: namespaces with their processes, directories, children and labs are removed`, async (t) => {
    const markerDir = tempDir(t, 'bench-cleanup');
    const nsName = `${runNetnsPrefix()}bench-${crypto.randomBytes(3).toString('hex')}`;
    t.teardown(() => deleteNamedNetns(nsName));
    const run = spawn(process.execPath, ['-e', RUN, DIST, nsName, markerDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    run.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const [line] = (await once(run.stdout, 'data')) as [Buffer];
    const made = JSON.parse(line.toString()) as { ns: string; dir: string; inside: number; tracked: number };
    t.true(fs.existsSync(made.ns));
    t.true(fs.existsSync(path.join(made.dir, 'data')));
    t.truthy(cmdlineOf(made.inside));
    t.truthy(cmdlineOf(made.tracked));

    const exited = once(run, 'exit');
    run.kill(signal);
    const [exitCode] = (await exited) as [number | null];
    t.is(exitCode, code, stderr);
    t.regex(stderr, new RegExp(`${signal}: removing what the bench created \\(1 namespaces, 1 directories, 1 labs, 1 processes\\)`));
    t.false(fs.existsSync(made.ns), 'the namespace is gone');
    t.false(fs.existsSync(made.dir), 'the directory is gone');
    t.is(fs.readFileSync(path.join(markerDir, 'teardown-ran'), 'utf8'), 'yes');
    // Killed processes are reaped by init once their parent is gone.
    await eventually('the processes to be gone', () => (cmdlineOf(made.inside) === undefined && cmdlineOf(made.tracked) === undefined ? true : undefined), 10_000);
    t.pass();
  });
}
