/**
 * Reads Kubernetes manifests the way `kubectl apply -f` does: YAML files with several documents
 * separated by `---`, JSON files, and `kind: List` wrappers. Pure: text in, objects and the
 * reasons for anything skipped out.
 */
import type * as JsYaml from 'js-yaml';
import type * as Yaml from 'yaml';
import { validateObject, WATCHED_KINDS, type KubeObject, type ObjectKind } from '../objects';

export const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface ParsedManifests {
  objects: KubeObject[];
  skipped: { where: string; reason: string }[];
}

const placeOf = (where: string, item: number | undefined): string => (item === undefined ? where : `${where} item ${item}`);

/**
 * The objects of a document, a List's items one by one. `item`: the document is item `item` of
 * the List at `where`; the words for where it is are only made for one that is skipped (a List
 * of thousands would otherwise make thousands of them).
 */
function flatten(doc: unknown, where: string, out: ParsedManifests, kinds: readonly ObjectKind[], item?: number): void {
  if (doc === null || doc === undefined) return; // an empty document
  const record = doc as { kind?: unknown; items?: unknown };
  if (typeof doc === 'object' && typeof record.kind === 'string' && record.kind.endsWith('List') && Array.isArray(record.items)) {
    const items = record.items as unknown[];
    const list = placeOf(where, item);
    for (let i = 0; i < items.length; i++) flatten(items[i], list, out, kinds, i);
    return;
  }
  const checked = validateObject(doc, 'default', kinds);
  if (checked.ok) out.objects.push(checked.object);
  else out.skipped.push({ where: placeOf(where, item), reason: checked.reason });
}

/** `kinds`: what is read (the watched kinds unless said otherwise); other kinds are skipped. */
export function parseManifests(text: string, file: string, kinds: readonly ObjectKind[] = WATCHED_KINDS): ParsedManifests {
  const out: ParsedManifests = { objects: [], skipped: [] };
  if (file.endsWith('.json')) {
    try {
      flatten(JSON.parse(text), file, out, kinds);
    } catch (err) {
      out.skipped.push({ where: file, reason: `invalid JSON: ${(err as Error).message}` });
    }
    return out;
  }
  const fast = readYamlFast(text, file);
  if (fast) {
    fast.forEach((doc, i) => flatten(doc, `${file} document ${i + 1}`, out, kinds));
    return out;
  }
  // Required here: loading the YAML parser costs milliseconds that a read of JSON files need not pay.
  const { parseAllDocuments } = require('yaml') as typeof Yaml;
  parseAllDocuments(text).forEach((doc, i) => {
    const where = `${file} document ${i + 1}`;
    if (doc.errors.length > 0) out.skipped.push({ where, reason: `invalid YAML: ${doc.errors[0].message}` });
    else flatten(doc.toJS(), where, out, kinds);
  });
  return out;
}

/**
 * The documents of a YAML text read by js-yaml, or undefined when it finds an error. js-yaml
 * reads a large file about 8 times faster than yaml (5,000 Pods: 0.24 s against 2 s) but stops at
 * the first error; yaml reads every document and says which one is broken, so a text with an
 * error is read again by yaml. Both read YAML 1.2's core schema (timestamps stay strings).
 */
function readYamlFast(text: string, file: string): unknown[] | undefined {
  const { loadAll, CORE_SCHEMA } = require('js-yaml') as typeof JsYaml;
  try {
    return loadAll(text, null, { schema: CORE_SCHEMA, filename: file });
  } catch {
    return undefined;
  }
}
