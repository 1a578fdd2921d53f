/**
 * A macvlan brings a MAC address the network has never seen, often with an IP address another
 * device had a moment ago. With arp_notify and ndisc_notify on, the kernel announces the
 * interface's addresses (gratuitous ARP, unsolicited neighbour advertisement) when the link comes
 * up, so neighbours and switches update at once instead of after their caches time out; the
 * reference plugin turns both on for the same reason.
 */
import { SysctlError, writeSysctl } from '../../kernel/sysctl';

/** Turns announcements on for `ifName` in `netns`; must run before the link is brought up. */
export function announceAddressesOnUp(netns: string, ifName: string): void {
  for (const key of [`net/ipv4/conf/${ifName}/arp_notify`, `net/ipv6/conf/${ifName}/ndisc_notify`]) {
    try {
      writeSysctl(netns, key, 1);
    } catch (err) {
      // No such key: the family is disabled in that namespace, so there is nothing to announce.
      if (!(err instanceof SysctlError && err.code === 'ENOENT')) throw err;
    }
  }
}
