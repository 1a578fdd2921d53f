#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
/**
 * The multi-call plugin program: installed under each plugin's name (dist/bin/weft-ipam, ...),
 * it serves the plugin it is called as.
 *
 * It runs on every pod's critical path (runtimes call VERSION before each ADD and DEL), so its
 * import graph is kept to skel, env, version, types and the registry; a plugin's modules are
 * loaded only for a valid request. The shebang drops NODE_EXTRA_CA_CERTS, which runtimes pass
 * through from their environment and which makes Node parse a CA bundle at start (most of the
 * start-up on this machine) -- a CNI plugin needs no TLS trust store.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PLUGINS, PLUGIN_NAMES } from './registry';
import { runSkel } from './skel';
import { CniError, ErrorCode } from './types';

/** The name this program was invoked as: the symlink's name, not main.js. */
function invokedName(): string {
  return path.basename(process.argv[1] ?? process.argv0);
}

/** stdin, when the runtime gave one; a terminal (a person running the plugin by hand) gives none. */
function readStdin(): Buffer {
  try {
    return fs.readFileSync(0);
  } catch {
    return Buffer.alloc(0);
  }
}

/**
 * Set at bundle time by deploy/sea/build.ts: the single executable has no package.json beside
 * it, and must not read whatever file happens to sit two directories above where it is installed.
 */
declare const WEFT_PACKAGE_VERSION: string | undefined;

function packageVersion(): string {
  if (typeof WEFT_PACKAGE_VERSION === 'string') return WEFT_PACKAGE_VERSION;
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const name = invokedName();
  const loader = PLUGINS[name];
  const env = process.env;
  // Read even for VERSION, so a runtime writing a config never meets a closed pipe.
  const stdin = env.CNI_COMMAND ? readStdin() : Buffer.alloc(0);
  const load = loader ?? ((): never => {
    throw new CniError(ErrorCode.PluginNotAvailable, `weft has no plugin named ${JSON.stringify(name)}`, `this program serves: ${PLUGIN_NAMES.join(', ')}`);
  });
  const out = await runSkel(name, load, { env, stdin }, env.CNI_COMMAND ? undefined : packageVersion());
  if (out.stdout) process.stdout.write(out.stdout);
  if (out.stderr) process.stderr.write(out.stderr);
  process.exitCode = out.exitCode;
}

void main();
