/**
 * Entry of the single executable (Node.js SEA) that carries every weft CNI plugin: installed as
 * `weft-cni` with a link per plugin name, for kubelet hosts that have no Node.js.
 *
 * What differs from the `node dist/cni/main.js` entry: the native addons (weft_native.node, the
 * netlink package's binding) are assets inside the executable; they are written once to a private
 * cache directory, under a name carrying the build's hash, and loaded from there (dlopen needs a
 * file).
 *
 * The plugin name needs nothing here: Node starts an SEA with argv[0] = the resolved executable
 * and argv[1] = the path it was executed by (the link, e.g. /opt/cni/bin/weft-bridge), which is
 * what cni/main.ts reads, as it reads the link's path under plain node.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getAsset, isSea } from 'node:sea';
import { setAddonSource } from '../../kernel/addon-source';

/** Replaced at bundle time by a hash of the assets, so a new build never loads an old addon. */
declare const WEFT_SEA_BUILD: string;

/**
 * Whether `dir` (created if missing) can hold files this process will dlopen: a real directory
 * of this user that no one else may write to. Anyone else able to place a file there could have
 * a root plugin load their code.
 */
function isPrivateDir(dir: string): boolean {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function cacheDir(): string {
  const preferred = process.env.WEFT_SEA_CACHE ?? '/run/weft/sea';
  const fallback = path.join(os.tmpdir(), `weft-sea-${process.getuid?.() ?? 0}`);
  for (const dir of [preferred, fallback]) {
    if (isPrivateDir(dir)) return dir;
  }
  throw new Error(`weft-cni: no private writable directory for its native addons (tried ${preferred}, ${fallback}; set WEFT_SEA_CACHE)`);
}

function extractedAddon(file: string): unknown {
  const target = path.join(cacheDir(), `${WEFT_SEA_BUILD}-${file}`);
  if (!fs.existsSync(target)) {
    // Written aside and renamed: a concurrent plugin process never loads a half-written file.
    // A read-only leftover of a crashed process that had the same pid is removed first.
    const partial = `${target}.${process.pid}.tmp`;
    fs.rmSync(partial, { force: true });
    fs.writeFileSync(partial, Buffer.from(getAsset(file)), { mode: 0o500, flag: 'wx' });
    fs.renameSync(partial, target);
  }
  const module = { exports: {} };
  process.dlopen(module, target);
  return module.exports;
}

// Under plain node (`node <link to dist/sea/weft-cni.js>`, to measure the bundle alone) there
// are no assets: the bundle then serves VERSION and weft-ipam, not the plugins that need the
// netlink binding, which it takes from the assets only.
if (isSea()) setAddonSource(extractedAddon);
require('../../cni/main');
