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
