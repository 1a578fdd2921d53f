/**
 * Typed ipset objects: what a transaction creates and what `ipset save` reads back.
 */

/** The address family of a set: ipset's names for IPv4 and IPv6. */
export type IpsetFamily = 'inet' | 'inet6';

/**
 * The set types weft writes. Each dimension is matched against one packet field chosen by the
 * `--match-set NAME src,dst,...` flags of the rule that uses the set.
 */
export type IpsetType = 'hash:ip' | 'hash:net' | 'hash:ip,port' | 'hash:ip,port,ip' | 'hash:ip,port,net' | 'hash:net,port' | 'hash:net,iface';

export const IPSET_TYPES: readonly IpsetType[] = ['hash:ip', 'hash:net', 'hash:ip,port', 'hash:ip,port,ip', 'hash:ip,port,net', 'hash:net,port', 'hash:net,iface'];

/** How a set is created. hashsize and maxelem are left to ipset's defaults when absent. */
export interface IpsetHeader {
  type: IpsetType;
  family: IpsetFamily;
  /** The most elements the set may hold (65536 by default); adding beyond fails ("Hash is full"). */
  maxelem?: number;
  /** Initial number of hash buckets; the kernel grows it as elements are added. */
  hashsize?: number;
}

/** One set as `ipset save` prints it. */
export interface SavedIpset {
  name: string;
  /** The type as printed; not necessarily one weft writes. */
  type: string;
  family?: string;
  /** Valued create options as printed (hashsize, maxelem, bucketsize, initval, timeout, ...). */
  options: Record<string, string>;
  /** Create flags without a value (comment, counters, skbinfo, forceadd, ...). */
  flags: string[];
  /** Each element's first word, as printed. */
  elements: string[];
  /**
   * Elements printed with more than their key (a `nomatch` flag, a timeout, a comment, counters):
   * a set weft did not write the way it writes its own.
   */
  decoratedElements: number;
}
