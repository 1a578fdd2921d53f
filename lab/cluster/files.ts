/**
 * Small file helpers for the lab: atomic writes (the agents watch the manifests directory and
 * must never read half a file) and tolerant reads.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes via a hidden temporary file in the same directory and rename(2), so readers see the old
 * or the new content, never a mix. The manifests source ignores dot-files, so the temporary file
 * is never picked up as a manifest.
 */
export function writeFileAtomic(file: string, content: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  try {
    fs.writeFileSync(tmp, content, { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** The last `bytes` of a file (an agent's log for an error message), or '' when it is missing. */
export function tailOf(file: string, bytes = 2000): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const start = Math.max(0, size - bytes);
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      return buf.toString('utf8').trimEnd();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}
