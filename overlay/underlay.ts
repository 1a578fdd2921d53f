/**
 * Finds this node's underlay in the kernel: the interface holding the node's InternalIP of each
 * family, with the address's prefix length (which peers are on-link) and the interface's MTU
 * (from which the pod MTU follows).
 */
import type { NetlinkHandle } from '../kernel/netlink';
import type { UnderlayAddress } from './compile';
import type { ClusterNode } from './nodes';

export async function discoverUnderlay(nl: NetlinkHandle, self: ClusterNode): Promise<{ 4?: UnderlayAddress; 6?: UnderlayAddress; missing: string[] }> {
  const out: { 4?: UnderlayAddress; 6?: UnderlayAddress; missing: string[] } = { missing: [] };
  const addresses = await nl.addresses.list();
  for (const family of [4, 6] as const) {
    const ip = self.addresses[family];
    if (!ip) continue;
    const entry = addresses.find((a) => a.address === ip);
    if (!entry) {
      out.missing.push(`InternalIP ${ip} is on no interface of this node`);
      continue;
    }
    const link = await nl.links.get(entry.index);
    out[family] = { address: ip, prefix: entry.prefixLength, mtu: link.mtu };
  }
  return out;
}
