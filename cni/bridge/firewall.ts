/**
 * The rules weft-bridge puts in the host namespace, as nftables transactions:
 *
 * - Masquerade (ipMasq), table `inet weft-cni`: the postrouting chain looks the packet's source
 *   up in a verdict map (pod address -> jump to the chain of its subnet), so the cost does not
 *   grow with the number of pods; the subnet chain returns for destinations inside the subnet
 *   and multicast and masquerades the rest (what the reference bridge does with one iptables
 *   chain per pod).
 * - Spoof check (macspoofchk), table `bridge weft-cni`: frames entering the bridge from a pod's
 *   host veth jump, through a verdict map keyed by the port name, to the pod's chain, which
 *   drops any source MAC but the pod's and, when the pod was given addresses, IPv4/ARP/IPv6
 *   sources that are not its own (IPv6 link-local and the unspecified address stay allowed for
 *   neighbour discovery and DAD).
 *
 * Elements carry "containerID/ifname" as comment, so DEL finds them without the previous result.
 * The builders and removal planners are pure (unit-tested against FakeNft); BridgeFirewall is the
 * I/O around them.
 */
import crypto from 'node:crypto';
import { Transaction, type Nft, type TableObjects, type TableRef } from '../../kernel/nft';
import { formatAddress, networkAddress, parseCidr } from '../../ipam/address';
import type { IPConfig } from '../types';

export const MASQ_TABLE: TableRef = { family: 'inet', name: 'weft-cni' };
export const SPOOF_TABLE: TableRef = { family: 'bridge', name: 'weft-cni' };

const MASQ_MAP = { 4: 'masq-v4', 6: 'masq-v6' } as const;
const PORTS_MAP = 'ports';

/** The comment that ties nft elements to one attachment. */
export function owner(containerId: string, ifName: string): string {
  return `${containerId}/${ifName}`;
}

/**
 * The masquerade chain of one subnet of a network: short and safe whatever the names. Per subnet,
 * as the reference exempts each pod's own subnet, and so that every pod's ADD writes it the same.
 */
export function subnetChain(network: string, subnet: string): string {
  return `net-${crypto.createHash('sha256').update(`${network} ${subnet}`).digest('hex').slice(0, 12)}`;
}

export function podChain(hostVeth: string): string {
  return `pod-${hostVeth}`;
}

interface PodAddress {
  family: 4 | 6;
  address: string;
  /** The subnet the address is in, "10.99.0.0/24". */
  subnet: string;
}

function podAddresses(ips: readonly IPConfig[]): PodAddress[] {
  const out: PodAddress[] = [];
  for (const ip of ips) {
    const cidr = parseCidr(ip.address);
    if (!cidr) continue;
    out.push({ family: cidr.address.family, address: formatAddress(cidr.address), subnet: `${formatAddress(networkAddress(cidr))}/${cidr.prefix}` });
  }
  return out;
}

/**
 * Masquerades what the pod's addresses send outside their subnet (multicast apart), as the
 * reference bridge does; undefined for an attachment without addresses.
 */
export function masqueradeTransaction(network: string, podOwner: string, ips: readonly IPConfig[]): Transaction | undefined {
  const addresses = podAddresses(ips);
  if (addresses.length === 0) return undefined;
  const tx = new Transaction(MASQ_TABLE).add({ kind: 'table' });
  tx.add({ kind: 'map', name: MASQ_MAP[4], type: 'ipv4_addr : verdict' });
  tx.add({ kind: 'map', name: MASQ_MAP[6], type: 'ipv6_addr : verdict' });
  // Base and subnet chains are rewritten whole each time: idempotent whoever made them, and
  // atomic with the rest (concurrent ADDs each write the same thing).
  tx.add({ kind: 'chain', name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat' });
  tx.flush({ kind: 'chain', name: 'postrouting' });
  tx.add({ kind: 'rule', chain: 'postrouting', rule: `ip saddr vmap @${MASQ_MAP[4]}` });
  tx.add({ kind: 'rule', chain: 'postrouting', rule: `ip6 saddr vmap @${MASQ_MAP[6]}` });
  const written = new Set<string>();
  for (const { family, subnet } of addresses) {
    const chain = subnetChain(network, subnet);
    if (written.has(chain)) continue;
    written.add(chain);
    const ip = family === 4 ? 'ip' : 'ip6';
    tx.add({ kind: 'chain', name: chain, comment: `masquerade for ${subnet} of network ${network}` });
    tx.flush({ kind: 'chain', name: chain });
    tx.add({ kind: 'rule', chain, rule: `${ip} daddr ${subnet} return` });
    tx.add({ kind: 'rule', chain, rule: `${ip} daddr ${family === 4 ? '224.0.0.0/4' : 'ff00::/8'} return` });
    tx.add({ kind: 'rule', chain, rule: 'masquerade' });
  }
  for (const { family, address, subnet } of addresses) {
    tx.add({ kind: 'element', map: MASQ_MAP[family], key: [address], value: [`jump ${subnetChain(network, subnet)}`], comment: podOwner });
  }
  return tx;
}

/**
 * Lets only the pod's MAC into the bridge from its host veth, and, when it has addresses, only
 * those as IP sources: a family it has no address of may not be sent at all (IPv6 apart from
 * link-local and DAD, which every interface uses).
 */
export function spoofCheckTransaction(hostVeth: string, podOwner: string, mac: string, ips: readonly IPConfig[]): Transaction {
  const addresses = podAddresses(ips);
  const v4 = addresses.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = addresses.filter((a) => a.family === 6).map((a) => a.address);
  const chain = podChain(hostVeth);
  const tx = new Transaction(SPOOF_TABLE).add({ kind: 'table' });
  tx.add({ kind: 'map', name: PORTS_MAP, type: 'ifname : verdict' });
  tx.add({ kind: 'chain', name: 'prerouting', type: 'filter', hook: 'prerouting', priority: -300 });
  tx.flush({ kind: 'chain', name: 'prerouting' });
  tx.add({ kind: 'rule', chain: 'prerouting', rule: `iifname vmap @${PORTS_MAP}` });
  tx.add({ kind: 'chain', name: chain, comment: `spoof check for ${podOwner}` });
  tx.flush({ kind: 'chain', name: chain });
  tx.add({ kind: 'rule', chain, rule: `ether saddr != ${mac} drop` });
  // An attachment without addresses (empty ipam) is L2 only: its addresses are the pod's business.
  if (v4.length + v6.length > 0) {
    if (v4.length > 0) {
      tx.add({ kind: 'rule', chain, rule: `ether type ip ip saddr != { ${v4.join(', ')} } drop` });
      tx.add({ kind: 'rule', chain, rule: `ether type arp arp saddr ip != { ${[...v4, '0.0.0.0'].join(', ')} } drop` });
    } else {
      tx.add({ kind: 'rule', chain, rule: 'ether type { ip, arp } drop' });
    }
    tx.add({ kind: 'rule', chain, rule: `ether type ip6 ip6 saddr != { ${[...v6, 'fe80::/10', '::'].join(', ')} } drop` });
  }
  tx.add({ kind: 'element', map: PORTS_MAP, key: [`"${hostVeth}"`], value: [`jump ${chain}`], comment: podOwner });
  return tx;
}

/**
 * Removes the pod's masquerade elements, and the subnet chains no other pod uses; undefined
 * when there is nothing of the pod's (or no table).
 */
export function masqueradeRemoval(listing: Pick<TableObjects, 'chains' | 'maps'> | undefined, podOwner: string): Transaction | undefined {
  if (!listing) return undefined;
  const tx = new Transaction(MASQ_TABLE);
  const used = new Set<string>();
  const freed = new Set<string>();
  for (const map of listing.maps) {
    for (const el of map.elements) {
      const target = el.value?.[0]?.replace(/^jump /, '');
      if (el.comment === podOwner) {
        tx.delete({ kind: 'element', map: map.name, key: el.key });
        if (target) freed.add(target);
      } else if (target) {
        used.add(target);
      }
    }
  }
  for (const chain of freed) {
    if (used.has(chain) || !listing.chains.some((c) => c.name === chain)) continue;
    tx.flush({ kind: 'chain', name: chain });
    tx.delete({ kind: 'chain', name: chain });
  }
  return tx.size > 0 ? tx : undefined;
}

/** Removes the pod's spoof-check chain and port element; undefined when there are none. */
export function spoofCheckRemoval(listing: Pick<TableObjects, 'chains' | 'maps'> | undefined, hostVeth: string): Transaction | undefined {
  if (!listing) return undefined;
  const chain = podChain(hostVeth);
  const tx = new Transaction(SPOOF_TABLE);
  const ports = listing.maps.find((m) => m.name === PORTS_MAP);
  const element = ports?.elements.find((el) => el.key[0]?.replace(/"/g, '') === hostVeth);
  if (element) tx.delete({ kind: 'element', map: PORTS_MAP, key: element.key });
  if (listing.chains.some((c) => c.name === chain)) {
    tx.flush({ kind: 'chain', name: chain });
    tx.delete({ kind: 'chain', name: chain });
  }
  return tx.size > 0 ? tx : undefined;
}

/** Which of a pod's rules to remove. */
export interface PodRules {
  /** The owner comment of its masquerade elements (ipMasq). */
  masqueradeOwner?: string;
  /** Its host veth (macspoofchk). */
  spoofCheckPort?: string;
}

export class BridgeFirewall {
  constructor(private readonly nft: Nft) {}

  /** Applies a pod's rule transactions, all tables in one nft batch. */
  async apply(transactions: readonly Transaction[]): Promise<void> {
    await this.nft.runAll(transactions);
  }

  /**
   * Removes a pod's rules (both tables read at once, written in one batch); nothing when there
   * are none. A concurrent ADD may start using a subnet chain between the read and the write,
   * which makes the kernel refuse the chain's deletion and so the batch: it is then read again.
   */
  async remove(pod: PodRules, attempts = 3): Promise<void> {
    const [masq, spoof] = await Promise.all([
      pod.masqueradeOwner !== undefined ? this.nft.listObjects(MASQ_TABLE) : undefined,
      pod.spoofCheckPort !== undefined ? this.nft.listObjects(SPOOF_TABLE) : undefined,
    ]);
    const transactions = [
      pod.masqueradeOwner !== undefined ? masqueradeRemoval(masq, pod.masqueradeOwner) : undefined,
      pod.spoofCheckPort !== undefined ? spoofCheckRemoval(spoof, pod.spoofCheckPort) : undefined,
    ].filter((tx): tx is Transaction => tx !== undefined);
    if (transactions.length === 0) return;
    try {
      await this.nft.runAll(transactions);
    } catch (err) {
      if (attempts <= 1) throw err;
      await this.remove(pod, attempts - 1);
    }
  }
}
