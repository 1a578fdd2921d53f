/** Address tests for the rule interpreters of the iptables unit tests. */
import { parseAddress, parseCidr, subnetContains, type Address } from '../../ipam/address';

/** A valid address (the interpreters only see what the renderers wrote). */
export const addr = (text: string): Address => parseAddress(text)!;

/** `address` is in `net` (a CIDR, or a bare address meaning itself), of the same family. */
export function inNet(address: string, net: string): boolean {
  const c = parseCidr(net.includes('/') ? net : `${net}/${addr(net).family === 4 ? 32 : 128}`);
  return c !== undefined && addr(address).family === c.address.family && subnetContains(c, addr(address));
}
