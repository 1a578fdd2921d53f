/**
 * Start-up of weft-ipam VERSION as the node entry (dist/bin, whose shebang drops
 * NODE_EXTRA_CA_CERTS) and as the single executable (`npm run build:sea`), which a runtime starts
 * directly with whatever environment it has: here the machine's, CA bundle included. The bundle
 * under plain node shows what bundling alone costs (every module parsed up front) and so what the
 * executable's code cache wins back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SEA_BIN_DIR, WEFT_BIN_DIR } from '../lab/cni-exec';
import { makeBenchDir, removeBenchDir } from './cleanup';
import { benchNote } from './results';
import { compareStartups, type StartupCase } from './startup';

export function benchSeaStartup(runs: number): void {
  const seaPlugin = path.join(SEA_BIN_DIR, 'weft-ipam');
  const bundle = path.join(SEA_BIN_DIR, '..', 'weft-cni.js');
  if (!fs.existsSync(seaPlugin) || !fs.existsSync(bundle)) {
    console.log(`\nSEA start-up: skipped, ${seaPlugin} not built (npm run build:sea)`);
    benchNote(`skipped: ${seaPlugin} not built (npm run build:sea)`);
    return;
  }
  // VERSION loads no addon; should one be extracted anyway, it goes here, not to /run/weft.
  const scratch = makeBenchDir('weft-bench-sea-');
  try {
    const machineEnv: NodeJS.ProcessEnv = { ...process.env, CNI_COMMAND: 'VERSION', WEFT_SEA_CACHE: scratch };
    const bareEnv = { ...machineEnv };
    delete bareEnv.NODE_EXTRA_CA_CERTS;
    // The bundle picks its plugin by the name it runs as, like the executable.
    const bundleLink = path.join(scratch, 'weft-ipam');
    fs.symlinkSync(bundle, bundleLink);
    const cases: StartupCase[] = [
      { name: 'node entry (machine env)', cmd: path.join(WEFT_BIN_DIR, 'weft-ipam'), args: [], env: machineEnv },
      { name: 'node -e 0 (no CA bundle)', cmd: process.execPath, args: ['-e', '0'], env: bareEnv },
      { name: 'bundle under node (no CA bundle)', cmd: process.execPath, args: [bundleLink], env: bareEnv },
      { name: 'SEA (machine env)', cmd: seaPlugin, args: [], env: machineEnv },
      { name: 'SEA (no CA bundle)', cmd: seaPlugin, args: [], env: bareEnv },
    ];
    compareStartups('weft-ipam VERSION start-up, node entry vs single executable, ms', cases, runs);
  } finally {
    removeBenchDir(scratch);
  }
}
