/**
 * Reads what weft's backend has in the kernel now and finds in it the objects of a service
 * port (and, for weftctl rules, of a pod): one inspector per backend, over the backend's own
 * listing (NftablesBackend.listKernel, IptablesBackend.listKernel). Nothing here trusts what the
 * backend committed: the point is to see what the kernel really holds.
 */
import type { DataPlaneBackend } from '../dataplane/node-state';
import type { ServicePortState } from '../dataplane/service-state';
import { IptablesBackend } from '../backend/iptables/backend';
import { NftablesBackend } from '../backend/nftables/backend';
import { IptablesListing } from './iptables-listing';
import { iptablesServiceEntries } from './iptables-services';
import { NftListing } from './nft-listing';
import { nftServiceEntries } from './nftables-services';
import { nftPodEntries } from './nftables-pod';
import { iptablesPodEntries } from './iptables-pod';
import type { PodWords } from './pod-words';
import type { KernelEntry, PartEntry } from './service-parts';

export interface KernelInspector {
  readonly backend: 'nftables' | 'iptables';
  /**
   * The kernel objects of each port (by its key), each found or missing. `withRules`: rule
   * texts and counters too (nftables reads the table twice for them).
   */
  services(ports: readonly ServicePortState[], nodePortAddresses: readonly string[], withRules: boolean): Promise<Map<string, PartEntry[]>>;
  /** Every rule and element that concerns the pod (its addresses), with counters. */
  pod(words: PodWords): Promise<KernelEntry[]>;
}

class NftablesInspector implements KernelInspector {
  readonly backend = 'nftables';
  constructor(private readonly nft: NftablesBackend) {}

  async services(ports: readonly ServicePortState[], nodePortAddresses: readonly string[], withRules: boolean): Promise<Map<string, PartEntry[]>> {
    const listing = new NftListing(await this.nft.listKernel(withRules));
    return new Map(ports.map((p) => [p.key, nftServiceEntries(p, nodePortAddresses, listing)]));
  }

  async pod(words: PodWords): Promise<KernelEntry[]> {
    return nftPodEntries(new NftListing(await this.nft.listKernel(true)), words);
  }
}

class IptablesInspector implements KernelInspector {
  readonly backend = 'iptables';
  constructor(private readonly ipt: IptablesBackend) {}

  async services(ports: readonly ServicePortState[], nodePortAddresses: readonly string[]): Promise<Map<string, PartEntry[]>> {
    const kernel = await this.ipt.listKernel();
    const listings = new Map(kernel.families.map((f) => [f.family === 'ipv4' ? 4 : 6, new IptablesListing(f.tables, kernel.sets)]));
    const empty = new IptablesListing([], []);
    return new Map(ports.map((p) => [p.key, iptablesServiceEntries(p, nodePortAddresses, kernel.names, listings.get(p.family) ?? empty)]));
  }

  async pod(words: PodWords): Promise<KernelEntry[]> {
    return iptablesPodEntries(await this.ipt.listKernel(), words);
  }
}

/** The inspector of a backend weft knows; undefined for others (test fakes). */
export function kernelInspector(backend: DataPlaneBackend): KernelInspector | undefined {
  if (backend instanceof NftablesBackend) return new NftablesInspector(backend);
  if (backend instanceof IptablesBackend) return new IptablesInspector(backend);
  return undefined;
}
