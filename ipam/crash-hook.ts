/**
 * Test-only fault injection, and the only place weft-ipam reads the environment:
 * WEFT_IPAM_TEST_DIE_AFTER=<point> makes the process SIGKILL itself at that point, so that tests
 * can prove a plugin killed in the middle of an ADD leaves at worst an allocation GC removes
 * (and never a held lock: the kernel drops a dead process's flock).
 *
 * Points:
 * - `reserve`: an ADD has just written an address file, with the store's lock held.
 */
export type CrashPoint = 'reserve';

export const CRASH_ENV = 'WEFT_IPAM_TEST_DIE_AFTER';

export function crashPoint(point: CrashPoint): void {
  if (process.env[CRASH_ENV] === point) process.kill(process.pid, 'SIGKILL');
}
