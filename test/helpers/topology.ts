/**
 * Small topologies around a test "node" namespace: an outside network (a namespace standing for
 * a machine beyond the node, joined to it by a veth pair) to test masquerade, port mappings and
 * shaping against an address that is not in the pod subnet.
 */
import type { ExecutionContext } from 'ava';
import { withNetlink } from '../../kernel/netlink';
import { tempNetns } from './netns';

export interface OutsideNetwork {
  /** The outside machine's namespace. */
  netns: string;
  /** The node's address on the link to it. */
  nodeAddress: string;
  /** The outside machine's address. */
  outsideAddress: string;
}

/**
 * Joins `node` to a new namespace over 198.51.100.0/24 (TEST-NET-2): the node is .1 on `up0`,
 * the outside machine .2 with its default route through the node.
 */
export async function outsideNetwork(t: ExecutionContext, node: string): Promise<OutsideNetwork> {
  const netns = tempNetns(t, 'outside');
  const nodeAddress = '198.51.100.1';
  const outsideAddress = '198.51.100.2';
  await withNetlink(node, async (nl) => {
    await nl.links.createVeth({ name: 'up0', up: true, peer: { name: 'eth0', netns } });
    await nl.addresses.add('up0', `${nodeAddress}/24`);
  });
  await withNetlink(netns, async (nl) => {
    await nl.links.setUp('lo');
    await nl.links.setUp('eth0');
    await nl.addresses.add('eth0', `${outsideAddress}/24`);
    await nl.routes.add({ dst: 'default', gateway: nodeAddress });
  });
  return { netns, nodeAddress, outsideAddress };
}
