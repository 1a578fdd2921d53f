/**
 * Serialises weftctl invocations on one lab: an flock(2) on `<root>/.<lab>.lock`, which the
 * kernel drops when its holder dies (a weftctl killed in the middle leaves no stale lock).
 *
 * `lab down` removes the lock file while holding it. A waiter may by then have opened the old
 * file, and would lock an unlinked inode while a third invocation creates and locks a new one;
 * so after taking the lock, a holder checks that the path still names the file it locked, and
 * starts over if not.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tryLockExclusive, unlock } from '../../kernel/flock';

export interface LabLock {
  /** Removes the lock file (lab down), then releases the lock. */
  release(options?: { removeFile?: boolean }): void;
}

const POLL_MS = 50;

function sameFile(fd: number, file: string): boolean {
  try {
    const a = fs.fstatSync(fd);
    const b = fs.statSync(file);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

export async function acquireLabLock(file: string, lab: string, timeoutMs = 120_000): Promise<LabLock> {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    if (tryLockExclusive(fd)) {
      if (sameFile(fd, file)) {
        let released = false;
        return {
          release(options = {}) {
            if (released) return;
            released = true;
            if (options.removeFile) fs.rmSync(file, { force: true });
            unlock(fd);
            fs.closeSync(fd);
          },
        };
      }
      unlock(fd);
      fs.closeSync(fd);
      continue; // the file was removed by the previous holder: lock the new one
    }
    fs.closeSync(fd);
    if (Date.now() > deadline) throw new Error(`lab ${lab} is busy: another weftctl holds ${file}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Runs `fn` holding the lab's lock. */
export async function withLabLock<T>(file: string, lab: string, fn: (lock: LabLock) => Promise<T>): Promise<T> {
  const lock = await acquireLabLock(file, lab);
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}
