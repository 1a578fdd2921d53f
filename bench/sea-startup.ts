/**
 * Start-up of weft-ipam VERSION as the node entry (dist/bin, whose shebang drops
 * NODE_EXTRA_CA_CERTS) and as the single executable (`npm run build:sea`), which a runtime starts
 * directly with whatever environment it has: here the machine's, CA bundle included. The bundle
 * under plain node shows what bundling alone costs (every module parsed up front) and so what the
 * executable's code cache wins back.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SEA_BIN_DIR, WEFT_BIN_DIR } from '../lab/cni-exec';
import { header, row, summarize } from './stats';

interface StartupCase {
  name: string;
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

function timeOnce(c: StartupCase): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.args, { env: c.env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${c.name}: exited ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export function benchSeaStartup(runs: number): void {
  const seaPlugin = path.join(SEA_BIN_DIR, 'weft-ipam');
  const bundle = path.join(SEA_BIN_DIR, '..', 'weft-cni.js');
  if (!fs.existsSync(seaPlugin) || !fs.existsSync(bundle)) {
    console.log(`\nSEA start-up: skipped, ${seaPlugin} not built (npm run build:sea)`);
    return;
  }
  // VERSION loads no addon; should one be extracted anyway, it goes here, not to /run/weft.
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-bench-sea-'));
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
    const samples = cases.map(() => [] as number[]);
    // Interleaved, so that a slow spell of the machine weighs on every case alike.
    for (let i = 0; i < runs; i++) cases.forEach((c, k) => samples[k].push(timeOnce(c)));
    const summaries = samples.map(summarize);
    console.log(`\nweft-ipam VERSION start-up, node entry vs single executable, ms (${runs} runs each, interleaved; ratio = to the node entry)`);
    console.log(header());
    cases.forEach((c, k) => console.log(row(c.name, summaries[k], k === 0 ? undefined : summaries[0])));
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
