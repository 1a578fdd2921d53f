/**
 * Network sysctls of a given namespace (ip_forward, conf/<if>/rp_filter, IPv6 forwarding,
 * accept_dad, ...), read and written through /proc/sys.
 *
 * /proc/sys/net is resolved against the network namespace of the thread that opens the file, at
 * open time; so each file is opened, read or written and closed synchronously inside `inNetns`.
 * Only keys under net/ are accepted: other sysctls are not per network namespace, and writing
 * one "for a pod" would change the whole host.
 */
import fs from 'node:fs';
import { inNetns } from './netns';

export class SysctlError extends Error {
  constructor(
    message: string,
    readonly key: string,
    readonly netns: string,
    /** errno name from the file system (ENOENT: no such key or interface, EACCES, EINVAL, ...). */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SysctlError';
  }
}

/**
 * Maps a key to its file under /proc/sys, as sysctl(8) reads keys: "net.ipv4.ip_forward" and
 * "net/ipv4/ip_forward" are the same key. In the dotted form a "/" stands for a dot inside a
 * component ("net.ipv4.conf.eth0/100.rp_filter" is the interface "eth0.100"); in the slashed
 * form dots are literal ("net/ipv4/conf/eth0.100/rp_filter").
 */
export function sysctlPath(key: string): string {
  const firstSeparator = key.search(/[./]/);
  const slashed =
    firstSeparator >= 0 && key[firstSeparator] === '.'
      ? key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'))
      : key;
  const parts = slashed.split('/');
  if (parts[0] !== 'net' || parts.length < 2 || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new SysctlError(`not a network sysctl key: ${JSON.stringify(key)}`, key, '', 'EINVAL');
  }
  return `/proc/sys/${parts.join('/')}`;
}

function fail(verb: string, key: string, netnsPath: string, err: unknown): never {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  throw new SysctlError(`cannot ${verb} sysctl ${key} in netns ${netnsPath}: ${(err as Error).message}`, key, netnsPath, code, {
    cause: err,
  });
}

/** The value of a network sysctl in the namespace at `netnsPath`, without the trailing newline. */
export function readSysctl(netnsPath: string, key: string): string {
  const file = sysctlPath(key);
  return inNetns(netnsPath, () => {
    try {
      return fs.readFileSync(file, 'utf8').replace(/\n$/, '');
    } catch (err) {
      return fail('read', key, netnsPath, err);
    }
  });
}

/** Sets a network sysctl in the namespace at `netnsPath`. */
export function writeSysctl(netnsPath: string, key: string, value: string | number): void {
  const file = sysctlPath(key);
  inNetns(netnsPath, () => {
    let fd: number | undefined;
    try {
      // O_WRONLY without O_CREAT/O_TRUNC: a sysctl file exists or the key is wrong.
      fd = fs.openSync(file, fs.constants.O_WRONLY);
      fs.writeSync(fd, String(value));
    } catch (err) {
      fail('write', key, netnsPath, err);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  });
}
