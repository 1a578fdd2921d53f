/**
 * Sockets of the netfilter netlink family (nfnetlink: NFLOG groups, nf_tables' generation),
 * through the `netlink` package, opened in a network namespace or in this process's own.
 */
import { createNetlink, type NetlinkSocket } from 'netlink/dist/netlink';
import type { NetlinkMessage } from 'netlink/dist/structs';
import { inNetns } from '../netns';
import { NLMSG_ERROR } from './constants';

const NETLINK_NETFILTER = 12;

/** A NETLINK_NETFILTER socket in the namespace at `netns` (a path), or in this process's own. */
export function netfilterSocket(netns?: string): NetlinkSocket {
  const open = () => createNetlink(NETLINK_NETFILTER);
  return netns === undefined ? open() : inNetns(netns, open);
}

/** The errno a reply carries (positive): an NLMSG_ERROR's; 0 for an acknowledgement or any other message. */
export function replyErrno(reply: Pick<NetlinkMessage, 'type' | 'data'>): number {
  return reply.type === NLMSG_ERROR ? -reply.data.readInt32LE(0) : 0;
}
