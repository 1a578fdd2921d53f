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
 *
 * Parts: modules bundled on their own, each with its own code cache, and run only when the
 * bundle first requires them (requirePart). V8 reads a whole code cache before the first line
 * runs, and talking to an agent (grpc-js) was half of it: 2.4 ms of every offline question.
 */
import type * as Crypto from 'node:crypto';
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

export const BUNDLE_FILE = 'weftctl.bundle.js';
export const CODE_CACHE_FILE = 'weftctl.bundle.cache';
export const MANIFEST_FILE = 'weftctl.bundle.json';
/** The parts, by the module (in dist/cli) each is made from: agent-link.ts, what talks to an agent. */
export const PARTS = ['agent-link'] as const;
export type PartName = (typeof PARTS)[number];
export const partBundleFile = (part: PartName): string => `weftctl.${part}.bundle.js`;
export const partCodeCacheFile = (part: PartName): string => `weftctl.${part}.bundle.cache`;
/**
 * For the build only: run from the bundle just made (no manifest yet) with the code cache in this
 * file (when there), and write the cache, with what this run compiled added, to it at exit; a
 * part's cache likewise, in this file's name followed by "." and the part's.
 */
export const FILL_CODE_CACHE_ENV = 'WEFT_BUNDLE_FILL_CODE_CACHE';

/** A file as it was when the bundle was made: path from the repository root, size, mtimeMs, SHA-1 of its content. */
export type Stamp = [file: string, size: number, mtimeMs: number, sha1: string];

export interface BundleFiles {
  bundle: Stamp;
  /** V8's code cache for the bundle; without one the bundle still runs, compiled from source. */
  codeCache?: Stamp;
}

export interface BundleManifest extends BundleFiles {
  /** The modules the bundle and its parts were made from, and node_modules/.package-lock.json for the packages. */
  inputs: Stamp[];
  /** Every part (PARTS), when the bundle has parts. */
  parts?: Partial<Record<PartName, BundleFiles>>;
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
    const files = (f: Partial<BundleFiles> | undefined) => isStamp(f?.bundle) && (f.codeCache === undefined || isStamp(f.codeCache));
    const parts = m.parts === undefined || Object.values(m.parts).every(files);
    const ok = files(m) && Array.isArray(m.inputs) && m.inputs.every(isStamp) && parts;
    return ok ? (m as BundleManifest) : undefined;
  } catch {
    return undefined;
  }
}

/** Why the bundle in `dir` cannot be used, or undefined when it can. `root`: the repository. */
export function bundleProblem(dir: string, root: string): string | undefined {
  return problemOf(readManifest(dir), root);
}

function problemOf(manifest: BundleManifest | undefined, root: string): string | undefined {
  if (!manifest) return 'no bundle';
  const missing = PARTS.find((part) => !manifest.parts?.[part]);
  if (missing) return `no ${missing} part`;
  const parts = PARTS.map((part) => manifest.parts![part]!.bundle);
  const changed = [manifest.bundle, ...parts, ...manifest.inputs].find((s) => !unchanged(root, s));
  return changed ? `${changed[0]} changed since the bundle was made` : undefined;
}

/** The code cache, when the manifest vouches for it (V8 itself checks little more than its length). */
function codeCache(root: string, stamp: Stamp | undefined, fill: string | undefined): Buffer | undefined {
  try {
    if (fill) return fs.existsSync(fill) ? fs.readFileSync(fill) : undefined;
    return stamp && unchanged(root, stamp) ? fs.readFileSync(path.join(root, stamp[0])) : undefined;
  } catch {
    return undefined;
  }
}

type ModuleFunction = (exports: object, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;

/** Runs `file` as node would load it as a module, compiled with the code cache; its exports. */
function runScript(file: string, source: string, cache: Buffer | undefined, fill: string | undefined): unknown {
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData: cache });
  if (fill) process.on('exit', () => fs.writeFileSync(fill, script.createCachedData()));
  const scriptModule = new Module(file, module);
  scriptModule.filename = file;
  const run = script.runInThisContext() as ModuleFunction;
  run.call(scriptModule.exports, scriptModule.exports, Module.createRequire(file), scriptModule, file, path.dirname(file));
  return scriptModule.exports;
}

/** Where the running bundle is, for its parts: set by runBundle. */
let running: { dir: string; root: string; fill?: string; manifest?: BundleManifest } | undefined;
const partsLoaded = new Map<PartName, unknown>();

/**
 * Runs weftctl from the bundle in `dir` (dist/cli), as if node had loaded it as a module;
 * false, without running anything, when the bundle cannot be used.
 */
export function runBundle(dir: string = __dirname, root: string = path.join(__dirname, '..', '..')): boolean {
  const fill = process.env[FILL_CODE_CACHE_ENV];
  const manifest = fill ? undefined : readManifest(dir);
  if (!fill && problemOf(manifest, root) !== undefined) return false;
  const file = path.join(dir, BUNDLE_FILE);
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  running = { dir, root, fill, manifest };
  runScript(file, source, codeCache(root, manifest?.codeCache, fill), fill);
  return true;
}

/**
 * A part's exports, run from its bundle beside the running one (the first require runs it);
 * the bundle requires a part through this (bundle-build.ts puts the call in the module's place).
 */
export function requirePart(part: PartName): unknown {
  if (!running) throw new Error(`weftctl's ${part} part is required outside its bundle`);
  if (!partsLoaded.has(part)) {
    const { dir, root, fill, manifest } = running;
    const file = path.join(dir, partBundleFile(part));
    const partFill = fill && `${fill}.${part}`;
    partsLoaded.set(part, runScript(file, fs.readFileSync(file, 'utf8'), codeCache(root, manifest?.parts?.[part]?.codeCache, partFill), partFill));
  }
  return partsLoaded.get(part);
}
