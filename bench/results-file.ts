/**
 * A run's results as a JSON file: when, with what, on which machine (CPU, cores, kernel, distro,
 * Node.js and the versions of the kernel tools the figures depend on), and every record. Named
 * by the run's start time, so runs do not overwrite each other and sort by date.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemBinary } from '../kernel/exec';
import type { BenchNote, BenchRecord } from './results';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  arch: string;
  kernel: string;
  distro: string;
  node: string;
  /** `--version` of each tool, or "not installed". */
  tools: Record<string, string>;
}

export interface RunResults {
  format: 'weft-bench-results';
  version: 1;
  /** ISO time the run started. */
  date: string;
  /** What was measured: weft's version and the commit of the tree it was built from. */
  weft?: string;
  durationMs: number;
  /** The command line after `npm run bench --`. */
  args: string[];
  /** The benches run; `complete` when that was all of them. */
  benches: string[];
  complete: boolean;
  machine: Machine;
  records: BenchRecord[];
  notes: BenchNote[];
  failures: { bench: string; error: string }[];
}

/** Tools whose versions the figures depend on, with the argument that prints the version. */
const TOOLS: [string, string][] = [
  ['nft', '--version'],
  ['iptables', '--version'],
  ['iptables-legacy', '--version'],
  ['iperf3', '--version'],
];

/** From the system directories: under npm, node_modules/.bin has an unrelated `nft` (kernel/exec.ts). */
function toolVersion(cmd: string, arg: string): string {
  try {
    const out = execFileSync(systemBinary(cmd), [arg], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
    return out.split('\n')[0].trim();
  } catch {
    return 'not installed';
  }
}

function distro(): string {
  try {
    const text = fs.readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machineDescription(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    arch: process.arch,
    kernel: `${os.type()} ${os.release()}`,
    distro: distro(),
    node: process.version,
    tools: Object.fromEntries(TOOLS.map(([cmd, arg]) => [cmd, toolVersion(cmd, arg)])),
  };
}

/**
 * "0.1.0, commit 499d992" for the tree at `root` (uncommitted changes are not seen: the commit
 * says what the tree was based on). Read-only: package.json and `git rev-parse`.
 */
export function weftVersion(root: string): string {
  let version = 'unknown';
  try {
    version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // not a checkout
  }
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${version}, commit ${commit}`;
  } catch {
    return version;
  }
}

/** `2025-03-01T14-05-09Z`: a file name's worth of the time, sorting as the time does. */
export function stamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/**
 * JSON has no NaN or Infinity (a figure that could not be measured): they are written as null
 * and read back as NaN.
 */
export function resultsJson(results: RunResults): string {
  return `${JSON.stringify(results, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

/** Writes `<dir>/<stamp>.json`; returns its path. */
/** `suffix`: for a file made from others (a merge), so that it does not overwrite the first of them. */
export function writeResults(dir: string, results: RunResults, suffix = ''): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${stamp(new Date(results.date))}${suffix}.json`);
  fs.writeFileSync(file, resultsJson(results));
  return file;
}

export function parseResults(text: string, source = 'results'): RunResults {
  const data = JSON.parse(text, (key, v: unknown) => (v === null && ['value', 'ratio', 'relative', 'min', 'max', 'p90'].includes(key) ? NaN : v)) as Partial<RunResults>;
  if (data.format !== 'weft-bench-results' || !Array.isArray(data.records)) throw new Error(`${source}: not a weft bench results file`);
  return { notes: [], failures: [], benches: [], args: [], ...data } as RunResults;
}

export function readResults(file: string): RunResults {
  return parseResults(fs.readFileSync(file, 'utf8'), file);
}
