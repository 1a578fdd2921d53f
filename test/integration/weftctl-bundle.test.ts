/**
 * weftctl from its bundle (cli/bundle-build.ts, what `npm run build` makes and weftctl.js runs)
 * says exactly what the modules say (dist/cli/main.js): answers offline and from a real agent
 * API server over its socket (answering from examples/policy), help, usage errors, an agent that is not there, the lab's
 * commands (which stay files beside the bundle). A bundle made from files that changed since is
 * not run. The bundle is built here, in a directory of the test's own.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { bundleCommand, buildCliBundle, exampleAgentApi } from '../../cli/bundle-build';
import { BUNDLE_FILE, CODE_CACHE_FILE, MANIFEST_FILE, PARTS, partBundleFile, partCodeCacheFile, type BundleManifest } from '../../cli/bundle-run';
import { tempDir } from '../helpers/tmp';

const MAIN = path.join(__dirname, '..', '..', 'cli', 'main.js');
const EXAMPLE = path.join(__dirname, '..', '..', '..', 'examples', 'policy');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const exec = promisify(execFile);

/** `node ARGS`: its exit code and output, whatever the code. */
async function run(args: string[]): Promise<Run> {
  try {
    return { code: 0, ...(await exec(process.execPath, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, COLUMNS: '100' } })) };
  } catch (err) {
    const { code, stdout, stderr } = err as { code?: unknown; stdout: string; stderr: string };
    return { code: typeof code === 'number' ? code : 128, stdout, stderr };
  }
}

async function agentApi(t: ExecutionContext, dir: string): Promise<string> {
  const api = await exampleAgentApi(path.join(dir, 'agent.sock'));
  t.teardown(() => api.close());
  return api.socketPath;
}

test('the bundle answers, helps and fails exactly as the modules do', async (t) => {
  t.timeout(300_000);
  const dir = tempDir(t, 'cli-bundle');
  const bundleDir = path.join(dir, 'bundle');
  fs.mkdirSync(bundleDir);
  await buildCliBundle(bundleDir);
  const parts = PARTS.flatMap((part) => [partBundleFile(part), partCodeCacheFile(part)]);
  t.true([BUNDLE_FILE, CODE_CACHE_FILE, MANIFEST_FILE, ...parts].every((f) => fs.existsSync(path.join(bundleDir, f))));
  // What talks to an agent is in its part only: the bundle an offline question reads is the smaller.
  t.false(fs.readFileSync(path.join(bundleDir, BUNDLE_FILE), 'utf8').includes('grpc-js'));
  t.true(fs.readFileSync(path.join(bundleDir, partBundleFile('agent-link')), 'utf8').includes('grpc-js'));
  const socket = await agentApi(t, dir);
  const stale = path.join(dir, 'stale.sock');
  fs.writeFileSync(stale, '');
  const trace = ['policy', 'trace', '--from', 'shop/web-1', '--to', 'svc/shop/api', '--port', '80'];
  const cases: string[][] = [
    [...trace, '--manifests', EXAMPLE],
    [...trace, '--socket', socket],
    [...trace, '--socket', socket, '-o', 'yaml'],
    ['policy', 'explain', 'shop/db-0', '--manifests', EXAMPLE, '-o', 'json'],
    ['policy', 'matrix', '--manifests', EXAMPLE, '-n', 'shop', '--port', '5432'],
    ['policy', 'trace', '--from', 'shop/nope', '--to', 'shop/db-0', '--port', '80', '--socket', socket],
    ['status', '--socket', socket],
    [...trace, '--socket', path.join(dir, 'none.sock')],
    [...trace, '--socket', stale],
    [...trace, '--lab', 'weft-t-no-such-lab'],
    ['lab', 'get', 'nodes', '--name', 'weft-t-no-such-lab'],
    ['lab', 'up', '--name', 'weft-t-no-such-lab', '--ports', '0'],
    ['policy', 'trace', '--from', 'x/a'],
    ['--help'],
    ['policy', 'trace', '--help'],
    ['nope'],
  ];
  for (const args of cases) {
    const [fromBundle, fromModules] = await Promise.all([run(bundleCommand(bundleDir, args)), run([MAIN, ...args])]);
    t.not(fromBundle.code, 97, `weftctl ${args.join(' ')}: the bundle was not used`);
    t.deepEqual(fromBundle, fromModules, `weftctl ${args.join(' ')}`);
  }
  // And they do answer: the online trace is the one the README shows offline.
  const online = await run(bundleCommand(bundleDir, [...trace, '--socket', socket]));
  t.is(online.code, 0, online.stderr);
  t.regex(online.stdout, /^shop\/web-1 \(\S+\) -> service shop\/api \(\S+\) port 80\/TCP: /);

  // A file the bundle was made from, changed since (as the manifest has it: dist/ is not the test's to change): not run.
  const manifestFile = path.join(bundleDir, MANIFEST_FILE);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as BundleManifest;
  const [file, size, mtimeMs] = manifest.inputs[0];
  manifest.inputs[0] = [file, size, mtimeMs - 1000, 'another content'];
  fs.writeFileSync(manifestFile, JSON.stringify(manifest));
  t.is((await run(bundleCommand(bundleDir, ['--help']))).code, 97);
});
