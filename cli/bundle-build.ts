/**
 * `npm run build` (build:cli): weftctl as one bundle with V8's code cache, which the executable
 * (weftctl.ts, through bundle-run.ts) runs while it is up to date. Finding, reading and
 * compiling the ~150 modules a question loads was most of its time; from the bundle and its
 * code cache, half of that (`npm run bench -- --only policy-trace-cli`).
 *
 * - The bundle: dist/cli/main.js and what it loads, made by esbuild from tsc's output (so it is
 *   exactly those modules). The lab's modules stay files, loaded from dist/ as before: they
 *   load native addons and find files next to their own, and a lab command's time is the lab.
 *   A bundled module that names its own directory (__dirname) still gets its own.
 * - The code cache: V8 keeps the bytecode of the functions a run compiled. A few runs of the
 *   bundle fill it (each adds what it compiled): offline questions on examples/policy, the same
 *   questions asked of a real agent API server answering from those objects, help and an error.
 * - Parts (bundle-run.ts PARTS): a module the bundle requires only for some commands, bundled on
 *   its own with its own code cache; in the bundle, a call to requirePart stands in its place.
 * - The manifest: the files the bundle was made from as it read them (size, time, content
 *   hash), so that a bundle made from other modules than those in dist/ is not run (bundle-run.ts).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { LocalEndpoints } from '../agent/api/endpoints';
import { policyAnswerer } from '../agent/api/policy-answers';
import { startAgentApi, type AgentApi } from '../agent/api/server';
import { ObjectCache } from '../agent/cache';
import { BUNDLE_FILE, CODE_CACHE_FILE, FILL_CODE_CACHE_ENV, MANIFEST_FILE, PARTS, partBundleFile, partCodeCacheFile, sha1, stampOf, type BundleManifest, type PartName, type Stamp } from './bundle-run';
import { readManifests } from './manifests-dir';

const CLI_DIR = __dirname;
const DIST = path.join(CLI_DIR, '..');
const ROOT = path.join(DIST, '..');
const EXAMPLE = path.join(ROOT, 'examples', 'policy');
/** Installed packages change together, and npm rewrites this file each time. */
const PACKAGES_STAMP = path.join('node_modules', '.package-lock.json');

/** `file` as a require() path from `dir` (where the bundle is). */
function requirePath(dir: string, file: string): string {
  const rel = path.relative(dir, file).split(path.sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** dist/lab/** and the lab command group (dist/cli/lab.js) stay files, required from dist/ at run time. */
function labStaysFiles(dir: string): Plugin {
  return {
    name: 'lab-stays-files',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = path.resolve(args.resolveDir, args.path);
        const inLab = target.startsWith(path.join(DIST, 'lab') + path.sep) || target.replace(/\.js$/, '') === path.join(CLI_DIR, 'lab');
        return inLab ? { path: requirePath(dir, target), external: true } : undefined;
      });
    },
  };
}

/** In the bundle, each part's module is a call to requirePart (bundle-run.js, required from dist/ at run time). */
function partsApart(dir: string): Plugin {
  const runner = requirePath(dir, path.join(CLI_DIR, 'bundle-run.js'));
  return {
    name: 'parts-apart',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        if (args.namespace === 'weft-part') return { path: args.path, external: true };
        const part = PARTS.find((p) => path.resolve(args.resolveDir, args.path).replace(/\.js$/, '') === path.join(CLI_DIR, p));
        return part ? { path: part, namespace: 'weft-part' } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'weft-part' }, (args) => ({
        loader: 'js',
        contents: `module.exports = require(${JSON.stringify(runner)}).requirePart(${JSON.stringify(args.path)});`,
      }));
    },
  };
}

const inPackages = (file: string): boolean => file.split(path.sep).includes('node_modules');

/**
 * Reads every module for esbuild: stamps ours as read (the time before the content, so that a
 * write after it shows), and makes __dirname and __filename in a bundled module name that
 * module's own file, not the bundle.
 */
function readModules(dir: string, stamps: Map<string, Stamp>): Plugin {
  return {
    name: 'read-modules',
    setup(b) {
      b.onLoad({ filter: /\.(c|m)?js$/ }, async (args) => {
        const { mtimeMs } = await fs.promises.stat(args.path);
        const bytes = await fs.promises.readFile(args.path);
        const file = path.relative(ROOT, args.path);
        if (!inPackages(args.path)) stamps.set(file, [file, bytes.length, mtimeMs, sha1(bytes)]);
        const contents = bytes.toString('utf8');
        if (!/\b__(dirname|filename)\b/.test(contents)) return { contents, loader: 'js' };
        const own = JSON.stringify(requirePath(dir, path.dirname(args.path)));
        const prelude = `var __weft_dirname = require("node:path").join(__dirname, ${own}), __weft_filename = require("node:path").join(__weft_dirname, ${JSON.stringify(path.basename(args.path))});`;
        return { contents: `${prelude}${contents.replace(/\b__dirname\b/g, '__weft_dirname').replace(/\b__filename\b/g, '__weft_filename')}`, loader: 'js' };
      });
    },
  };
}

/** What both kinds of bundle are built with. */
const COMMON = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Less to read and parse at each start; names are kept for stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  absWorkingDir: ROOT,
} as const;

/** A part's packages must not be in the bundle as well: that is what the part saves. */
const PART_PACKAGES: Record<PartName, string> = { 'agent-link': '@grpc/grpc-js' };

/** Bundles weftctl and its parts into `dir`; returns the stamps of the inputs as they were read. */
async function bundle(dir: string): Promise<Stamp[]> {
  const stamps = new Map<string, Stamp>();
  const builds = [
    build({
      ...COMMON,
      entryPoints: [path.join(CLI_DIR, 'main.js')],
      outfile: path.join(dir, BUNDLE_FILE),
      // The server's proto loader (agent/api/proto.ts loads it only when serving): never run here.
      // The Kubernetes client: only --kubeconfig loads it (cli/cluster-objects.ts), from
      // node_modules; in the bundle it would make every start read a file several times larger.
      external: ['@grpc/proto-loader', '@kubernetes/client-node'],
      plugins: [labStaysFiles(dir), partsApart(dir), readModules(dir, stamps)],
    }),
    ...PARTS.map((part) =>
      build({ ...COMMON, entryPoints: [path.join(CLI_DIR, `${part}.js`)], outfile: path.join(dir, partBundleFile(part)), external: ['@grpc/proto-loader'], plugins: [readModules(dir, stamps)] }),
    ),
  ];
  const [main, ...parts] = await Promise.all(builds);
  const mainInputs = Object.keys(main.metafile.inputs);
  for (const part of PARTS) {
    const doubled = mainInputs.find((f) => f.includes(`node_modules/${PART_PACKAGES[part]}/`));
    if (doubled) throw new Error(`the bundle holds ${doubled}, which its ${part} part is for: a module requires it other than through cli/${part}`);
  }
  // Files only: a part's stand-in in the bundle ("weft-part:NAME") is made here, not read.
  const files = [main, ...parts].flatMap((r) => Object.keys(r.metafile.inputs)).filter((f) => !f.startsWith('weft-part:'));
  const inputs = [...new Set(files)].map((f) => path.join(ROOT, f));
  const unread = inputs.filter((f) => !inPackages(f) && !stamps.has(path.relative(ROOT, f)));
  if (unread.length > 0) throw new Error(`bundled without a stamp: ${unread.join(', ')}`);
  // The packages as one: npm rewrites this file whenever it installs.
  const packages = inputs.some(inPackages) ? [stampOf(ROOT, PACKAGES_STAMP)] : [];
  return [...stamps.values(), ...packages];
}

const run = promisify(execFile);

/**
 * `node` running weftctl from the bundle in `dir` (as weftctl.js does from dist/cli) with `args`:
 * the arguments for execFile. Exit code 97: the bundle could not be used.
 */
export function bundleCommand(dir: string, args: readonly string[]): string[] {
  const start = `require(${JSON.stringify(path.join(CLI_DIR, 'bundle-run.js'))}).runBundle(${JSON.stringify(dir)}, ${JSON.stringify(ROOT)}) || process.exit(97)`;
  // After `--`, the first argument stands where node puts the script's path (main.ts reads from the next).
  return ['-e', start, '--', path.join(dir, 'weftctl'), ...args];
}

/** Runs weftctl from the bundle in `dir` with `args`, adding what it compiles to the cache in `cacheFile`. */
async function fillRun(dir: string, cacheFile: string, args: string[]): Promise<void> {
  const env = { ...process.env, [FILL_CODE_CACHE_ENV]: cacheFile };
  // Questions that fail (an unknown pod, status of an agent that has none to give) fill the cache as well.
  await run(process.execPath, bundleCommand(dir, args), { env, timeout: 60_000 }).catch((err: { code?: unknown; stderr?: string }) => {
    if (typeof err.code !== 'number' || err.code === 97) throw new Error(`weftctl ${args.join(' ')} from the bundle failed: ${err.stderr || String(err)}`);
  });
  if (!fs.existsSync(cacheFile)) throw new Error(`weftctl ${args.join(' ')} wrote no code cache`);
}

/**
 * The agent API server, answering from the objects of examples/policy as an agent on node
 * `example` holding them would (status: a few counts); for the runs that fill the cache, and tests.
 */
export async function exampleAgentApi(socketPath: string): Promise<AgentApi> {
  const objects = new ObjectCache();
  for (const object of readManifests([EXAMPLE], '--manifests').objects) objects.apply({ type: 'ADDED', object });
  const sync = { lastSyncUnixMs: 0, lastSyncDurationMs: 0, lastError: '' };
  return startAgentApi({
    socketPath,
    endpoints: new LocalEndpoints(),
    status: () => ({ nodeName: 'example', sources: [], objectCounts: { Pod: objects.list('Pod').length }, sync, localEndpoints: 0, backend: 'nftables', rulesLocation: 'inet weft', rules: 0, ready: true }),
    policyQuery: policyAnswerer(objects, 'example'),
  });
}

/** Fills the code caches of the bundle in `dir` and of its parts from runs of it; keeps them beside the bundles. */
async function fillCodeCache(dir: string): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-cli-bundle-'));
  try {
    const api = path.join(scratch, 'agent.sock');
    const cacheFile = path.join(scratch, 'code-cache');
    const server = await exampleAgentApi(api);
    try {
      const trace = ['policy', 'trace', '--from', 'shop/web-1', '--to', 'svc/shop/api', '--port', '80'];
      for (const where of [['--manifests', EXAMPLE], ['--socket', api]]) {
        await fillRun(dir, cacheFile, [...trace, ...where]);
        await fillRun(dir, cacheFile, ['policy', 'trace', '--from', 'shop/web-1', '--to', 'shop/db-0', '--port', '5432', '-o', 'json', ...where]);
        await fillRun(dir, cacheFile, ['policy', 'explain', 'shop/db-0', ...where]);
      }
      await fillRun(dir, cacheFile, ['status', '--socket', api]);
      await fillRun(dir, cacheFile, ['--help']);
      await fillRun(dir, cacheFile, ['policy', 'trace', '--from', 'shop/nope', '--to', 'shop/db-0', '--port', '80', '--socket', api]);
    } finally {
      await server.close();
    }
    fs.copyFileSync(cacheFile, path.join(dir, CODE_CACHE_FILE));
    for (const part of PARTS) {
      if (!fs.existsSync(`${cacheFile}.${part}`)) throw new Error(`no run of weftctl's bundle used its ${part} part`);
      fs.copyFileSync(`${cacheFile}.${part}`, path.join(dir, partCodeCacheFile(part)));
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function writeManifest(dir: string, manifest: BundleManifest): void {
  // Written aside and renamed: weftctl never reads half a manifest.
  const file = path.join(dir, MANIFEST_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(manifest));
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * Builds the bundle, its code cache and its manifest in `dir` (dist/cli, where weftctl.js looks).
 * Modules changed by another build meanwhile make a manifest that does not vouch for the bundle:
 * weftctl then runs from the modules until the next build.
 */
export async function buildCliBundle(dir: string = CLI_DIR): Promise<void> {
  // An old manifest must not vouch for the files about to be replaced.
  fs.rmSync(path.join(dir, MANIFEST_FILE), { force: true });
  for (const file of [CODE_CACHE_FILE, ...PARTS.map(partCodeCacheFile)]) fs.rmSync(path.join(dir, file), { force: true });
  const inputs = await bundle(dir);
  await fillCodeCache(dir);
  const stamp = (file: string): Stamp => stampOf(ROOT, path.relative(ROOT, path.join(dir, file)));
  const parts = Object.fromEntries(PARTS.map((part) => [part, { bundle: stamp(partBundleFile(part)), codeCache: stamp(partCodeCacheFile(part)) }]));
  writeManifest(dir, { inputs, bundle: stamp(BUNDLE_FILE), codeCache: stamp(CODE_CACHE_FILE), parts });
}

// Quiet when it succeeds, as the rest of `npm run build`.
if (require.main === module) {
  buildCliBundle().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
