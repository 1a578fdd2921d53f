/**
 * `npm run bench [-- OPTIONS]`: every benchmark, each figure next to its reference measured in
 * the same run. Each bench prints its tables on stdout and records its figures (results.ts);
 * the run writes them as JSON to bench/results/<date>.json, and a full run writes the report to
 * bench/RESULTS.md, its plots to bench/plots/ and its JSON to bench/RESULTS.json (committed: the
 * latest report, and the baseline for --compare). Progress goes to stderr. Work happens in namespaces and
 * directories of the run's own, removed at the end, also on Ctrl-C or SIGTERM (cleanup.ts).
 *
 *   --only LIST          benches or groups, comma-separated: cni, dataplane, policy, services, cli,
 *                        or startup, sea-startup, ipam, attach, lab, agent, overlay, policy-compile,
 *                        policy-sync, cnp-sync, policy-datapath, policy-trace, policy-trace-cli,
 *                        services
 *   --runs N             runs per figure (default: 30, or each bench's own)
 *   --scales 100,1000    services at these counts (default 100,1000,10000)
 *   --policy-scales 100,1000  policy sync at these numbers of policies (default 1000)
 *   --report             a partial run writes its report too: bench/results/<date>.md
 *   --compare OLD.json   after the run, every figure against OLD.json's
 *   --with NEW.json      with --compare: compare two files, run nothing
 *   --merge A.json,B.json  run nothing: partial runs of one tree (merge.ts) as one; when together
 *                        they hold every bench, the report goes to bench/RESULTS.md as after a
 *                        full run
 *   --results-dir DIR    where the JSON goes (default bench/results)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { benchServices } from './services';
import { pluginPath } from '../lab/cni-exec';
import { benchAgentScale } from './agent-scale';
import { createBenchNetns, deleteBenchNetns, installCleanup, interrupted, trackChild } from './cleanup';
import { benchAttach } from './cni-attach';
import { benchClusterPolicySync } from './cnp-sync';
import { compareResults, formatComparison } from './compare';
import { mergeResults } from './merge';
import { benchOverlayPaths } from './overlay-paths';
import { benchPolicyCompile } from './policy-compile';
import { benchPolicyDatapath } from './policy-datapath';
import { benchPolicySync } from './policy-sync';
import { benchPolicyTrace } from './policy-trace';
import { progressBench, startProgress, stopProgress } from './progress';
import { benchIpam } from './cni-ipam';
import { benchLabUp } from './lab-up';
import { recorder } from './results';
import { machineDescription, readResults, stamp, weftVersion, writeResults, type RunResults } from './results-file';
import { writeReport } from './report';
import { benchSeaStartup } from './sea-startup';
import { recordsAs, selectBenches, type BenchName } from './select';
import { benchStartup } from './startup';

/** The source tree's bench directory (this file runs from dist/bench). */
const BENCH_DIR = path.resolve(__dirname, '..', '..', 'bench');

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const flag = (name: string): boolean => process.argv.includes(`--${name}`);

function numbers(name: string): number[] | undefined {
  return option(name)?.split(',').map(Number);
}

/** Whether a plugin executable exists on the lab's CNI path (a plugin not built yet is skipped). */
function installed(plugin: string): boolean {
  try {
    pluginPath(plugin);
    return true;
  } catch {
    return false;
  }
}

/**
 * A CNI server in a process of its own: the start-up bench times children synchronously, which
 * would starve a server running on this process's event loop.
 */
async function withServerProcess(fn: (socketPath: string) => void): Promise<void> {
  const socketPath = path.join(os.tmpdir(), `weft-bench-${process.pid}.sock`);
  const server = trackChild(spawn(process.execPath, [path.join(__dirname, '..', 'cni', 'server-main.js'), '--socket', socketPath], { stdio: ['ignore', 'ignore', 'pipe'] }));
  try {
    await once(server.stderr, 'data'); // "listening on ..."
    fn(socketPath);
  } finally {
    server.kill('SIGTERM');
    await once(server, 'close');
  }
}

interface Context {
  /** The run's own namespace, for benches that need a node. */
  ns: string;
  runs: number;
  /** --runs when given, else the bench's own default. */
  runsOr(n: number): number;
}

const RUNNERS: Record<BenchName, (c: Context) => Promise<void>> = {
  startup: (c) => withServerProcess((socketPath) => benchStartup(c.runs, socketPath)),
  'sea-startup': async (c) => benchSeaStartup(c.runs),
  ipam: (c) => benchIpam(c.ns, c.runs),
  attach: (c) => benchAttach(c.ns, c.runs, installed),
  // A lab takes seconds to build: a few runs, unless --runs says otherwise.
  lab: (c) => benchLabUp(c.runsOr(3)),
  agent: (c) => benchAgentScale(c.ns),
  overlay: (c) => benchOverlayPaths(c.runsOr(7)),
  'policy-compile': (c) => benchPolicyCompile(c.runsOr(20)),
  'policy-sync': () => benchPolicySync(numbers('policy-scales')),
  'cnp-sync': () => benchClusterPolicySync(),
  'policy-datapath': (c) => benchPolicyDatapath(c.runsOr(5)),
  'policy-trace': () => benchPolicyTrace(),
  'policy-trace-cli': () => benchPolicyTrace({ cliOnly: true }),
  services: () => benchServices(numbers('scales')),
};

function compare(oldFile: string, results: RunResults, newName: string): void {
  console.log(`\n${formatComparison(compareResults(readResults(oldFile), results), oldFile, newName)}`);
}

async function runBenches(benches: BenchName[]): Promise<RunResults> {
  const started = new Date();
  const runs = Number(option('runs') ?? 30);
  const failures: RunResults['failures'] = [];
  const ns = createBenchNetns(`weft-bench-${crypto.randomBytes(2).toString('hex')}`);
  const context: Context = { ns, runs, runsOr: (n) => (option('runs') ? runs : n) };
  startProgress(benches.length);
  try {
    console.log(`weft benchmarks on ${process.platform} ${process.arch}, node ${process.version}, ${started.toISOString()}`);
    for (const [k, name] of benches.entries()) {
      progressBench(k + 1, name);
      recorder.begin(recordsAs(name));
      try {
        await RUNNERS[name](context);
      } catch (err) {
        if (interrupted()) throw err;
        // One bench failing does not cost the figures of the others.
        failures.push({ bench: recordsAs(name), error: err instanceof Error ? err.message : String(err) });
        console.error(`\nbench ${name} failed:`, err);
      }
    }
  } finally {
    stopProgress();
    deleteBenchNetns(ns);
  }
  return {
    format: 'weft-bench-results',
    version: 1,
    date: started.toISOString(),
    weft: weftVersion(path.dirname(BENCH_DIR)),
    durationMs: Date.now() - started.getTime(),
    args: process.argv.slice(2),
    benches,
    complete: selectBenches().every((b) => benches.includes(b)),
    machine: machineDescription(),
    records: recorder.records,
    notes: recorder.notes,
    failures,
  };
}

async function main(): Promise<void> {
  const oldFile = option('compare');
  const newFile = option('with');
  if (oldFile && newFile) {
    compare(oldFile, readResults(newFile), newFile);
    return;
  }
  const merge = option('merge');
  const resultsDir = option('results-dir') ?? path.join(BENCH_DIR, 'results');
  let results: RunResults;
  let file: string;
  if (merge) {
    results = mergeResults(merge.split(',').map((f) => readResults(f)));
    // Named after its first run's date, like that run's file: kept apart from it.
    file = writeResults(resultsDir, results, '-merged');
    console.log(`merged: ${file}`);
  } else {
    const benches = selectBenches(option('only'));
    installCleanup();
    results = await runBenches(benches);
    file = writeResults(resultsDir, results);
    console.log(`\nresults: ${file}`);
  }
  if (results.complete) {
    writeReport(results, path.join(BENCH_DIR, 'RESULTS.md'), path.join(BENCH_DIR, 'plots'));
    fs.copyFileSync(file, path.join(BENCH_DIR, 'RESULTS.json'));
    console.log(`report: ${path.join(BENCH_DIR, 'RESULTS.md')}`);
  } else if (flag('report')) {
    const base = path.join(resultsDir, stamp(new Date(results.date)));
    writeReport(results, `${base}.md`, base);
    console.log(`report: ${base}.md`);
  }
  if (oldFile) compare(oldFile, results, file);
  if (results.failures.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  if (interrupted()) return; // the interrupt's clean-up exits
  console.error(err);
  process.exitCode = 1;
});
