/**
 * NFLOG: packets the kernel's log rules send to a netlink group (`log group N` in nftables, the
 * NFLOG target in iptables), read from a NETLINK_NETFILTER socket bound to that group, through
 * the `netlink` package. Groups belong to a network namespace: the socket is opened in the one
 * given (kernel/netns.ts), or in the process's own.
 *
 * The instance is configured to copy each packet (its first `copyRange` bytes: headers) and to
 * send each one at once (queue threshold 1) rather than batch them for a second. Only one
 * socket may bind a group in a namespace: a second gets EPERM. When the reader falls behind,
 * the kernel drops what does not fit the socket's buffer (counted in `overruns`); logging
 * never holds a packet back.
 */
import type { NetlinkSocket } from 'netlink/dist/netlink';
import type { NetlinkMessage } from 'netlink/dist/structs';
import { encodeAttr, splitAttrs } from '../netlink/attrs';
import { describeErrno } from '../netlink/errors';
import { netfilterSocket, replyErrno } from '../netlink/netfilter';
const NFNL_SUBSYS_ULOG = 4;
const NFULNL_MSG_PACKET = 0;
const NFULNL_MSG_CONFIG = 1;
const NFULA_CFG_CMD = 1;
const NFULA_CFG_MODE = 2;
const NFULA_CFG_QTHRESH = 5;
const NFULNL_CFG_CMD_BIND = 1;
const NFULNL_COPY_PACKET = 2;
const NFULA_IFINDEX_INDEV = 4;
const NFULA_IFINDEX_OUTDEV = 5;
const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;
const NFPROTO: Record<number, 'ipv4' | 'ipv6'> = { 2: 'ipv4', 10: 'ipv6' };

export interface NflogPacket {
  /** The rule's log prefix. */
  prefix: string;
  /** The family of the hook that logged it. */
  family?: 'ipv4' | 'ipv6';
  /** Interface indexes the packet came in and was to go out on, where the hook knows them. */
  inInterface?: number;
  outInterface?: number;
  /** The packet from its network header, cut at the copy range. */
  payload: Buffer;
  /** When this process received it (Unix ms). */
  receivedAt: number;
}

export interface NflogOptions {
  group: number;
  /** Network namespace path; the process's own when absent. */
  netns?: string;
  /** Bytes of each packet copied (headers are all a reader of drops needs). 128 by default. */
  copyRange?: number;
  /** The socket's receive buffer; 1 MiB by default. */
  receiveBuffer?: number;
}

export interface NflogListener {
  readonly group: number;
  /** Messages the kernel could not deliver because the socket's buffer was full (ENOBUFS), as reported. */
  readonly overruns: number;
  close(): void;
}

/** The nfgenmsg header: family, version 0, the group (resource id) in network order. */
function nfgenmsg(group: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(group, 2);
  return b;
}

function configMessage(group: number, copyRange: number): Buffer[] {
  const mode = Buffer.alloc(6);
  mode.writeUInt32BE(copyRange, 0);
  mode[4] = NFULNL_COPY_PACKET;
  const threshold = Buffer.alloc(4);
  threshold.writeUInt32BE(1, 0);
  return [nfgenmsg(group), encodeAttr(NFULA_CFG_CMD, Buffer.from([NFULNL_CFG_CMD_BIND])), encodeAttr(NFULA_CFG_MODE, mode), encodeAttr(NFULA_CFG_QTHRESH, threshold)];
}

/** A PACKET message's attributes; undefined for anything else. */
export function parseNflogMessage(msg: Pick<NetlinkMessage, 'type' | 'data'>, receivedAt = Date.now()): NflogPacket | undefined {
  if (msg.type !== ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET) || msg.data.length < 4) return undefined;
  const packet: NflogPacket = { prefix: '', payload: Buffer.alloc(0), receivedAt };
  const family = NFPROTO[msg.data[0]];
  if (family) packet.family = family;
  for (const [type, data] of splitAttrs(msg.data.subarray(4))) {
    if (type === NFULA_PREFIX) packet.prefix = data.subarray(0, data.indexOf(0) < 0 ? data.length : data.indexOf(0)).toString('utf8');
    else if (type === NFULA_PAYLOAD) packet.payload = Buffer.from(data);
    else if (type === NFULA_IFINDEX_INDEV && data.length >= 4) packet.inInterface = data.readUInt32BE(0);
    else if (type === NFULA_IFINDEX_OUTDEV && data.length >= 4) packet.outInterface = data.readUInt32BE(0);
  }
  return packet;
}

/**
 * Binds a socket to NFLOG group `group` and calls `onPacket` for every packet logged to it.
 * Rejects when the group cannot be bound (EBUSY: another listener has it; EPERM: not root).
 */
export async function openNflog(options: NflogOptions, onPacket: (packet: NflogPacket) => void, onError: (err: Error) => void = () => undefined): Promise<NflogListener> {
  const { group } = options;
  if (!Number.isInteger(group) || group < 0 || group > 0xffff) throw new RangeError(`NFLOG group ${group} is not 0-65535`);
  const socket: NetlinkSocket = netfilterSocket(options.netns);
  let overruns = 0;
  socket.on('error', (err) => {
    if (err.code === 'ENOBUFS') overruns++;
    else onError(err);
  });
  socket.on('message', (msgs) => {
    const receivedAt = Date.now();
    for (const m of msgs) {
      const packet = parseNflogMessage(m, receivedAt);
      if (packet) onPacket(packet);
    }
  });
  try {
    socket.setRecvBufferSize(options.receiveBuffer ?? 1 << 20);
    const [replies] = await socket.request((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG, configMessage(group, options.copyRange ?? 128), { checkError: false, timeout: 5000 });
    for (const reply of replies) {
      const errno = replyErrno(reply);
      if (errno !== 0) {
        const { code, description } = describeErrno(errno);
        // The kernel answers EPERM both to a process without CAP_NET_ADMIN and when another socket has the group.
        const why = code === 'EPERM' || code === 'EBUSY' ? ': another listener has the group, or this process lacks CAP_NET_ADMIN' : '';
        throw new Error(`binding NFLOG group ${group} in netns ${options.netns ?? 'current'}: ${code} (${description})${why}`);
      }
    }
  } catch (err) {
    socket.close();
    throw err;
  }
  return {
    group,
    get overruns() {
      return overruns;
    },
    close: () => socket.close(),
  };
}
