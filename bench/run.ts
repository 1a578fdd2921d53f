/**
 * `npm run bench [-- --only startup|sea-startup|ipam|attach|agent|lab|overlay|policy|policy-sync|policy-datapath|policy-trace|services] [--runs N] [--scales 100,1000]`: every benchmark, each figure next to its
 * reference measured in the same run. Work happens in a namespace of its own, removed at the end
 * (also on Ctrl-C).
 */
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createNamedNetns, deleteNamedNetns } from '../kernel/netns';
import { benchServices } from './services';
import { pluginPath } from '../lab/cni-exec';
import { benchAgentScale } from './agent-scale';
import { benchAttach } from './cni-attach';
import { benchOverlayPaths } from './overlay-paths';
import { benchPolicyCompile } from './policy-compile';
import { benchPolicyDatapath } from './policy-datapath';
import { benchPolicySync } from './policy-sync';
import { benchPolicyTrace } from './policy-trace';
import { benchIpam } from './cni-ipam';
import { benchLabUp } from './lab-up';
import { benchSeaStartup } from './sea-startup';
import { benchStartup } from './startup';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
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
  const server = spawn(process.execPath, [path.join(__dirname, '..', 'cni', 'server-main.js'), '--socket', socketPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await once(server.stderr, 'data'); // "listening on ..."
    fn(socketPath);
  } finally {
    server.kill('SIGTERM');
    await once(server, 'close');
  }
}

async function main(): Promise<void> {
  const only = option('only');
  const runs = Number(option('runs') ?? 30);
  const ns = createNamedNetns(`weft-bench-${crypto.randomBytes(2).toString('hex')}`);
  const cleanup = () => deleteNamedNetns(ns);
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    console.log(`weft benchmarks on ${process.platform} ${process.arch}, node ${process.version}, ${new Date().toISOString()}`);
    if (!only || only === 'startup') await withServerProcess((socketPath) => benchStartup(runs, socketPath));
    if (!only || only === 'sea-startup') benchSeaStartup(runs);
    if (!only || only === 'ipam') await benchIpam(ns, runs);
    if (!only || only === 'attach') await benchAttach(ns, runs, installed);
    // A lab takes seconds to build: a few runs, unless --runs says otherwise.
    if (!only || only === 'lab') await benchLabUp(option('runs') ? runs : 3);
    if (!only || only === 'agent') await benchAgentScale(ns);
    if (!only || only === 'overlay') await benchOverlayPaths(option('runs') ? runs : 7);
    if (!only || only === 'policy') await benchPolicyCompile(option('runs') ? runs : 20);
    if (!only || only === 'policy' || only === 'policy-sync') await benchPolicySync();
    if (!only || only === 'policy' || only === 'policy-datapath') await benchPolicyDatapath(option('runs') ? runs : 5);
    if (!only || only === 'policy' || only === 'policy-trace') await benchPolicyTrace();
    if (!only || only === 'services') await benchServices(option('scales') ? option('scales')!.split(',').map(Number) : undefined);
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
