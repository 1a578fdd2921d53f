/**
 * Both data-plane backends on a node namespace, for tests that run the same cases on each: how
 * to make one, and how to tell whether an apply rewrote the chain of a service port.
 */
import { IptablesBackend } from '../../agent/backend/iptables/backend';
import { IptablesNames } from '../../agent/backend/iptables/names';
import { NftablesBackend } from '../../agent/backend/nftables/backend';
import { serviceChainName } from '../../agent/backend/nftables/render-services';
import type { DataPlaneBackend } from '../../agent/dataplane/node-state';
import { IpsetCli } from '../../kernel/ipset';
import { IptablesCli } from '../../kernel/iptables';
import { NftCli } from '../../kernel/nft';

export type BackendKind = DataPlaneBackend['name'];
export const BACKEND_KINDS: readonly BackendKind[] = ['nftables', 'iptables'];

/** The backend as weft-agent makes it (table `weft`, chains WEFT-*), writing in `netns`. */
export function nodeBackend(kind: BackendKind, netns: string): DataPlaneBackend {
  if (kind === 'nftables') return new NftablesBackend(new NftCli({ netns }), 'weft');
  const families = (['ipv4', 'ipv6'] as const).map((family) => new IptablesCli({ family, netns }));
  return new IptablesBackend(families, 'WEFT', new IpsetCli({ netns }));
}

export interface ChainIdentity {
  /** Changes when an apply rewrites the chain. */
  fingerprint: string;
  /** The fingerprint can tell: the chain exists (and, for iptables, has counted packets). */
  telling: boolean;
}

/**
 * What shows that the chain of the service port `key` (its cluster IP chain) was left alone:
 * nftables, the chain's handle (a new chain gets a new one); iptables, its rules' packet
 * counters, which a rewrite (iptables-restore declaring the chain) resets, so some traffic must
 * have gone through it first.
 */
export async function serviceChainIdentity(kind: BackendKind, netns: string, key: string, family: 4 | 6 = 4): Promise<ChainIdentity> {
  if (kind === 'nftables') {
    const objects = await new NftCli({ netns }).listObjects({ family: 'inet', name: 'weft' });
    const handle = objects?.chains.find((c) => c.name === serviceChainName({ key }))?.handle;
    return { fingerprint: String(handle), telling: handle !== undefined };
  }
  const chain = new IptablesNames('WEFT').servicePortChain('SVC', key);
  const nat = await new IptablesCli({ family: family === 4 ? 'ipv4' : 'ipv6', netns }).save('nat');
  const packets = nat.rules.filter((r) => r.chain === chain).map((r) => r.counter?.packets ?? 0);
  return { fingerprint: JSON.stringify(packets), telling: packets.some((n) => n > 0) };
}

/**
 * Everything weft has in the node namespace, as text to compare: nftables, the chains, sets and
 * maps of its table; iptables, its chains and their rules in every table and family, the jumps
 * into them, and its ipsets.
 */
export async function weftObjects(kind: BackendKind, netns: string): Promise<string[]> {
  if (kind === 'nftables') {
    const objects = await new NftCli({ netns }).listObjects({ family: 'inet', name: 'weft' });
    return [...(objects?.chains ?? []).map((c) => `chain ${c.name}`), ...(objects?.sets ?? []).map((s) => `set ${s.name}`), ...(objects?.maps ?? []).map((m) => `map ${m.name}`)].sort();
  }
  const out: string[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    for (const table of ['raw', 'filter', 'nat'] as const) {
      const saved = await new IptablesCli({ family, netns }).save(table);
      out.push(...saved.chains.filter((c) => !c.builtin).map((c) => `${family} ${table} chain ${c.name}`), ...saved.rules.map((r) => `${family} ${table} ${r.chain} ${r.text}`));
    }
  }
  const names = new IptablesNames('WEFT');
  out.push(...(await new IpsetCli({ netns }).save((name) => names.ownsSet(name))).map((s) => `set ${s.name}`));
  return out.sort();
}
