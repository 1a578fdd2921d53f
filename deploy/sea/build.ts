/**
 * `npm run build:sea`: builds dist/sea/weft-cni, one self-contained executable (Node.js single
 * executable application) serving every weft CNI plugin, and dist/sea/bin/<plugin> links to it.
 *
 * Steps: bundle deploy/sea/entry.ts and everything it loads into one CommonJS file (esbuild; the
 * netlink package's addon loader is swapped for the asset source), make the SEA blob with the
 * two native addons as assets and V8's code cache, and inject it into a stripped copy of this node.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { PLUGIN_NAMES } from '../../cni/registry';
import { systemBinary } from '../../kernel/exec';

const ROOT = path.join(__dirname, '..', '..', '..');
/** Where `npm run build:sea` puts the executable (lab/cni-exec.ts SEA_BIN_DIR is its bin/). */
export const DEFAULT_SEA_DIR = path.join(ROOT, 'dist', 'sea');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const ASSETS: Record<string, string> = {
  'weft_native.node': path.join(ROOT, 'kernel', 'native', 'build', 'Release', 'weft_native.node'),
  'netlink.node': path.join(ROOT, 'node_modules', 'netlink', 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node'),
};

/** The netlink package finds its binding with node-gyp-build next to its files; in the SEA it is an asset. */
const netlinkBindingFromAsset: Plugin = {
  name: 'netlink-binding-from-asset',
  setup(b) {
    b.onResolve({ filter: /^node-gyp-build$/ }, () => ({ path: 'node-gyp-build', namespace: 'weft-sea' }));
    b.onLoad({ filter: /.*/, namespace: 'weft-sea' }, () => ({
      resolveDir: path.join(ROOT, 'kernel'),
      loader: 'js',
      contents: `const { addonFromSource } = require('./addon-source');
module.exports = () => { const b = addonFromSource('netlink.node'); if (!b) throw new Error('netlink binding missing'); return b; };`,
    }));
  },
};

/** Runs a build tool; its chatter (postject warns about ELF notes it does not parse) only on failure. */
function quietly(file: string, args: string[]): void {
  try {
    execFileSync(file, args, { stdio: 'pipe' });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`${path.basename(file)} failed: ${String(stderr ?? '')}${String(stdout ?? '')}`, { cause: err });
  }
}

function assetsHash(): string {
  const hash = crypto.createHash('sha256');
  for (const file of Object.values(ASSETS)) hash.update(fs.readFileSync(file));
  return hash.digest('hex').slice(0, 12);
}

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export interface SeaBuildOptions {
  /** Output directory: weft-cni, bin/<plugin> links and the intermediate bundle and blob. */
  outDir?: string;
  /** V8 code cache of the bundle in the blob (default true: the start-up does not compile the bundle). */
  useCodeCache?: boolean;
  /**
   * Start from a copy of node without its symbol and debug sections (default true; needs
   * binutils' strip): 13 MB less to ship to every node, and no difference in start-up.
   */
  strip?: boolean;
}

/** Builds the executable and its plugin links; returns the executable's path. */
export async function buildSea(options: SeaBuildOptions = {}): Promise<string> {
  const out = options.outDir ?? DEFAULT_SEA_DIR;
  fs.mkdirSync(out, { recursive: true });
  const bundle = path.join(out, 'weft-cni.js');
  await build({
    entryPoints: [path.join(ROOT, 'deploy', 'sea', 'entry.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: bundle,
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    define: { WEFT_SEA_BUILD: JSON.stringify(assetsHash()), WEFT_PACKAGE_VERSION: JSON.stringify(packageVersion()) },
    plugins: [netlinkBindingFromAsset],
  });
  const blob = path.join(out, 'weft-cni.blob');
  const seaConfig = path.join(out, 'sea-config.json');
  fs.writeFileSync(
    seaConfig,
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: options.useCodeCache ?? true, assets: ASSETS }, null, 2),
  );
  quietly(process.execPath, ['--experimental-sea-config', seaConfig]);
  const exe = path.join(out, 'weft-cni');
  fs.rmSync(exe, { force: true });
  if (options.strip ?? true) quietly(systemBinary('strip'), ['--strip-all', '-o', exe, process.execPath]);
  else fs.copyFileSync(process.execPath, exe);
  fs.chmodSync(exe, 0o755);
  quietly(path.join(ROOT, 'node_modules', '.bin', 'postject'), [exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
  // Made afresh, so a plugin dropped from the registry leaves no link behind.
  const binDir = path.join(out, 'bin');
  fs.rmSync(binDir, { recursive: true, force: true });
  fs.mkdirSync(binDir);
  for (const name of PLUGIN_NAMES) fs.symlinkSync('../weft-cni', path.join(binDir, name));
  return exe;
}

if (require.main === module) {
  // `--out DIR`, `--no-code-cache` and `--no-strip` build a variant elsewhere (to compare).
  const outArg = process.argv.indexOf('--out');
  const options: SeaBuildOptions = {
    outDir: outArg >= 0 ? path.resolve(process.argv[outArg + 1]) : undefined,
    useCodeCache: !process.argv.includes('--no-code-cache'),
    strip: !process.argv.includes('--no-strip'),
  };
  const started = Date.now();
  buildSea(options)
    .then((exe) => console.log(`built ${exe.startsWith(ROOT + path.sep) ? path.relative(ROOT, exe) : exe} (${(fs.statSync(exe).size / 1e6).toFixed(0)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
