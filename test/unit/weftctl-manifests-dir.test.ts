/** weftctl's manifest reader (cli/manifests-dir.ts): files read as UTF-8, whichever way the text is made. */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { readManifests } from '../../cli/manifests-dir';
import { tempDir } from '../helpers/tmp';

test('ASCII and UTF-8 manifests read alike: non-ASCII text comes out as written', (t) => {
  const dir = tempDir(t, 'manifests-dir');
  const pod = (name: string, note: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'x', annotations: { note } } });
  fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify(pod('ascii', 'plain text')));
  fs.writeFileSync(path.join(dir, 'b.yaml'), `apiVersion: v1\nkind: Pod\nmetadata:\n  name: utf8\n  namespace: x\n  annotations: {note: "café – 東京 ✓"}\n`);
  const { objects, warnings } = readManifests([dir], '--manifests');
  t.deepEqual(warnings, []);
  t.deepEqual(
    objects.map((o) => [o.metadata.name, o.metadata.annotations?.note]),
    [
      ['ascii', 'plain text'],
      ['utf8', 'café – 東京 ✓'],
    ],
  );
});

test('an object defined twice: a warning naming the later file, and the later definition in the store', (t) => {
  const dir = tempDir(t, 'manifests-dir');
  const pod = (ip: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', namespace: 'x' }, status: { podIP: ip } });
  fs.writeFileSync(path.join(dir, '10-first.json'), JSON.stringify(pod('10.0.0.1')));
  fs.writeFileSync(path.join(dir, '20-second.json'), JSON.stringify(pod('10.0.0.2')));
  const { objects, store, warnings } = readManifests([dir], '--manifests');
  t.is(objects.length, 2);
  t.deepEqual(warnings, [`${path.join(dir, '20-second.json')}: Pod/x/a is defined more than once; the last definition wins`]);
  t.deepEqual(store.list('Pod').map((p) => p.status?.podIP), ['10.0.0.2']);
});
