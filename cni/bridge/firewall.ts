/**
 * The rules weft-bridge puts in the host namespace, as nftables transactions:
 *
 * - Masquerade (ipMasq), table `inet weft-cni`: the postrouting chain looks the packet's source
 *   up in a verdict map (pod address -> jump to its network's chain), so the cost does not grow
 *   with the number of pods; the network chain returns for destinations inside the pod subnets
 *   and multicast and masquerades the rest (what the reference bridge does with one iptables
 *   chain per pod).
 * - Spoof check (macspoofchk), table `bridge weft-cni`: frames entering the bridge from a pod's
 *   host veth jump, through a verdict map keyed by the port name, to the pod's chain, which
 *   drops any source MAC but the pod's, and IPv4/ARP/IPv6 sources that are not the pod's own
 *   addresses (IPv6 link-local and the unspecified address stay allowed for neighbour discovery
 *   and DAD).
 *
 * Elements carry "containerID/ifname" as comment, so DEL finds them without the previous result.
 */
import crypto from 'node:crypto';
import { NftCli, Transaction, type TableRef } from '../../kernel/nft';
import { formatAddress, networkAddress, parseCidr } from '../../ipam/address';
import type { IPConfig } from '../types';

export const MASQ_TABLE: TableRef = { family: 'inet', name: 'weft-cni' };
export const SPOOF_TABLE: TableRef = { family: 'bridge', name: 'weft-cni' };

const MASQ_MAP = { 4: 'masq-v4', 6: 'masq-v6' } as const;
const PORTS_MAP = 'ports';

export function owner(containerId: string, ifName: string): string {
  return `${containerId}/${ifName}`;
}

/** A chain per network config name, short and safe whatever the name. */
function networkChain(network: string): string {
  return `net-${crypto.createHash('sha256').update(network).digest('hex').slice(0, 12)}`;
}

function podChain(hostVeth: string): string {
  return `pod-${hostVeth}`;
}

function split(ips: readonly IPConfig[]): { v4: string[]; v6: string[]; subnets: string[] } {
  const v4: string[] = [];
  const v6: string[] = [];
  const subnets = new Set<string>();
  for (const ip of ips) {
    const cidr = parseCidr(ip.address);
    if (!cidr) continue;
    (cidr.address.family === 4 ? v4 : v6).push(formatAddress(cidr.address));
    subnets.add(`${formatAddress(networkAddress(cidr))}/${cidr.prefix}`);
  }
  return { v4, v6, subnets: [...subnets] };
}

export class BridgeFirewall {
  private readonly nft: NftCli;

  constructor(hostNetns: string | undefined) {
    this.nft = new NftCli({ netns: hostNetns });
  }

  /** Masquerades what the pod's addresses send outside the network's subnets. */
  async addMasquerade(network: string, podOwner: string, ips: readonly IPConfig[]): Promise<void> {
    const { v4, v6, subnets } = split(ips);
    const chain = networkChain(network);
    const tx = new Transaction(MASQ_TABLE).add({ kind: 'table' });
    tx.add({ kind: 'map', name: MASQ_MAP[4], type: 'ipv4_addr : verdict' });
    tx.add({ kind: 'map', name: MASQ_MAP[6], type: 'ipv6_addr : verdict' });
    // Base and network chains are rewritten whole each time: idempotent, and atomic with the rest.
    tx.add({ kind: 'chain', name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat' });
    tx.flush({ kind: 'chain', name: 'postrouting' });
    tx.add({ kind: 'rule', chain: 'postrouting', rule: `ip saddr vmap @${MASQ_MAP[4]}` });
    tx.add({ kind: 'rule', chain: 'postrouting', rule: `ip6 saddr vmap @${MASQ_MAP[6]}` });
    tx.add({ kind: 'chain', name: chain, comment: `masquerade for network ${network}` });
    tx.flush({ kind: 'chain', name: chain });
    for (const subnet of subnets) tx.add({ kind: 'rule', chain, rule: `${subnet.includes(':') ? 'ip6' : 'ip'} daddr ${subnet} return` });
    tx.add({ kind: 'rule', chain, rule: 'ip daddr 224.0.0.0/4 return' });
    tx.add({ kind: 'rule', chain, rule: 'ip6 daddr ff00::/8 return' });
    tx.add({ kind: 'rule', chain, rule: 'masquerade' });
    for (const [family, list] of [[4, v4], [6, v6]] as const) {
      for (const address of list) tx.add({ kind: 'element', map: MASQ_MAP[family], key: [address], value: [`jump ${chain}`], comment: podOwner });
    }
    await this.nft.run(tx);
  }

  /** Lets only the pod's MAC and addresses into the bridge from its host veth. */
  async addSpoofCheck(hostVeth: string, podOwner: string, mac: string, ips: readonly IPConfig[]): Promise<void> {
    const { v4, v6 } = split(ips);
    const chain = podChain(hostVeth);
    const tx = new Transaction(SPOOF_TABLE).add({ kind: 'table' });
    tx.add({ kind: 'map', name: PORTS_MAP, type: 'ifname : verdict' });
    tx.add({ kind: 'chain', name: 'prerouting', type: 'filter', hook: 'prerouting', priority: -300 });
    tx.flush({ kind: 'chain', name: 'prerouting' });
    tx.add({ kind: 'rule', chain: 'prerouting', rule: `iifname vmap @${PORTS_MAP}` });
    tx.add({ kind: 'chain', name: chain, comment: `spoof check for ${podOwner}` });
    tx.flush({ kind: 'chain', name: chain });
    tx.add({ kind: 'rule', chain, rule: `ether saddr != ${mac} drop` });
    if (v4.length > 0) {
      tx.add({ kind: 'rule', chain, rule: `ether type ip ip saddr != { ${v4.join(', ')} } drop` });
      tx.add({ kind: 'rule', chain, rule: `ether type arp arp saddr ip != { ${[...v4, '0.0.0.0'].join(', ')} } drop` });
    }
    if (v6.length > 0) tx.add({ kind: 'rule', chain, rule: `ether type ip6 ip6 saddr != { ${[...v6, 'fe80::/10', '::'].join(', ')} } drop` });
    tx.add({ kind: 'element', map: PORTS_MAP, key: [`"${hostVeth}"`], value: [`jump ${chain}`], comment: podOwner });
    await this.nft.run(tx);
  }

  /**
   * Removes the pod's masquerade elements, and the network chains no pod uses any more; nothing
   * when there are none (or no table). A concurrent ADD may start using a chain between the read
   * and the write, which makes the kernel refuse the deletion: the read is then done again.
   */
  async removeMasquerade(podOwner: string, attempts = 3): Promise<void> {
    const ruleset = await this.nft.listRuleset(MASQ_TABLE);
    if (!ruleset) return;
    const tx = new Transaction(MASQ_TABLE);
    const used = new Set<string>();
    const freed = new Set<string>();
    for (const map of ruleset.maps) {
      for (const el of map.elements ?? []) {
        const target = el.value?.[0]?.replace(/^jump /, '');
        if (el.comment === podOwner) {
          tx.delete({ kind: 'element', map: map.name, key: el.key });
          if (target) freed.add(target);
        } else if (target) {
          used.add(target);
        }
      }
    }
    for (const chain of freed) if (!used.has(chain)) tx.delete({ kind: 'chain', name: chain });
    if (tx.size === 0) return;
    try {
      await this.nft.run(tx);
    } catch (err) {
      if (attempts <= 1) throw err;
      await this.removeMasquerade(podOwner, attempts - 1);
    }
  }

  /** Removes the pod's spoof-check chain and port element; nothing when there are none. */
  async removeSpoofCheck(hostVeth: string): Promise<void> {
    const ruleset = await this.nft.listRuleset(SPOOF_TABLE);
    if (!ruleset) return;
    const chain = podChain(hostVeth);
    const tx = new Transaction(SPOOF_TABLE);
    const ports = ruleset.maps.find((m) => m.name === PORTS_MAP);
    const element = ports?.elements?.find((el) => el.key[0]?.replace(/"/g, '') === hostVeth);
    if (element) tx.delete({ kind: 'element', map: PORTS_MAP, key: element.key });
    if (ruleset.chains.some((c) => c.name === chain)) tx.delete({ kind: 'chain', name: chain });
    if (tx.size > 0) await this.nft.run(tx);
  }
}
