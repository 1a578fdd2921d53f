/**
 * The on-disk store, byte-compatible with host-local's disk backend so that both plugins can
 * share (and take over) one data directory:
 *
 *   <dataDir>/<network>/<address>             "<containerID>\r\n<ifname>" (no trailing newline;
 *                                              very old host-local wrote the container ID only)
 *   <dataDir>/<network>/last_reserved_ip.<i>  the address last reserved from range set i
 *   <dataDir>/<network>/lock                  empty; flock(LOCK_EX) around every change
 *
 * The lock is the same flock host-local's go-filemutex takes, so weft and host-local exclude
 * each other. The kernel drops it when the holder dies, so a killed plugin never wedges the
 * store. All work under the lock is synchronous: two callers in one process can then never
 * interleave (a second flock on a new descriptor from the same process would deadlock).
 */
import fs from 'node:fs';
import path from 'node:path';
import { tryLockExclusive, unlock } from '../kernel/flock';
import { type Address, formatAddress, parseAddress } from './address';
import { ioError, tryAgainError } from './errors';

export const LOCK_FILE = 'lock';
export const LAST_RESERVED_PREFIX = 'last_reserved_ip.';
/** host-local's separator between container ID and interface name. */
const LINE_BREAK = '\r\n';

/** Who holds an address. ifName is undefined in files written by very old host-local. */
export interface Owner {
  readonly containerId: string;
  readonly ifName?: string;
}

export interface StoredAllocation {
  readonly address: Address;
  readonly owner: Owner;
  /** The file's name in the store (as found, in case another writer spelled it differently). */
  readonly file: string;
}

/** What may be done with the store while its lock is held. */
export interface LockedStore {
  /** Every address file in the store, whatever range it belongs to. */
  allocations(): StoredAllocation[];
  /** Creates the address file exclusively; false when the address is already taken. */
  reserve(address: Address, containerId: string, ifName: string, rangeSetIndex: number): boolean;
  /** Removes an address file (by its name in the store); a missing file is not an error. */
  release(file: string): void;
  /** The address recorded in last_reserved_ip.<index>, if readable. */
  lastReserved(rangeSetIndex: number): Address | undefined;
}

export interface LockOptions {
  /** How long to wait for a busy lock before failing with code 11. */
  lockTimeoutMs?: number;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

export function ownerFileContent(containerId: string, ifName: string): string {
  return `${containerId.trim()}${LINE_BREAK}${ifName}`;
}

/** Parses an address file; surrounding whitespace is ignored, as host-local ignores it. */
export function parseOwner(content: string): Owner {
  const text = content.trim();
  const split = text.indexOf(LINE_BREAK);
  if (split < 0) return { containerId: text };
  return { containerId: text.slice(0, split), ifName: text.slice(split + LINE_BREAK.length) };
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

export class Store {
  private constructor(readonly dir: string) {}

  /**
   * The store of one network. With `create` the directory is made when missing (ADD, STATUS);
   * without it a missing directory means an empty store and undefined is returned (DEL, GC,
   * CHECK need not create anything).
   */
  static open(dataDir: string, network: string, create: true): Store;
  static open(dataDir: string, network: string, create: false): Store | undefined;
  static open(dataDir: string, network: string, create: boolean): Store | undefined {
    const dir = path.join(dataDir, network);
    try {
      if (create) fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      else if (!fs.existsSync(dir)) return undefined;
    } catch (err) {
      throw ioError(`cannot create IPAM store ${dir}`, err);
    }
    return new Store(dir);
  }

  /** Throws unless the store's directory can be written and its lock file opened. */
  probeWritable(): void {
    fs.accessSync(this.dir, fs.constants.W_OK);
    fs.closeSync(fs.openSync(path.join(this.dir, LOCK_FILE), fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600));
  }

  /** Runs `work` holding the store's lock. `work` must be synchronous (see the module comment). */
  withLock<T>(work: (store: LockedStore) => T, options: LockOptions = {}): T {
    const fd = this.acquire(options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    try {
      return work(this.lockedView());
    } finally {
      try {
        unlock(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  /**
   * Polls with a non-blocking flock instead of blocking in the kernel, so that a lock holder
   * that hangs turns into a "try again later" error rather than a plugin that never returns.
   */
  private acquire(timeoutMs: number): number {
    const lockPath = path.join(this.dir, LOCK_FILE);
    let fd: number;
    try {
      fd = fs.openSync(lockPath, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600);
    } catch (err) {
      throw ioError(`cannot open lock ${lockPath}`, err);
    }
    const deadline = Date.now() + timeoutMs;
    let pauseMs = 1;
    try {
      while (!tryLockExclusive(fd)) {
        if (Date.now() >= deadline) throw tryAgainError(`IPAM store ${this.dir} stayed locked for ${timeoutMs} ms`);
        sleepSync(pauseMs);
        pauseMs = Math.min(pauseMs * 2, 16);
      }
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return fd;
  }

  private lockedView(): LockedStore {
    const dir = this.dir;
    const lastReservedFile = (index: number) => path.join(dir, `${LAST_RESERVED_PREFIX}${index}`);
    return {
      allocations() {
        let names: string[];
        try {
          names = fs.readdirSync(dir);
        } catch (err) {
          throw ioError(`cannot read IPAM store ${dir}`, err);
        }
        const found: StoredAllocation[] = [];
        for (const file of names) {
          const address = parseAddress(file);
          if (!address) continue; // lock, last_reserved_ip.*, anything else
          try {
            found.push({ address, owner: parseOwner(fs.readFileSync(path.join(dir, file), 'utf8')), file });
          } catch {
            // Unreadable (e.g. a directory of that name): not an allocation; host-local skips it too.
          }
        }
        return found;
      },

      reserve(address, containerId, ifName, rangeSetIndex) {
        const file = path.join(dir, formatAddress(address));
        let fd: number;
        try {
          fd = fs.openSync(file, 'wx', 0o600);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
          throw ioError(`cannot reserve ${file}`, err);
        }
        try {
          fs.writeSync(fd, ownerFileContent(containerId, ifName));
        } catch (err) {
          fs.rmSync(file, { force: true });
          throw ioError(`cannot write ${file}`, err);
        } finally {
          fs.closeSync(fd);
        }
        try {
          // Not atomic, like host-local's: a torn write only costs round-robin once.
          fs.writeFileSync(lastReservedFile(rangeSetIndex), formatAddress(address), { mode: 0o600 });
        } catch (err) {
          fs.rmSync(file, { force: true });
          throw ioError(`cannot record last reserved address in ${dir}`, err);
        }
        return true;
      },

      release(file) {
        try {
          fs.rmSync(path.join(dir, file), { force: true });
        } catch (err) {
          throw ioError(`cannot release ${file} in ${dir}`, err);
        }
      },

      lastReserved(rangeSetIndex) {
        try {
          return parseAddress(fs.readFileSync(lastReservedFile(rangeSetIndex), 'utf8').trim());
        } catch {
          return undefined; // missing or unreadable: start from the beginning, as host-local does
        }
      },
    };
  }
}
