/** The manifests directory source, watching a real directory (no network namespace involved). */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { objectKey } from '../../agent/objects';
import { ManifestsSource } from '../../agent/sources/manifests';
import type { SourceEvent } from '../../agent/sources/source';
import { tempDir } from '../helpers/tmp';

function pod(name: string, labels: Record<string, string>): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop', labels } });
}

/** Collects events and lets a test wait for the next ones. */
function recorder() {
  const events: SourceEvent[] = [];
  let wake: () => void = () => undefined;
  return {
    events,
    onEvent: (e: SourceEvent) => {
      events.push(e);
      wake();
    },
    /** Resolves once `n` events have arrived, or rejects after `ms`. */
    waitFor(n: number, ms = 2000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${events.length} of ${n} events: ${JSON.stringify(events)}`)), ms);
        wake = () => {
          if (events.length >= n) {
            clearTimeout(timer);
            resolve();
          }
        };
        wake();
      });
    },
  };
}

const describe = (e: SourceEvent) =>
  e.type === 'SYNCED'
    ? 'SYNCED'
    : e.type === 'SKIPPED'
      ? `SKIPPED ${e.where}`
      : e.type === 'WATCH_RESTARTED' || e.type === 'KIND_SERVED'
        ? `${e.type} ${e.kind}`
        : `${e.type} ${objectKey(e.object)}`;

test('initial state, then file changes within a second: add, modify, delete; bad objects skipped', async (t) => {
  const dir = tempDir(t, 'manifests');
  fs.writeFileSync(path.join(dir, 'a.json'), pod('a', { app: 'web' }));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a manifest');
  const source = new ManifestsSource({ dir });
  const rec = recorder();
  await source.start(rec.onEvent);
  t.teardown(() => source.stop());
  t.deepEqual(rec.events.map(describe), ['ADDED Pod/shop/a', 'SYNCED']);

  fs.writeFileSync(path.join(dir, 'b.yaml'), `${pod('b', { app: 'db' })}\n---\n{"kind": "Pod", "metadata": {"name": "broken"}}\n`);
  await rec.waitFor(4, 1000);
  t.deepEqual(rec.events.slice(2).map(describe), ['SKIPPED b.yaml document 2', 'ADDED Pod/shop/b']);

  // Rewriting a file with the same objects changes nothing; a relabel is one MODIFIED.
  fs.writeFileSync(path.join(dir, 'a.json'), pod('a', { app: 'web' }));
  fs.writeFileSync(path.join(dir, 'b.yaml'), pod('b', { app: 'cache' }));
  await rec.waitFor(5, 1000);
  t.deepEqual(rec.events.slice(4).map(describe), ['MODIFIED Pod/shop/b']);

  fs.rmSync(path.join(dir, 'a.json'));
  await rec.waitFor(6, 1000);
  t.deepEqual(rec.events.slice(5).map(describe), ['DELETED Pod/shop/a']);
});

test('a file that stays bad is reported once; a file renamed into place and an in-place rewrite are both seen', async (t) => {
  const dir = tempDir(t, 'manifests');
  fs.writeFileSync(path.join(dir, 'bad.yaml'), 'kind: Pod\nmetadata: {name: x}\n');
  const source = new ManifestsSource({ dir });
  const rec = recorder();
  await source.start(rec.onEvent);
  t.teardown(() => source.stop());
  t.deepEqual(rec.events.map(describe), ['SKIPPED bad.yaml document 1', 'SYNCED']);

  // Other files change (rescans happen); the bad file is not reported again.
  fs.writeFileSync(path.join(dir, '.c.json.tmp'), pod('c', { app: 'x' }));
  fs.renameSync(path.join(dir, '.c.json.tmp'), path.join(dir, 'c.json'));
  await rec.waitFor(3, 1000);
  fs.writeFileSync(path.join(dir, 'c.json'), pod('c', { app: 'y' }));
  await rec.waitFor(4, 1000);
  t.deepEqual(rec.events.slice(2).map(describe), ['ADDED Pod/shop/c', 'MODIFIED Pod/shop/c']);

  // Fixed, then broken again: reported again.
  fs.writeFileSync(path.join(dir, 'bad.yaml'), pod('d', {}));
  await rec.waitFor(5, 1000);
  fs.writeFileSync(path.join(dir, 'bad.yaml'), 'kind: Pod\nmetadata: {name: x}\n');
  await rec.waitFor(7, 1000);
  t.deepEqual(rec.events.slice(4).map(describe), ['ADDED Pod/shop/d', 'SKIPPED bad.yaml document 1', 'DELETED Pod/shop/d']);
});

test('ClusterNetworkPolicy documents are read (cluster-scoped: a namespace given is dropped), changed and deleted like any object', async (t) => {
  const dir = tempDir(t, 'manifests');
  const cnp = (priority: number) =>
    `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard, namespace: ignored}
spec:
  tier: Admin
  priority: ${priority}
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {team: z}}}]}]
`;
  fs.writeFileSync(path.join(dir, 'guard.yaml'), cnp(10));
  const source = new ManifestsSource({ dir });
  const rec = recorder();
  await source.start(rec.onEvent);
  t.teardown(() => source.stop());
  t.deepEqual(rec.events.map(describe), ['ADDED ClusterNetworkPolicy/guard', 'SYNCED']);
  const added = rec.events[0];
  t.deepEqual(added.type === 'ADDED' ? [added.object.metadata.namespace, added.object.spec?.priority] : undefined, [undefined, 10]);

  fs.writeFileSync(path.join(dir, 'guard.yaml'), cnp(20));
  await rec.waitFor(3, 10_000);
  fs.rmSync(path.join(dir, 'guard.yaml'));
  await rec.waitFor(4, 10_000);
  t.deepEqual(rec.events.slice(2).map(describe), ['MODIFIED ClusterNetworkPolicy/guard', 'DELETED ClusterNetworkPolicy/guard']);
});
