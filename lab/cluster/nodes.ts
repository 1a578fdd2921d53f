/**
 * The lab's machines: an underlay "switch" namespace holding a Linux bridge, and one namespace
 * per node plugged into it by a veth pair (eth0 in the node, n<i> on the switch). Each node gets
 * its underlay addresses, a default route via the switch's address (the overlay will add routes
 * to other nodes' pod subnets), loopback up and forwarding on, as a Kubernetes node has.
 */
import { withNetlink } from '../../kernel/netlink';
import { createNamedNetns } from '../../kernel/netns';
import { writeSysctl } from '../../kernel/sysctl';
import { nodeName, nodeNetnsName, nodePodCIDRs, nodeUnderlayIPs, UNDERLAY_V4, UNDERLAY_V6, underlayNetnsName } from './names';
import type { NodeRecord } from './state';

export const UNDERLAY_BRIDGE = 'br0';
export const NODE_UPLINK = 'eth0';

/** Creates the switch namespace with its bridge and gateway addresses; returns its path. */
export async function createUnderlay(lab: string): Promise<string> {
  const netns = createNamedNetns(underlayNetnsName(lab));
  // No IPv6 duplicate address detection on the lab's wires: addresses are usable at once.
  writeSysctl(netns, 'net.ipv6.conf.default.accept_dad', 0);
  writeSysctl(netns, 'net.ipv6.conf.all.accept_dad', 0);
  await withNetlink(netns, async (nl) => {
    await nl.links.setUp('lo');
    await nl.links.createBridge({ name: UNDERLAY_BRIDGE, up: true });
    await nl.addresses.add(UNDERLAY_BRIDGE, `${UNDERLAY_V4.gateway}/${UNDERLAY_V4.prefix}`);
    await nl.addresses.add(UNDERLAY_BRIDGE, `${UNDERLAY_V6.gateway}/${UNDERLAY_V6.prefix}`, { noDad: true });
  });
  return netns;
}

/** Creates node `index`: its namespace, its uplink to the switch, addresses, routes, sysctls. */
export async function createNode(lab: string, index: number, underlayNetns: string): Promise<NodeRecord> {
  const netns = createNamedNetns(nodeNetnsName(lab, index));
  const underlay = nodeUnderlayIPs(index);
  for (const key of ['net.ipv6.conf.default.accept_dad', 'net.ipv6.conf.all.accept_dad']) writeSysctl(netns, key, 0);
  // A node routes its pods' traffic (kube-proxy and every CNI plugin need this on).
  writeSysctl(netns, 'net.ipv4.ip_forward', 1);
  writeSysctl(netns, 'net.ipv6.conf.all.forwarding', 1);
  const port = `n${index}`;
  await withNetlink(underlayNetns, async (sw) => {
    await sw.links.createVeth({ name: port, peer: { name: NODE_UPLINK, netns } });
    await sw.links.setMaster(port, UNDERLAY_BRIDGE);
    await sw.links.setUp(port);
  });
  await withNetlink(netns, async (nl) => {
    await nl.links.setUp('lo');
    await nl.links.setUp(NODE_UPLINK);
    await nl.addresses.add(NODE_UPLINK, `${underlay.v4}/${UNDERLAY_V4.prefix}`);
    await nl.addresses.add(NODE_UPLINK, `${underlay.v6}/${UNDERLAY_V6.prefix}`, { noDad: true });
    await nl.routes.add({ dst: 'default', gateway: UNDERLAY_V4.gateway, dev: NODE_UPLINK });
    await nl.routes.add({ dst: 'default', family: 6, gateway: UNDERLAY_V6.gateway, dev: NODE_UPLINK });
  });
  return { name: nodeName(index), index, netns, underlay, podCIDRs: nodePodCIDRs(index) };
}
