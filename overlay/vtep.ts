/**
 * Addresses of a node's VXLAN tunnel endpoint, derived rather than published: every agent
 * computes every other node's VTEP MAC from that node's underlay address, so nothing has to be
 * written back to the API server (flannel stores it in a Node annotation instead).
 *
 * - MAC: 0a:58 followed by the IPv4 underlay address (the locally administered, unicast prefix
 *   OVN uses the same way); for an IPv6 underlay, 0e:58 followed by 4 bytes of a hash of it.
 * - IP: the network address of the node's pod subnet, on the VXLAN device as a /32 or /128
 *   (flannel's layout), so the route to a node's pods goes via its VTEP address, on-link.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { parseCidr, formatAddress, networkAddress } from '../ipam/address';

export function vtepMac(underlayIp: string): string {
  if (net.isIPv4(underlayIp)) {
    const bytes = underlayIp.split('.').map((b) => Number(b).toString(16).padStart(2, '0'));
    return ['0a', '58', ...bytes].join(':');
  }
  if (!net.isIPv6(underlayIp)) throw new Error(`not an IP address: ${JSON.stringify(underlayIp)}`);
  const digest = crypto.createHash('sha256').update(underlayIp.toLowerCase()).digest();
  return ['0e', '58', ...[...digest.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export function vtepAddress(podCidr: string): string {
  const cidr = parseCidr(podCidr);
  if (!cidr) throw new Error(`not a CIDR: ${JSON.stringify(podCidr)}`);
  return formatAddress(networkAddress(cidr));
}
