/**
 * Manifests read from disk for offline questions, the way the agent's manifests source reads
 * its directory (every .yaml/.yml/.json file, not hidden, in name order, later definitions of
 * an object replacing earlier ones), but strict: a missing directory or a file that is not
 * valid YAML/JSON is an error naming it, since an answer from half the objects would mislead.
 */
import { isAscii } from 'node:buffer';
import fs from 'node:fs';
import path from 'node:path';
import { objectKey, POLICY_QUESTION_KINDS, type KubeObject } from '../agent/objects';
import { MANIFEST_EXTENSIONS, parseManifests } from '../agent/sources/manifest-files';
import { ObjectStore } from '../policy/explain/object-store';

export interface ReadManifests {
  /** As read, an object defined twice twice. */
  objects: KubeObject[];
  /** The same, the later definition of an object in the place of the first: what a model reads. */
  store: ObjectStore;
  /** Objects left out, for a warning: kinds weft does not read, invalid envelopes. */
  warnings: string[];
}

/** validateObject's words for a kind the agent does not watch (see agent/objects.ts). */
const UNWATCHED_KIND = /^kind "([^"]*)" is not one weft watches/;

function filesOf(where: string, what: string): string[] {
  if (where === '-') return [where];
  let st: fs.Stats;
  try {
    st = fs.statSync(where);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${what} ${where}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  if (!st.isDirectory()) return [where];
  return fs
    .readdirSync(where)
    .filter((f) => MANIFEST_EXTENSIONS.some((ext) => f.endsWith(ext)) && !f.startsWith('.'))
    .sort()
    .map((f) => path.join(where, f));
}

/** UTF-8 text; ASCII (nearly every manifest) made a string without decoding it: 2 MB of Pods read in 3 ms, not 6. */
function textOf(bytes: Buffer): string {
  return bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
}

/** Reads files, directories and "-" (stdin, YAML); `what` names the option in errors ("--manifests"). */
export function readManifests(paths: readonly string[], what: string): ReadManifests {
  const objects: KubeObject[] = [];
  const warnings: string[] = [];
  const unwatched = new Map<string, number>();
  const store = new ObjectStore();
  for (const where of paths) {
    for (const file of filesOf(where, what)) {
      let text: string;
      try {
        text = textOf(fs.readFileSync(file === '-' ? 0 : file));
      } catch (err) {
        throw new Error(`${file}: ${(err as Error).message}`);
      }
      const parsed = parseManifests(text, file === '-' ? '<stdin>' : file, POLICY_QUESTION_KINDS);
      for (const s of parsed.skipped) {
        // The YAML parser's message goes on with a picture of the spot: its first line is enough.
        if (s.reason.startsWith('invalid YAML') || s.reason.startsWith('invalid JSON')) throw new Error(`${s.where}: ${s.reason.split('\n')[0].replace(/:$/, '')}`);
        const kind = UNWATCHED_KIND.exec(s.reason)?.[1];
        if (kind !== undefined) unwatched.set(kind, (unwatched.get(kind) ?? 0) + 1);
        else warnings.push(`${s.where}: ${s.reason}; left out`);
      }
      for (const object of parsed.objects) {
        if (!store.add(object)) warnings.push(`${file}: ${objectKey(object)} is defined more than once; the last definition wins`);
        objects.push(object);
      }
    }
  }
  if (unwatched.size > 0) {
    const kinds = [...unwatched].map(([kind, n]) => `${n} ${kind || '(no kind)'}`).join(', ');
    warnings.push(`left out objects of kinds policy questions do not read: ${kinds} (their pods are not simulated: list the Pods)`);
  }
  return { objects, warnings, store };
}
