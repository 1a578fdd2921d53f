/**
 * Pod-to-pod traffic on one node crosses the pod bridge at layer 2, where neither nftables'
 * inet hooks nor iptables see it unless the bridge hands IP packets to them (br_netfilter). The
 * bridge's own nf_call_iptables/nf_call_ip6tables options do that for this bridge alone, whatever
 * the namespace-wide bridge-nf-call-* sysctls say, so NetworkPolicy and the bridge guard see
 * same-node traffic without changing how any other bridge on the node behaves.
 */
import { withNetlink } from '../../kernel/netlink';

export type BridgeNetfilterOutcome = 'absent' | 'on' | 'turned-on';

/** Turns the bridge's netfilter calls on when it exists and has them off. */
export async function ensureBridgeNetfilter(bridge: string, netnsPath?: string): Promise<BridgeNetfilterOutcome> {
  return withNetlink(netnsPath, async (nl) => {
    const link = await nl.links.find(bridge);
    if (!link || link.info?.kind !== 'bridge') return 'absent';
    const data = link.info.bridge;
    if (data?.nfCallIptables && data.nfCallIp6tables) return 'on';
    await nl.links.setBridgeOptions(bridge, { nfCallIptables: true, nfCallIp6tables: true });
    return 'turned-on';
  });
}
