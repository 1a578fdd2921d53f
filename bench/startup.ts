/**
 * Start-up cost of the multi-call plugin program (on every pod's critical path: runtimes call
 * VERSION before each ADD and DEL) next to a bare `node -e 0`, with the environment this machine
 * gives every process (NODE_EXTRA_CA_CERTS included) and without it.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { SHIM_BIN_DIR, WEFT_BIN_DIR } from '../lab/cni-exec';
import { step } from './progress';
import { record, type FigureInput } from './results';
import { header, row, summarize } from './stats';

/** One program start to time. */
export interface StartupCase {
  name: string;
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** What its time must meet, when it has a target. */
  target?: FigureInput['target'];
}

function timeOnce(c: StartupCase): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.args, { env: c.env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${c.name}: exited ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/**
 * Times every case `runs` times, interleaved so that a slow spell of the machine weighs on every
 * case alike, and prints the table under `title` with each ratio to the first case.
 */
export function compareStartups(title: string, cases: StartupCase[], runs: number): void {
  const samples = cases.map(() => [] as number[]);
  step(title);
  for (let i = 0; i < runs; i++) cases.forEach((c, k) => samples[k].push(timeOnce(c)));
  const summaries = samples.map(summarize);
  console.log(`\n${title} (${runs} runs each, interleaved; ratio = to ${cases[0].name})`);
  console.log(header());
  cases.forEach((c, k) => console.log(row(c.name, summaries[k], k === 0 ? undefined : summaries[0])));
  cases.forEach((c, k) => record({ name: c.name, unit: 'ms', samples: samples[k], reference: k === 0 ? undefined : { name: cases[0].name, samples: samples[0] }, target: c.target }));
}

/** `socketPath`: a running CNI server for the shim row. The single executable is in sea-startup.ts. */
export function benchStartup(runs: number, socketPath: string): void {
  const machineEnv = { ...process.env };
  const bareEnv = { ...process.env };
  delete bareEnv.NODE_EXTRA_CA_CERTS;
  const plugin = path.join(WEFT_BIN_DIR, 'weft-ipam');
  compareStartups('Plugin start-up, ms', [
    { name: 'node -e 0 (machine env)', cmd: process.execPath, args: ['-e', '0'], env: machineEnv },
    { name: 'node -e 0 (no CA bundle)', cmd: process.execPath, args: ['-e', '0'], env: bareEnv },
    { name: 'weft-ipam VERSION (machine env)', cmd: plugin, args: [], env: { ...machineEnv, CNI_COMMAND: 'VERSION' } },
    { name: 'weft-ipam VERSION, shim+server', cmd: path.join(SHIM_BIN_DIR, 'weft-ipam'), args: [], env: { ...machineEnv, CNI_COMMAND: 'VERSION', WEFT_CNI_SOCKET: socketPath } },
  ], runs);
}
