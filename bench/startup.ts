/**
 * Start-up cost of the multi-call plugin program (on every pod's critical path: runtimes call
 * VERSION before each ADD and DEL) next to a bare `node -e 0`, with the environment this machine
 * gives every process (NODE_EXTRA_CA_CERTS included) and without it.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { SHIM_BIN_DIR, WEFT_BIN_DIR } from '../lab/cni-exec';
import { header, row, summarize, type Summary } from './stats';

function timeOnce(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** `socketPath`: a running CNI server for the shim row. The single executable is in sea-startup.ts. */
export function benchStartup(runs: number, socketPath: string): void {
  const machineEnv = { ...process.env };
  const bareEnv = { ...process.env };
  delete bareEnv.NODE_EXTRA_CA_CERTS;
  const plugin = path.join(WEFT_BIN_DIR, 'weft-ipam');
  const cases: [string, string, string[], NodeJS.ProcessEnv][] = [
    ['node -e 0 (machine env)', process.execPath, ['-e', '0'], machineEnv],
    ['node -e 0 (no CA bundle)', process.execPath, ['-e', '0'], bareEnv],
    ['weft-ipam VERSION (machine env)', plugin, [], { ...machineEnv, CNI_COMMAND: 'VERSION' }],
    ['weft-ipam VERSION, shim+server', path.join(SHIM_BIN_DIR, 'weft-ipam'), [], { ...machineEnv, CNI_COMMAND: 'VERSION', WEFT_CNI_SOCKET: socketPath }],
  ];
  const samples = cases.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) cases.forEach(([, cmd, args, env], k) => samples[k].push(timeOnce(cmd, args, env)));
  const summaries: Summary[] = samples.map(summarize);
  console.log(`\nPlugin start-up, ms (${runs} runs each, interleaved; ratio = to node -e 0 with the machine env)`);
  console.log(header());
  cases.forEach(([name], k) => console.log(row(name, summaries[k], k === 0 ? undefined : summaries[0])));
}
