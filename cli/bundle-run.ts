/**
 * Runs weftctl from the bundle `npm run build` makes (bundle-build.ts), when it is there and was
 * made from the modules now in dist/: one file instead of the ~150 modules a question loads to
 * find and read, compiled from V8's code cache instead of from source. That halves what
 * weftctl adds to node's own start (`npm run bench -- --only policy-trace-cli`).
 *
 * A bundle made from modules other than those in dist/ now (tsc changed one since, `tsc --watch`
 * included) is not used: the modules run as tsc left them (main.ts), so a change never hides
 * behind an old bundle. The manifest beside the bundle lists its inputs with their size,
 * modification time and content hash: the times are checked (well under a millisecond), and
 * only a file whose time changed is read and hashed (a few milliseconds after `npm run build:ts`,
 * which writes every module again, mostly the same).
 */
import type * as Crypto from 'node:crypto';
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

export const BUNDLE_FILE = 'weftctl.bundle.js';
export const CODE_CACHE_FILE = 'weftctl.bundle.cache';
export const MANIFEST_FILE = 'weftctl.bundle.json';
/**
 * For the build only: run from the bundle just made (no manifest yet) with the code cache in this
 * file (when there), and write the cache, with what this run compiled added, to it at exit.
 */
export const FILL_CODE_CACHE_ENV = 'WEFT_BUNDLE_FILL_CODE_CACHE';

/** A file as it was when the bundle was made: path from the repository root, size, mtimeMs, SHA-1 of its content. */
export type Stamp = [file: string, size: number, mtimeMs: number, sha1: string];

export interface BundleManifest {
  /** The modules the bundle was made from, and node_modules/.package-lock.json for the packages. */
  inputs: Stamp[];
  bundle: Stamp;
  /** V8's code cache for the bundle; without one the bundle still runs, compiled from source. */
  codeCache?: Stamp;
}

/** node:crypto is required here, not imported: loading it costs ~4 ms, and a start that hashes nothing needs none. */
export const sha1 = (content: Buffer): string => (require('node:crypto') as typeof Crypto).createHash('sha1').update(content).digest('hex');

export function stampOf(root: string, file: string): Stamp {
  const st = fs.statSync(path.join(root, file));
  return [file, st.size, st.mtimeMs, sha1(fs.readFileSync(path.join(root, file)))];
}

function unchanged(root: string, [file, size, mtimeMs, hash]: Stamp): boolean {
  try {
    const st = fs.statSync(path.join(root, file));
    if (st.size !== size) return false;
    return st.mtimeMs === mtimeMs || sha1(fs.readFileSync(path.join(root, file))) === hash;
  } catch {
    return false;
  }
}

const isStamp = (s: unknown): s is Stamp => Array.isArray(s) && s.length === 4 && typeof s[0] === 'string' && typeof s[3] === 'string';

function readManifest(dir: string): BundleManifest | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as Partial<BundleManifest>;
    const ok = isStamp(m.bundle) && Array.isArray(m.inputs) && m.inputs.every(isStamp) && (m.codeCache === undefined || isStamp(m.codeCache));
    return ok ? (m as BundleManifest) : undefined;
  } catch {
    return undefined;
  }
}

/** Why the bundle in `dir` cannot be used, or undefined when it can. `root`: the repository. */
export function bundleProblem(dir: string, root: string): string | undefined {
  const manifest = readManifest(dir);
  if (!manifest) return 'no bundle';
  const changed = [manifest.bundle, ...manifest.inputs].find((s) => !unchanged(root, s));
  return changed ? `${changed[0]} changed since the bundle was made` : undefined;
}

/** The code cache, when the manifest vouches for it (V8 itself checks little more than its length). */
function codeCache(dir: string, root: string, fill: string | undefined): Buffer | undefined {
  try {
    if (fill) return fs.existsSync(fill) ? fs.readFileSync(fill) : undefined;
    const stamp = readManifest(dir)?.codeCache;
    return stamp && unchanged(root, stamp) ? fs.readFileSync(path.join(root, stamp[0])) : undefined;
  } catch {
    return undefined;
  }
}

type ModuleFunction = (exports: object, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;

/**
 * Runs weftctl from the bundle in `dir` (dist/cli), as if node had loaded it as a module;
 * false, without running anything, when the bundle cannot be used.
 */
export function runBundle(dir: string = __dirname, root: string = path.join(__dirname, '..', '..')): boolean {
  const fill = process.env[FILL_CODE_CACHE_ENV];
  if (!fill && bundleProblem(dir, root) !== undefined) return false;
  const file = path.join(dir, BUNDLE_FILE);
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData: codeCache(dir, root, fill) });
  if (fill) process.on('exit', () => fs.writeFileSync(fill, script.createCachedData()));
  const bundleModule = new Module(file, module);
  bundleModule.filename = file;
  const run = script.runInThisContext() as ModuleFunction;
  run.call(bundleModule.exports, bundleModule.exports, Module.createRequire(file), bundleModule, file, dir);
  return true;
}
