/**
 * The bridge as the pods' gateway (isGateway): it carries each gateway address with the prefix of
 * its subnet. An address of the same subnet that is not the gateway blocks the ADD unless
 * forceAddress allows replacing it; addresses of other subnets (other networks sharing the
 * bridge) stay.
 */
import { isNetlinkError, type NetlinkHandle } from '../../kernel/netlink';
import { parseAddress, parseCidr, sameAddress, subnetContains } from '../../ipam/address';
import { CniError, ErrorCode, type IPConfig } from '../types';
import type { BridgeConfig } from './config';

export async function ensureGatewayAddresses(nl: NetlinkHandle, cfg: BridgeConfig, ips: readonly IPConfig[]): Promise<void> {
  for (const ip of ips) {
    if (!ip.gateway) continue;
    const subnet = parseCidr(ip.address);
    const gateway = parseAddress(ip.gateway);
    if (!subnet || !gateway) throw new CniError(ErrorCode.InvalidNetworkConfig, `invalid gateway ${ip.gateway} for ${ip.address}`);
    const wanted = `${ip.gateway}/${subnet.prefix}`;
    const present = await nl.addresses.list({ link: cfg.bridge, family: subnet.address.family });
    const isGateway = (address: string) => {
      const parsed = parseAddress(address);
      return parsed !== undefined && sameAddress(parsed, gateway);
    };
    if (present.some((a) => a.prefixLength === subnet.prefix && isGateway(a.address))) continue;
    for (const other of present) {
      const otherCidr = parseCidr(other.cidr);
      if (!otherCidr || !subnetContains(subnet, otherCidr.address)) continue;
      if (!cfg.forceAddress) {
        throw new CniError(ErrorCode.InvalidNetworkConfig, `bridge ${cfg.bridge} already has ${other.cidr} in the subnet of gateway ${wanted}`, 'set forceAddress to replace it');
      }
      await nl.addresses.delete(cfg.bridge, other.cidr);
    }
    try {
      await nl.addresses.add(cfg.bridge, wanted, { noDad: true });
    } catch (err) {
      if (!isNetlinkError(err, 'EEXIST')) throw err; // another ADD added it meanwhile
    }
  }
}
