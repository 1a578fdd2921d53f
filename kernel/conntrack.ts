/**
 * Connection-tracking entries, deleted (and listed, for tests and debugging) with the
 * `conntrack` tool of conntrack-tools, inside a network namespace when given one.
 *
 * Why the tool and not netlink: the kernel deletes one entry per IPCTNL_MSG_CT_DELETE, named by
 * its full original tuple (or flushes a whole table, filtered by mark at most). Deleting "every
 * UDP entry to 10.96.0.10:53 answered by 10.244.1.5" means dumping the table, matching each
 * entry and deleting it by tuple: a nfnetlink socket, the ctnetlink attribute tree (tuples,
 * protocol info, nested per family) and a dump parser that kernel/netlink, built on an
 * rtnetlink-only package, does not have. conntrack does exactly that dump-match-delete, is what
 * kube-proxy ran for years, and deletions are rare (an endpoint leaving a UDP service).
 */
import net from 'node:net';
import { execTool, systemBinary } from './exec';

export type ConntrackProtocol = 'tcp' | 'udp' | 'sctp';

/** Entries to match; every field given must match, absent fields match anything. */
export interface ConntrackFilter {
  family: 4 | 6;
  protocol: ConntrackProtocol;
  /** Destination address of the original direction (what the client sent to). */
  origDst?: string;
  /** Destination port of the original direction. */
  origPortDst?: number;
  /** Source address of the reply direction: where a DNATed entry really goes. */
  replySrc?: string;
  /** Source port of the reply direction. */
  replyPortSrc?: number;
}

export class ConntrackError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'ConntrackError';
  }
}

/** What deletes entries: the real tool, or a fake in unit tests. */
export interface ConntrackDeleter {
  /** Deletes the entries matching `filter`; resolves with how many there were (0 is fine). */
  delete(filter: ConntrackFilter): Promise<number>;
}

export interface ConntrackCliOptions {
  /** Network namespace path; the current namespace when absent. */
  netns?: string;
  /** The conntrack program; found in the system directories by default. */
  binary?: string;
  timeoutMs?: number;
}

/** The selection arguments for `filter`, validated (nothing unchecked reaches the command line). */
export function conntrackFilterArgs(filter: ConntrackFilter): string[] {
  const args = ['-f', filter.family === 6 ? 'ipv6' : 'ipv4', '-p', filter.protocol];
  const address = (option: string, value: string | undefined) => {
    if (value === undefined) return;
    if (net.isIP(value) !== filter.family) throw new ConntrackError(`${option} ${JSON.stringify(value)} is not an IPv${filter.family} address`, '', null);
    args.push(option, value);
  };
  const port = (option: string, value: number | undefined) => {
    if (value === undefined) return;
    if (!Number.isInteger(value) || value < 1 || value > 65535) throw new ConntrackError(`${option} ${value} is not a port`, '', null);
    args.push(option, String(value));
  };
  address('--orig-dst', filter.origDst);
  port('--orig-port-dst', filter.origPortDst);
  address('--reply-src', filter.replySrc);
  port('--reply-port-src', filter.replyPortSrc);
  return args;
}

/** "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted." -> 3 */
export function parseCount(stderr: string, verb: 'deleted' | 'shown'): number | undefined {
  const m = new RegExp(`(\\d+) flow entr(?:y|ies) ha(?:s|ve) been ${verb}`).exec(stderr);
  return m ? Number(m[1]) : undefined;
}

export class ConntrackCli implements ConntrackDeleter {
  constructor(private readonly options: ConntrackCliOptions = {}) {}

  private run(args: string[]) {
    return execTool(systemBinary(this.options.binary ?? 'conntrack'), args, { netns: this.options.netns, timeoutMs: this.options.timeoutMs });
  }

  async delete(filter: ConntrackFilter): Promise<number> {
    const result = await this.run(['-D', ...conntrackFilterArgs(filter)]);
    // conntrack exits 1 when nothing matched, the same status as a real failure: the summary
    // line on stderr tells them apart.
    const count = parseCount(result.stderr, 'deleted');
    if ((result.code === 0 || result.code === 1) && count !== undefined) return count;
    throw new ConntrackError(`conntrack -D failed: ${result.stderr.trim() || `exit status ${result.code}`}`, result.stderr, result.code);
  }

  /** The matching entries in conntrack's text format, one per line. */
  async list(filter: ConntrackFilter): Promise<string[]> {
    const result = await this.run(['-L', ...conntrackFilterArgs(filter)]);
    if (result.code !== 0 || parseCount(result.stderr, 'shown') === undefined) {
      throw new ConntrackError(`conntrack -L failed: ${result.stderr.trim() || `exit status ${result.code}`}`, result.stderr, result.code);
    }
    return result.stdout.split('\n').filter((line) => line.trim() !== '');
  }
}
