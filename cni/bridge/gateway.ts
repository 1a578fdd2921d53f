/**
 * The bridge as the pods' gateway (isGateway): it carries each gateway address with the prefix of
 * its subnet. An address of the same subnet that is not the gateway blocks the ADD unless
 * forceAddress allows replacing it; addresses of other subnets (other networks sharing the
 * bridge) stay.
 *
 * What this changes is registered with the ADD's rollback, to be undone only while no other pod
 * uses the bridge (`stillOurs`): a concurrent ADD may already rely on the gateway address.
 */
import { isNetlinkError, type NetlinkHandle } from '../../kernel/netlink';
import { parseAddress, parseCidr, sameAddress, subnetContains } from '../../ipam/address';
import type { Rollback } from '../attach/rollback';
import { CniError, ErrorCode, type IPConfig } from '../types';
import type { BridgeConfig } from './config';

export interface GatewayUndo {
  rollback: Rollback;
  /** True when no other attachment uses the bridge, so undoing cannot hurt anyone. */
  stillOurs: () => Promise<boolean>;
}

export async function ensureGatewayAddresses(nl: NetlinkHandle, cfg: BridgeConfig, ips: readonly IPConfig[], undo: GatewayUndo): Promise<void> {
  const unlessShared = (step: () => Promise<void>) => async () => {
    if (await undo.stillOurs()) await step();
  };
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
      undo.rollback.push(
        `restore ${other.cidr} on ${cfg.bridge}`,
        unlessShared(() => ignoreExisting(nl.addresses.add(cfg.bridge, other.cidr, { noDad: true }))),
      );
    }
    try {
      await nl.addresses.add(cfg.bridge, wanted, { noDad: true });
    } catch (err) {
      if (!isNetlinkError(err, 'EEXIST')) throw err;
      continue; // another ADD added it meanwhile: it is that one's to keep
    }
    undo.rollback.push(
      `remove gateway ${wanted} from ${cfg.bridge}`,
      unlessShared(() => nl.addresses.delete(cfg.bridge, wanted)),
    );
  }
}

async function ignoreExisting(adding: Promise<void>): Promise<void> {
  try {
    await adding;
  } catch (err) {
    if (!isNetlinkError(err, 'EEXIST')) throw err;
  }
}
