/**
 * `npm run build:sea`: builds dist/sea/weft-cni, one self-contained executable (Node.js single
 * executable application) serving every weft CNI plugin, and dist/sea/bin/<plugin> links to it.
 *
 * Steps: bundle deploy/sea/entry.ts and everything it loads into one CommonJS file (esbuild; the
 * netlink package's addon loader is swapped for the asset source), make the SEA blob with the
 * two native addons as assets and V8's code cache, and inject it into a copy of this node.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { PLUGIN_NAMES } from '../../cni/registry';

const ROOT = path.join(__dirname, '..', '..', '..');
const OUT = path.join(ROOT, 'dist', 'sea');
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

export async function buildSea(): Promise<string> {
  fs.mkdirSync(OUT, { recursive: true });
  const bundle = path.join(OUT, 'weft-cni.js');
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
    define: { WEFT_SEA_BUILD: JSON.stringify(assetsHash()) },
    plugins: [netlinkBindingFromAsset],
  });
  const blob = path.join(OUT, 'weft-cni.blob');
  const seaConfig = path.join(OUT, 'sea-config.json');
  fs.writeFileSync(
    seaConfig,
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets: ASSETS }, null, 2),
  );
  quietly(process.execPath, ['--experimental-sea-config', seaConfig]);
  const exe = path.join(OUT, 'weft-cni');
  fs.rmSync(exe, { force: true });
  fs.copyFileSync(process.execPath, exe);
  fs.chmodSync(exe, 0o755);
  quietly(path.join(ROOT, 'node_modules', '.bin', 'postject'), [exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
  const binDir = path.join(OUT, 'bin');
  fs.mkdirSync(binDir, { recursive: true });
  for (const name of PLUGIN_NAMES) {
    fs.rmSync(path.join(binDir, name), { force: true });
    fs.symlinkSync('../weft-cni', path.join(binDir, name));
  }
  return exe;
}

if (require.main === module) {
  const started = Date.now();
  buildSea()
    .then((exe) => console.log(`built ${path.relative(ROOT, exe)} (${(fs.statSync(exe).size / 1e6).toFixed(0)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
