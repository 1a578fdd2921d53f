/**
 * A directory of manifests as an object source (the agent's default when there is no cluster,
 * and what the lab writes to): every .yaml/.yml/.json file in it, like `kubectl apply -f DIR`.
 * Changes are picked up through fs.watch, debounced, by reading the directory again and diffing
 * against what was delivered: files may be rewritten in place or renamed into place, and either
 * way only real object changes become events. Only files that fs.watch named, or whose inode,
 * size or mtime changed, are parsed again, so one changed file among thousands of objects costs
 * one file's parse.
 */
import fs from 'node:fs';
import path from 'node:path';
import { objectKey, type KubeObject } from '../objects';
import { MANIFEST_EXTENSIONS, parseManifests } from './manifest-files';
import type { ObjectSource, SourceEvent } from './source';

/** Bursts of writes (an editor, `cp -r`) settle into one rescan. */
const DEBOUNCE_MS = 50;

export interface ManifestsSourceOptions {
  dir: string;
}

export class ManifestsSource implements ObjectSource {
  readonly description: string;
  private readonly dir: string;
  private delivered = new Map<string, { key: string; object: KubeObject; text: string }>();
  /** Problems reported by the last rescan: a file that stays bad is reported once, not per rescan. */
  private reported = new Set<string>();
  /** Each file's parse, with the stat it was read at. */
  private files = new Map<string, { stamp: string; parsed: ParsedFile }>();
  /** Files fs.watch named since the last rescan; all of them when it named none. */
  private dirty = new Set<string>();
  private allDirty = false;
  private watcher?: fs.FSWatcher;
  private timer?: NodeJS.Timeout;
  private onEvent: (event: SourceEvent) => void = () => undefined;

  constructor(options: ManifestsSourceOptions) {
    this.dir = path.resolve(options.dir);
    this.description = `manifests ${this.dir}`;
  }

  async start(onEvent: (event: SourceEvent) => void): Promise<void> {
    this.onEvent = onEvent;
    fs.mkdirSync(this.dir, { recursive: true });
    this.watcher = fs.watch(this.dir, (_event, filename) => this.schedule(filename ?? undefined));
    this.watcher.on('error', (err) => onEvent({ type: 'SKIPPED', where: this.dir, reason: `watch failed: ${err.message}` }));
    this.rescan();
    onEvent({ type: 'SYNCED' });
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private schedule(filename?: string): void {
    if (filename === undefined) this.allDirty = true;
    else this.dirty.add(filename);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.rescan(), DEBOUNCE_MS);
  }

  /** Reads every manifest file, then emits the difference to what was delivered before. */
  private rescan(): void {
    const current = new Map<string, { key: string; object: KubeObject; text: string }>();
    const problems = new Set<string>();
    const skip = (where: string, reason: string) => {
      const key = `${where}\0${reason}`;
      problems.add(key);
      if (!this.reported.has(key)) this.onEvent({ type: 'SKIPPED', where, reason });
    };
    let files: string[] = [];
    try {
      files = fs.readdirSync(this.dir).filter((f) => MANIFEST_EXTENSIONS.some((ext) => f.endsWith(ext)) && !f.startsWith('.')).sort();
    } catch (err) {
      this.onEvent({ type: 'SKIPPED', where: this.dir, reason: `cannot read: ${(err as Error).message}` });
      return;
    }
    const seen = new Map<string, { stamp: string; parsed: ParsedFile }>();
    for (const file of files) {
      const entry = this.readFile(file);
      if (!entry) continue; // removed between readdir and read: the next rescan sees it gone
      seen.set(file, entry);
      for (const skipped of entry.parsed.skipped) skip(skipped.where, skipped.reason);
      for (const parsed of entry.parsed.objects) {
        if (current.has(parsed.key)) skip(file, `${parsed.key} is defined more than once; the last definition wins`);
        current.set(parsed.key, parsed);
      }
    }
    this.files = seen;
    this.dirty.clear();
    this.allDirty = false;
    for (const [key, { object, text }] of current) {
      const before = this.delivered.get(key);
      if (!before) this.onEvent({ type: 'ADDED', object });
      else if (before.text !== text) this.onEvent({ type: 'MODIFIED', object });
    }
    for (const [key, { object }] of this.delivered) if (!current.has(key)) this.onEvent({ type: 'DELETED', object });
    this.delivered = current;
    this.reported = problems;
  }

  /** A file's objects: parsed again only when named by fs.watch or changed on disk. */
  private readFile(file: string): { stamp: string; parsed: ParsedFile } | undefined {
    const full = path.join(this.dir, file);
    let stamp: string;
    try {
      const st = fs.statSync(full, { bigint: true });
      stamp = `${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch {
      return undefined;
    }
    const cached = this.files.get(file);
    if (cached && cached.stamp === stamp && !this.allDirty && !this.dirty.has(file)) return cached;
    let text: string;
    try {
      text = fs.readFileSync(full, 'utf8');
    } catch {
      return undefined;
    }
    const { objects, skipped } = parseManifests(text, file);
    return { stamp, parsed: { skipped, objects: objects.map((object) => ({ key: objectKey(object), object, text: JSON.stringify(object) })) } };
  }
}

interface ParsedFile {
  objects: { key: string; object: KubeObject; text: string }[];
  skipped: { where: string; reason: string }[];
}
