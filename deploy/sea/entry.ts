/**
 * Entry of the single executable (Node.js SEA) that carries every weft CNI plugin: installed as
 * `weft-cni` with a link per plugin name, for kubelet hosts that have no Node.js.
 *
 * Two things differ from the `node dist/cni/main.js` entry:
 * - the native addons (weft_native.node, the netlink package's binding) are assets inside the
 *   executable; they are written once to a cache directory named after the build and loaded
 *   from there (dlopen needs a file);
 * - in an SEA, argv[1] is the executable's resolved path, so the plugin name comes from argv0,
 *   the path the runtime executed (the link).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getAsset } from 'node:sea';
import { setAddonSource } from '../../kernel/addon-source';

/** Replaced at bundle time by a hash of the assets, so a new build never loads an old addon. */
declare const WEFT_SEA_BUILD: string;

function cacheDir(): string {
  const preferred = process.env.WEFT_SEA_CACHE ?? '/run/weft/sea';
  for (const dir of [preferred, path.join(os.tmpdir(), `weft-sea-${process.getuid?.() ?? 0}`)]) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.accessSync(dir, fs.constants.W_OK);
      return dir;
    } catch {
      // not usable: try the next
    }
  }
  throw new Error('weft-cni: no writable directory for its native addons (set WEFT_SEA_CACHE)');
}

function extractedAddon(file: string): unknown {
  const target = path.join(cacheDir(), `${WEFT_SEA_BUILD}-${file}`);
  if (!fs.existsSync(target)) {
    // Written aside and renamed: a concurrent plugin process never loads a half-written file.
    const partial = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(partial, Buffer.from(getAsset(file)), { mode: 0o500 });
    fs.renameSync(partial, target);
  }
  const module = { exports: {} };
  process.dlopen(module, target);
  return module.exports;
}

setAddonSource(extractedAddon);
process.argv[1] = process.argv0;
require('../../cni/main');
