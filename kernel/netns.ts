/**
 * Network namespaces, given as paths (/var/run/netns/NAME or /proc/PID/ns/net, as CNI_NETNS gives
 * them).
 *
 * Node.js has no setns, and an async function may yield to other code at every await, so
 * `inNetns` runs only synchronous code: it switches the main thread into the namespace, runs the
 * function and switches back in a `finally`, also when the function throws. What that code opens
 * stays in the namespace after the switch back: a netlink socket created inside keeps talking to
 * that namespace, a process spawned inside runs there. Async work is done with such handles
 * afterwards (see `openNetlink` in kernel/netlink).
 */
import fs from 'node:fs';
import path from 'node:path';
import { native } from './native';

/** Where named namespaces live, as with iproute2. */
export const NETNS_RUN_DIR = '/var/run/netns';

export class NetnsError extends Error {
  constructor(
    message: string,
    readonly nsPath: string,
    readonly code: 'ENOENT' | 'EINVAL' | 'EIO',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NetnsError';
  }
}

/** Opens a namespace file, checking that it really is a network namespace. */
function openNetnsFd(nsPath: string): number {
  let fd: number;
  try {
    fd = fs.openSync(nsPath, fs.constants.O_RDONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'ENOENT' : 'EIO';
    throw new NetnsError(`failed to open netns ${JSON.stringify(nsPath)}: ${(err as Error).message}`, nsPath, code, {
      cause: err,
    });
  }
  return fd;
}

/** Runs `fn` with the main thread in the namespace at `nsPath`; always comes back. */
export function inNetns<T>(nsPath: string, fn: () => T): T {
  const target = openNetnsFd(nsPath);
  let origin: number | undefined;
  try {
    origin = fs.openSync('/proc/thread-self/ns/net', fs.constants.O_RDONLY);
    try {
      native().setns(target);
    } catch (err) {
      throw new NetnsError(`${JSON.stringify(nsPath)} is not a network namespace: ${(err as Error).message}`, nsPath, 'EINVAL', {
        cause: err,
      });
    }
    try {
      const result = fn();
      if (result instanceof Promise) {
        // The namespace is left before the promise settles: async code would run in the wrong one.
        result.catch(() => undefined);
        throw new TypeError('inNetns runs synchronous code only; open handles inside and await outside');
      }
      return result;
    } finally {
      // If this fails the process is in an unknown namespace: nothing safe is left to do.
      try {
        native().setns(origin);
      } catch (err) {
        process.stderr.write(`weft: fatal: cannot return to the original network namespace: ${String(err)}\n`);
        process.exit(70);
      }
    }
  } finally {
    fs.closeSync(target);
    if (origin !== undefined) fs.closeSync(origin);
  }
}

/** Inode of a namespace: two paths name the same namespace when their inodes match. */
export function netnsId(nsPath: string): bigint {
  return fs.statSync(nsPath, { bigint: true }).ino;
}

/** True when the path names an existing network namespace. */
export function netnsExists(nsPath: string): boolean {
  try {
    inNetns(nsPath, () => undefined);
    return true;
  } catch {
    return false;
  }
}

/** Creates a named namespace (like `ip netns add NAME`) and returns its path. */
export function createNamedNetns(name: string, runDir = NETNS_RUN_DIR): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error(`invalid netns name ${JSON.stringify(name)}`);
  fs.mkdirSync(runDir, { recursive: true });
  const pin = path.join(runDir, name);
  const fd = fs.openSync(pin, fs.constants.O_RDONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o444);
  fs.closeSync(fd);
  try {
    native().createNetns(pin);
  } catch (err) {
    fs.rmSync(pin, { force: true });
    throw new Error(`cannot create netns ${name}: ${(err as Error).message}`, { cause: err });
  }
  return pin;
}

/** Removes a named namespace (like `ip netns del`); a missing one is not an error. */
export function deleteNamedNetns(nameOrPath: string, runDir = NETNS_RUN_DIR): void {
  const pin = nameOrPath.includes('/') ? nameOrPath : path.join(runDir, nameOrPath);
  if (!fs.existsSync(pin)) return;
  try {
    native().umount(pin);
  } catch (err) {
    // EINVAL: not a mount point (half-created); the file is removed all the same.
    if ((err as { errno?: number }).errno !== 22) throw err;
  }
  fs.rmSync(pin, { force: true });
}

/** Names of the namespaces pinned in a run directory. */
export function listNamedNetns(runDir = NETNS_RUN_DIR): string[] {
  try {
    return fs.readdirSync(runDir).sort();
  } catch {
    return [];
  }
}
