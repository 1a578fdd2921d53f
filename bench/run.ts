/**
 * `npm run bench [-- --only cni|startup] [--runs N]`: every benchmark, each figure next to its
 * reference measured in the same run. Work happens in a namespace of its own, removed at the end
 * (also on Ctrl-C).
 */
import crypto from 'node:crypto';
import { createNamedNetns, deleteNamedNetns } from '../kernel/netns';
import { benchIpam } from './cni-ipam';
import { benchStartup } from './startup';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
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
    if (!only || only === 'startup') benchStartup(runs);
    if (!only || only === 'cni') await benchIpam(ns, runs);
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
