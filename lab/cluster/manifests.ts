/**
 * The lab's "API server storage": its manifests directory, which every node's agent watches.
 * One file per object (`<kind>_<namespace>_<name>.json`; `_` never occurs in Kubernetes names),
 * written atomically, so an update or a delete is a single rename or unlink the agents see whole.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseManifests } from '../../agent/sources/manifest-files';
import type { KubeObject } from '../../agent/objects';
import { objectKey } from '../../agent/objects';
import { writeFileAtomic } from './files';

export function manifestFile(dir: string, obj: Pick<KubeObject, 'kind' | 'metadata'>): string {
  const parts = [obj.kind.toLowerCase(), ...(obj.metadata.namespace ? [obj.metadata.namespace] : []), obj.metadata.name];
  return path.join(dir, `${parts.join('_')}.json`);
}

export function writeObject(dir: string, obj: KubeObject): void {
  writeFileAtomic(manifestFile(dir, obj), `${JSON.stringify(obj, null, 2)}\n`);
}

export function deleteObject(dir: string, obj: Pick<KubeObject, 'kind' | 'metadata'>): void {
  fs.rmSync(manifestFile(dir, obj), { force: true });
}

/** Every object in the directory, by key (what the agents see). */
export function readObjects(dir: string): Map<string, KubeObject> {
  const out = new Map<string, KubeObject>();
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort();
  } catch {
    return out;
  }
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, file), 'utf8');
    } catch {
      continue;
    }
    for (const obj of parseManifests(text, file).objects) out.set(objectKey(obj), obj);
  }
  return out;
}
