/**
 * What a namespace holds that a CNI plugin could change: links (with kind, master and state),
 * addresses, routes and the nftables ruleset. Two snapshots equal means nothing was left behind.
 */
import { systemBinary } from '../../kernel/exec';
import { withNetlink } from '../../kernel/netlink';
import { runIn } from '../../lab/probe';

export interface NetnsSnapshot {
  links: string[];
  addresses: string[];
  routes: string[];
  ruleset: string;
}

export async function snapshot(netns: string): Promise<NetnsSnapshot> {
  const { links, addresses, routes } = await withNetlink(netns, async (nl) => {
    const all = await nl.links.list();
    const nameOf = (index?: number) => all.find((l) => l.index === index)?.name ?? String(index);
    return {
      links: all.map((l) => `${l.name} ${l.kind ?? ''} master=${nameOf(l.masterIndex)} up=${l.up} mtu=${l.mtu}`).sort(),
      // IPv6 link-local addresses come and go with links, which `links` already covers.
      addresses: (await nl.addresses.list()).filter((a) => !a.address.startsWith('fe80:')).map((a) => `${nameOf(a.index)} ${a.cidr}`).sort(),
      routes: (await nl.routes.list()).filter((r) => !r.dst.startsWith('fe80:')).map((r) => `${r.dst} via ${r.gateway ?? '-'} table ${r.table}`).sort(),
    };
  });
  const nft = await runIn(netns, systemBinary('nft'), ['list', 'ruleset']);
  return { links, addresses, routes, ruleset: nft.stdout };
}
