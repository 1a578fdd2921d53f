/**
 * Advisory file locks (flock(2)), which Node.js does not expose. The kernel drops a flock when
 * its holder dies, which is why the IPAM store uses it rather than a lock file's existence.
 */
import { native } from './native';

/** Tries to take an exclusive lock on fd; false when another open file description holds it. */
export function tryLockExclusive(fd: number): boolean {
  return native().flock(fd, true, true);
}

export function unlock(fd: number): void {
  native().funlock(fd);
}
