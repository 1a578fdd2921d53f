/** Temporary directories for tests: created under $TMPDIR, removed when the test ends. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Creates weft-t-<label>-XXXXXX and registers its removal with the test's teardown. */
export function tempDir(t: { teardown(fn: () => void): void }, label = 'tmp'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `weft-t-${label}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
