/**
 * The kernel's answer to a refused netlink request, with what was asked, where, and why, so that
 * callers can branch on the errno name (EEXIST, ENODEV, ...) and print a sentence a person can act
 * on ("create veth "eth0" in netns /var/run/netns/x: EEXIST (File exists)").
 */
import util from 'node:util';

export class NetlinkError extends Error {
  /** errno name, e.g. "EEXIST"; "E<number>" when Node does not know it. */
  readonly code: string;
  /** Positive errno. */
  readonly errno: number;
  /** What was asked, e.g. 'create veth "eth0"'. */
  readonly operation: string;
  /** Namespace path of the handle, or "current" for the process's own. */
  readonly netns: string;

  constructor(errno: number, operation: string, netns: string) {
    const { code, description } = describeErrno(errno);
    super(`${operation} in netns ${netns}: ${code} (${description})`);
    this.name = 'NetlinkError';
    this.code = code;
    this.errno = errno;
    this.operation = operation;
    this.netns = netns;
  }
}

/**
 * Linux names where libuv's differ: ENOTSUP and EOPNOTSUPP share 95 on Linux, and the kernel (and
 * every netlink caller's documentation) says EOPNOTSUPP.
 */
const LINUX_NAMES: Readonly<Record<number, { code: string; description: string }>> = {
  95: { code: 'EOPNOTSUPP', description: 'operation not supported' },
};

/** Name and strerror text of a positive errno. */
export function describeErrno(errno: number): { code: string; description: string } {
  if (LINUX_NAMES[errno]) return LINUX_NAMES[errno];
  // Node's map is keyed by negative errno values; it also holds libuv's own codes (-3000 and
  // below, e.g. -4095 EOF), which no kernel errno should be mistaken for.
  const entry = errno < 1000 ? util.getSystemErrorMap().get(-errno) : undefined;
  return entry ? { code: entry[0], description: entry[1] } : { code: `E${errno}`, description: `errno ${errno}` };
}

/** True when `err` is a NetlinkError with one of the given codes. */
export function isNetlinkError(err: unknown, ...codes: string[]): err is NetlinkError {
  return err instanceof NetlinkError && (codes.length === 0 || codes.includes(err.code));
}

/** The handle was closed while a request was pending or after it. */
export class NetlinkClosedError extends Error {
  constructor(operation: string, netns: string) {
    super(`${operation} in netns ${netns}: the netlink handle is closed`);
    this.name = 'NetlinkClosedError';
  }
}
