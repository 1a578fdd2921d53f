/**
 * The generation of a network namespace's nf_tables ruleset: a number the kernel moves on by
 * one at every committed transaction, from any writer (nft, iptables-nft, firewalld), and that
 * reading never moves (NFT_MSG_GETGEN on a NETLINK_NETFILTER socket, as nft itself asks it).
 * Unchanged since a writer's own commit, it proves that nothing else has been written since:
 * what lets a periodic resync skip reading back a table of hundreds of thousands of elements.
 */
import { splitAttrs } from '../netlink/attrs';
import { describeErrno } from '../netlink/errors';
import { netfilterSocket, replyErrno } from '../netlink/netfilter';

const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWGEN = 15;
const NFT_MSG_GETGEN = 16;
const NFTA_GEN_ID = 1;

/** The generation after `generation`: the kernel's counter is 32 bits and skips 0. */
export function nextGeneration(generation: number): number {
  return generation >= 0xffffffff ? 1 : generation + 1;
}

/** The ruleset generation of the namespace at `netns` (a path), or of this process's own. */
export async function nftGeneration(netns?: string): Promise<number> {
  const socket = netfilterSocket(netns);
  try {
    // nfgenmsg: family AF_UNSPEC, version 0, resource id 0.
    const [replies] = await socket.request((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, Buffer.alloc(4), { checkError: false, timeout: 5000 });
    for (const reply of replies) {
      const errno = replyErrno(reply);
      if (errno !== 0) throw new Error(`nf_tables generation in netns ${netns ?? 'current'}: ${describeErrno(errno).code}`);
      if (reply.type === ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) {
        const id = splitAttrs(reply.data.subarray(4)).find(([type]) => type === NFTA_GEN_ID)?.[1];
        if (id && id.length >= 4) return id.readUInt32BE(0);
      }
    }
    throw new Error(`nf_tables generation in netns ${netns ?? 'current'}: no answer`);
  } finally {
    socket.close();
  }
}
