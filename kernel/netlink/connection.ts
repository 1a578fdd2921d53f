/**
 * One rtnetlink socket bound to one network namespace, and the request discipline on top of it:
 *
 * - The socket is created inside `inNetns`, so it keeps talking to that namespace afterwards,
 *   whatever namespace the thread is in later.
 * - Requests run one at a time. The `netlink` package groups multipart replies with a single
 *   "current dump" slot, so an ACK arriving in the middle of a dump would split it; queueing
 *   keeps replies whole.
 * - The kernel's error replies become NetlinkError (the package throws a bare Error with only a
 *   message). Dumps the kernel marks as interrupted (NLM_F_DUMP_INTR) are retried.
 * - The socket never keeps the process alive (the package unrefs it while nothing is pending);
 *   `close()` releases the fd and fails whatever is still pending.
 */
import { createRtNetlink, parseError, rt, type NetlinkMessage, type RtNetlinkSocket } from './pkg';
import { inNetns } from '../netns';
import { NLM_F_DUMP, NLM_F_DUMP_INTR, NLMSG_ERROR } from './constants';
import { NetlinkClosedError, NetlinkError } from './errors';

const DUMP_ATTEMPTS = 5;

export class NetlinkConnection {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly aborts = new Set<(err: Error) => void>();
  private isClosed = false;

  /** Opens a socket in the namespace at `netnsPath`, or in the process's own when undefined. */
  static open(netnsPath?: string): NetlinkConnection {
    const socket = netnsPath === undefined ? createRtNetlink() : inNetns(netnsPath, () => createRtNetlink());
    return new NetlinkConnection(socket, netnsPath ?? 'current');
  }

  private constructor(
    private readonly socket: RtNetlinkSocket,
    /** Path of the namespace, for messages. */
    readonly netns: string,
  ) {
    // Without a listener an 'error' event would throw out of the event loop.
    socket.socket.on('error', (err) => this.abortPending(err));
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** A NEW/DEL/SET request: resolves on the kernel's ACK, rejects with its error. */
  async change(type: rt.MessageType, payload: Uint8Array[], flags: number, operation: string): Promise<void> {
    await this.exchange(type, payload, flags, operation);
  }

  /** A GET of one object; the kernel answers with the object or an error. */
  async get(type: rt.MessageType, payload: Uint8Array[], operation: string): Promise<rt.Message[]> {
    return (await this.exchange(type, payload, 0, operation)).messages;
  }

  /** A dump of every object of a type (filters in the payload are honoured by some types only). */
  async dump(type: rt.MessageType, payload: Uint8Array[], operation: string): Promise<rt.Message[]> {
    for (let attempt = 1; ; attempt++) {
      const { messages, interrupted } = await this.exchange(type, payload, NLM_F_DUMP, operation);
      if (!interrupted || attempt >= DUMP_ATTEMPTS) return messages;
    }
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.socket.close();
    this.abortPending(new NetlinkClosedError('request', this.netns));
  }

  private abortPending(err: Error): void {
    for (const abort of [...this.aborts]) abort(err);
  }

  private exchange(
    type: rt.MessageType,
    payload: Uint8Array[],
    flags: number,
    operation: string,
  ): Promise<{ messages: rt.Message[]; interrupted: boolean }> {
    const run = this.tail.then(async () => {
      if (this.isClosed) throw new NetlinkClosedError(operation, this.netns);
      const [replies] = await this.untilClosed(
        this.socket.socket.request(type, payload, { flags, checkError: false }),
        operation,
      );
      return this.interpret(replies, operation);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Settles with `pending`, or rejects when the handle is closed (or the socket fails) first. */
  private untilClosed<T>(pending: Promise<T>, operation: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const abort = (err: Error) =>
        reject(err instanceof NetlinkClosedError ? new NetlinkClosedError(operation, this.netns) : err);
      this.aborts.add(abort);
      pending.then(resolve, reject).finally(() => this.aborts.delete(abort));
    });
  }

  private interpret(replies: NetlinkMessage[], operation: string): { messages: rt.Message[]; interrupted: boolean } {
    const messages: rt.Message[] = [];
    let interrupted = false;
    for (const reply of replies) {
      if (reply.flags & NLM_F_DUMP_INTR) interrupted = true;
      if (reply.type === NLMSG_ERROR) {
        // struct nlmsgerr: a negative errno, 0 for a plain ACK.
        const { errno } = parseError(reply.data, reply.flags);
        if (errno !== 0) throw new NetlinkError(-errno, operation, this.netns);
        continue;
      }
      messages.push(rt.parseMessage(reply.type, reply.data));
    }
    return { messages, interrupted };
  }
}
