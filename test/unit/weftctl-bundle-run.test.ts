/**
 * When weftctl runs from its bundle (cli/bundle-run.ts): only while every file it was made from
 * is as it was then. A rewritten module (tsc ran since) or reinstalled packages mean the modules
 * run instead, so that a change never hides behind an old bundle.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { bundleProblem, MANIFEST_FILE, PARTS, partBundleFile, stampOf, type BundleManifest } from '../../cli/bundle-run';
import { tempDir } from '../helpers/tmp';

function setup(t: { teardown(fn: () => void): void }) {
  const root = tempDir(t, 'bundle-run');
  const dir = path.join(root, 'dist', 'cli');
  fs.mkdirSync(dir, { recursive: true });
  const parts = PARTS.map((part) => `dist/cli/${partBundleFile(part)}`);
  for (const f of ['dist/cli/main.js', 'dist/policy/model.js', 'node_modules/.package-lock.json', 'dist/cli/weftctl.bundle.js', ...parts]) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), `// ${f}\n`);
  }
  const manifest: BundleManifest = {
    inputs: ['dist/cli/main.js', 'dist/policy/model.js', 'node_modules/.package-lock.json'].map((f) => stampOf(root, f)),
    bundle: stampOf(root, 'dist/cli/weftctl.bundle.js'),
    parts: Object.fromEntries(PARTS.map((part, i) => [part, { bundle: stampOf(root, parts[i]) }])),
  };
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest));
  return { root, dir };
}

test('usable while its inputs and the bundle are as they were', (t) => {
  const { root, dir } = setup(t);
  t.is(bundleProblem(dir, root), undefined);
});

test('a module written again with the same content (tsc ran, nothing changed) keeps it usable', (t) => {
  const { root, dir } = setup(t);
  const file = path.join(root, 'dist/policy/model.js');
  fs.writeFileSync(file, fs.readFileSync(file));
  const later = new Date(fs.statSync(file).mtimeMs + 1000);
  fs.utimesSync(file, later, later);
  t.is(bundleProblem(dir, root), undefined);
});

test('a changed module, a missing one, reinstalled packages or another bundle make it unusable', (t) => {
  const { root, dir } = setup(t);
  // Same size, new content, a new time (set: the kernel's clock may not have ticked since).
  const file = path.join(root, 'dist/policy/model.js');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('//', '/*').replace(/\n$/, '*/'));
  const later = new Date(fs.statSync(file).mtimeMs + 1000);
  fs.utimesSync(file, later, later);
  t.is(bundleProblem(dir, root), 'dist/policy/model.js changed since the bundle was made');

  const other = setup(t);
  fs.appendFileSync(path.join(other.root, 'dist/cli/main.js'), 'x');
  t.is(bundleProblem(other.dir, other.root), 'dist/cli/main.js changed since the bundle was made');

  const gone = setup(t);
  fs.rmSync(path.join(gone.root, 'dist/policy/model.js'));
  t.is(bundleProblem(gone.dir, gone.root), 'dist/policy/model.js changed since the bundle was made');

  const third = setup(t);
  fs.writeFileSync(path.join(third.root, 'node_modules/.package-lock.json'), '{"reinstalled": true}');
  t.is(bundleProblem(third.dir, third.root), 'node_modules/.package-lock.json changed since the bundle was made');

  const fourth = setup(t);
  fs.writeFileSync(path.join(fourth.root, 'dist/cli/weftctl.bundle.js'), '// another bundle, of another size\n');
  t.is(bundleProblem(fourth.dir, fourth.root), 'dist/cli/weftctl.bundle.js changed since the bundle was made');

  // A part's bundle changed, or a manifest that has no part (made before parts were).
  const fifth = setup(t);
  fs.appendFileSync(path.join(fifth.root, 'dist/cli', partBundleFile('agent-link')), 'x');
  t.is(bundleProblem(fifth.dir, fifth.root), `dist/cli/${partBundleFile('agent-link')} changed since the bundle was made`);
  const sixth = setup(t);
  const manifestFile = path.join(sixth.dir, MANIFEST_FILE);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as BundleManifest;
  delete manifest.parts;
  fs.writeFileSync(manifestFile, JSON.stringify(manifest));
  t.is(bundleProblem(sixth.dir, sixth.root), 'no agent-link part');
});

test('no manifest, or one that is not JSON or not a manifest: no bundle', (t) => {
  const { root, dir } = setup(t);
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), '{"inputs": [');
  t.is(bundleProblem(dir, root), 'no bundle');
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), '{"inputs": [["dist/cli/main.js"]]}');
  t.is(bundleProblem(dir, root), 'no bundle');
  fs.rmSync(path.join(dir, MANIFEST_FILE));
  t.is(bundleProblem(dir, root), 'no bundle');
});
