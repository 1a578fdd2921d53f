/**
 * Installs the multi-call plugin program under each plugin name: dist/bin/<name> -> ../cni/main.js,
 * the way CNI runtimes expect one executable per plugin type on CNI_PATH. Run by `npm run build`;
 * `--dir DIR` installs into another directory (e.g. /opt/cni/bin on a node).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PLUGIN_NAMES } from './registry';

function installLinks(binDir: string): string[] {
  const entry = path.join(__dirname, 'main.js');
  if (fs.existsSync(entry)) fs.chmodSync(entry, 0o755);
  fs.mkdirSync(binDir, { recursive: true });
  const target = path.relative(binDir, entry);
  for (const name of PLUGIN_NAMES) {
    const link = path.join(binDir, name);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(target, link);
  }
  return PLUGIN_NAMES.map((n) => path.join(binDir, n));
}

const dirFlag = process.argv.indexOf('--dir');
const binDir = dirFlag >= 0 ? path.resolve(process.argv[dirFlag + 1] ?? '') : path.join(__dirname, '..', 'bin');
installLinks(binDir);
