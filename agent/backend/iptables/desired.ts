/**
 * What the iptables backend wants in the kernel: chains (per family, rendered by render*.ts)
 * and ipsets (shared by both families), compared with what iptables-save and ipset save list.
 */
import type { IptablesTableName } from '../../../kernel/iptables';
import type { IpsetFamily, IpsetType } from '../../../kernel/ipset';

export interface DesiredIptablesChain {
  table: IptablesTableName;
  /** e.g. WEFT-FORWARD */
  name: string;
  /** The built-in chain of `table` that jumps to it; absent for chains reached from weft's own. */
  hook?: 'PREROUTING' | 'FORWARD' | 'INPUT' | 'OUTPUT' | 'POSTROUTING';
  /** Each rule's words after `-A CHAIN`, comment included, as iptables-save prints them. */
  rules: string[][];
}

/**
 * How a set's changes are ordered across one sync (ipset changes are not atomic together with
 * the rules; diff-sets.ts explains the order):
 * - 'allow': what isolated pods are allowed. Added before the rules change, removed after.
 *   Service proxying's sets of frontends too (render-services.ts): a rule using one only acts
 *   on packets the other rules leave as they are, so the union is safe while rules change.
 * - 'isolate': which local addresses are isolated. Removed before the rules change, added after
 *   (a newly isolated pod's allowances and chains are in place before it is isolated).
 * - 'admit': the pod addresses the bridge guard lets through. Removed first, added last (a new
 *   pod gets through only once its isolation is in place).
 */
export type SetRole = 'allow' | 'isolate' | 'admit';

export interface DesiredIpset {
  name: string;
  type: IpsetType;
  family: IpsetFamily;
  /** Canonical element texts (as `ipset save` prints them), without duplicates. */
  elements: string[];
  role: SetRole;
}

export interface IptablesRendering {
  chains: { ipv4: DesiredIptablesChain[]; ipv6: DesiredIptablesChain[] };
  sets: DesiredIpset[];
}
