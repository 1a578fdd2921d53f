/**
 * The addresses this node serves node ports on, from its Node object's status.addresses (the
 * compiler is pure: it reads what the kubelet reported, not the kernel's interfaces), chosen
 * the way kube-proxy's --nodeport-addresses chooses among interface addresses. Pure.
 */
import type { ServiceProblem } from '../dataplane/service-state';
import type { KubeObject } from '../objects';
import { parseServiceIp, sortIps, type IpFamily } from './addresses';
import { isRecord } from './fields';
import { parseCidr, parseAddress, subnetContains, type Cidr } from '../../ipam/address';

export interface ProxyConfig {
  /**
   * 'primary': the Node's InternalIP addresses of each family (its ExternalIP addresses for a
   * family it has no InternalIP of), like kube-proxy's `--nodeport-addresses primary`.
   * A list of CIDRs: the Node's addresses inside them. As in kube-proxy, a family no CIDR of
   * the list belongs to is not restricted (all of the Node's addresses of that family), so an
   * empty list means every address.
   */
  nodePortAddresses: 'primary' | string[];
}

/** The object name problems with the configuration are reported under. */
export const CONFIG_OBJECT = 'nodePortAddresses';

interface NodeAddress {
  type: 'InternalIP' | 'ExternalIP';
  ip: string;
  family: IpFamily;
}

function nodeAddresses(node: KubeObject): NodeAddress[] {
  const list = node.status?.addresses;
  if (!Array.isArray(list)) return [];
  const out: NodeAddress[] = [];
  for (const entry of list as unknown[]) {
    // Hostname and DNS entries are names, not addresses: they cannot carry node ports.
    if (!isRecord(entry) || (entry.type !== 'InternalIP' && entry.type !== 'ExternalIP')) continue;
    const ip = parseServiceIp(entry.address);
    if (ip) out.push({ type: entry.type, ip: ip.ip, family: ip.family });
  }
  return out;
}

function primary(addresses: readonly NodeAddress[]): string[] {
  const out: string[] = [];
  for (const family of [4, 6] as const) {
    const ofFamily = addresses.filter((a) => a.family === family);
    const internal = ofFamily.filter((a) => a.type === 'InternalIP');
    out.push(...(internal.length > 0 ? internal : ofFamily).map((a) => a.ip));
  }
  return out;
}

/** Bad CIDRs in the configuration are reported in `problems` and ignored; without a Node, no address. */
export function compileNodePortAddresses(node: KubeObject | undefined, config: ProxyConfig, problems: ServiceProblem[]): string[] {
  const cidrs: Cidr[] = [];
  if (config.nodePortAddresses !== 'primary') {
    for (const text of config.nodePortAddresses) {
      const cidr = parseCidr(text);
      if (cidr) cidrs.push(cidr);
      else problems.push({ object: CONFIG_OBJECT, reason: `${JSON.stringify(text)} is not a CIDR: ignored` });
    }
  }
  if (!node) return [];
  const addresses = nodeAddresses(node);
  if (config.nodePortAddresses === 'primary') return sortIps(primary(addresses));
  const restricted = new Set(cidrs.map((c) => c.address.family));
  return sortIps(
    addresses
      .filter((a) => !restricted.has(a.family) || cidrs.some((c) => subnetContains(c, parseAddress(a.ip)!)))
      .map((a) => a.ip),
  );
}
