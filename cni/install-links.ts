/**
 * Installs the plugin executables under each plugin name, the way CNI runtimes expect one
 * executable per plugin type on CNI_PATH. Run by `npm run build`, it makes two sets:
 *  - dist/bin/<name> -> ../cni/main.js: the Node.js multi-call program;
 *  - dist/shim/bin/<name> -> ../weft-cni-shim: the native shim that hands calls to the CNI
 *    server (cni/server.ts) and falls back to dist/bin/<name> without one.
 * `--dir DIR [--shim]` installs one set into another directory (e.g. /opt/cni/bin on a node).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PLUGIN_NAMES } from './registry';

const NODE_ENTRY = path.join(__dirname, 'main.js');
const SHIM = path.join(__dirname, '..', 'shim', 'weft-cni-shim');

function installLinks(binDir: string, target: string): void {
  fs.chmodSync(target, 0o755);
  fs.mkdirSync(binDir, { recursive: true });
  const relative = path.relative(binDir, target);
  for (const name of PLUGIN_NAMES) {
    const link = path.join(binDir, name);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(relative, link);
  }
}

const dirFlag = process.argv.indexOf('--dir');
if (dirFlag >= 0) {
  installLinks(path.resolve(process.argv[dirFlag + 1] ?? ''), process.argv.includes('--shim') ? SHIM : NODE_ENTRY);
} else {
  installLinks(path.join(__dirname, '..', 'bin'), NODE_ENTRY);
  if (fs.existsSync(SHIM)) installLinks(path.join(__dirname, '..', 'shim', 'bin'), SHIM);
}
