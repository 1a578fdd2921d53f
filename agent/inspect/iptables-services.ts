/**
 * A service port in weft's iptables chains (backend/iptables/render-services.ts, kube-proxy's
 * layout): for each frontend and endpoint, the rules and ipset elements that make it work,
 * looked up in what iptables-save and ipset save list now. Chain names come from the
 * backend's IptablesNames (hashes of the port's key and of the endpoint).
 */
import { canonicalElement } from '../../kernel/ipset';
import type { SavedRule, IptablesTableName } from '../../kernel/iptables';
import type { ServiceEndpoint, ServicePortState } from '../dataplane/service-state';
import type { IptablesNames, ServiceSet } from '../backend/iptables/names';
import { ruleText, type IptablesListing } from './iptables-listing';
import { frontendsOf, frontendText, hostPort, portLabel, type Frontend, type PartEntry, type PortPart } from './service-parts';

type Want =
  | { part: PortPart; set: ServiceSet; element: string; meaning: string; shared?: boolean }
  | { part: PortPart; table: IptablesTableName; chain: string; match: (r: SavedRule) => boolean; meaning: string; shared?: boolean; optional?: boolean };

const host = (address: string, f: 4 | 6) => `${address}/${f === 4 ? 32 : 128}`;

/** `-d ADDRESS/32 ... --dport PORT` of a dispatch rule. */
function matchesFrontend(r: SavedRule, address: string | undefined, f: 4 | 6, port: number): boolean {
  const a = r.args;
  const dport = a.indexOf('--dport');
  if (dport < 0 || a[dport + 1] !== String(port)) return false;
  return address === undefined || (a.includes('-d') && a[a.indexOf('-d') + 1] === host(address, f));
}

class PortWants {
  readonly wants: Want[] = [];
  private readonly label: string;
  /** How the backend's comments name the port: "default/web" or "default/web:http". */
  private readonly commentLabel: string;

  constructor(
    private readonly p: ServicePortState,
    private readonly names: IptablesNames,
  ) {
    this.label = portLabel(p);
    this.commentLabel = p.portName ? `${p.service}:${p.portName}` : p.service;
  }

  private element(address: string, port: number): string {
    return canonicalElement('hash:ip,port', this.p.family === 4 ? 'inet' : 'inet6', `${address},${this.p.protocol}:${port}`);
  }

  private rule(part: PortPart, table: IptablesTableName, chain: string, match: (r: SavedRule) => boolean, meaning: string, extra: { shared?: boolean; optional?: boolean } = {}): void {
    this.wants.push({ part, table, chain, match, meaning, ...extra });
  }

  frontends(frontends: readonly Frontend[], nodePortAddresses: readonly string[]): void {
    const { p, names, label } = this;
    const c = this.commentLabel;
    frontends.forEach((fe, i) => {
      const part: PortPart = { frontend: i };
      const what = `${label}: ${frontendText(fe)}`;
      const elements = fe.kind === 'node port' ? nodePortAddresses.map((a) => this.element(a, fe.port)) : [this.element(fe.address, fe.port)];
      if (!p.anyEndpoints) {
        for (const element of elements) this.wants.push({ part, set: 'svrej', element, meaning: `${what}: no endpoints anywhere, new connections refused` });
        this.rule(part, 'filter', names.chain('SERVICES'), (r) => r.comment === 'services without endpoints', `new connections to services without endpoints are refused`, { shared: true });
        return;
      }
      const external = fe.kind !== 'cluster IP';
      const usable = external ? p.externalEndpoints.length : p.clusterEndpoints.length;
      if (usable === 0) for (const element of elements) this.wants.push({ part, set: 'svdrop', element, meaning: `${what}: no endpoint this node may use, dropped` });
      if (!external && usable === 0) return;
      // The path packets to a frontend take to the dispatch chain: the NAT hooks and their jumps.
      for (const hook of ['PREROUTING', 'OUTPUT']) {
        this.rule(part, 'nat', hook, (r) => r.target === names.chain(hook), `nat ${hook} enters weft's chain`, { shared: true });
        this.rule(part, 'nat', names.chain(hook), (r) => r.target === names.chain('SERVICES'), `${hook === 'OUTPUT' ? 'locally sent' : 'arriving'} packets to a service frontend enter ${names.chain('SERVICES')}`, { shared: true });
      }
      if (fe.kind === 'node port') this.rule(part, 'nat', names.chain('SERVICES'), (r) => r.target === names.chain('NODEPORTS'), `packets to this node's node-port addresses enter ${names.chain('NODEPORTS')}`, { shared: true });
      for (const element of elements) this.wants.push({ part, set: 'svc', element, meaning: `${what}: a service frontend (enters ${names.chain('SERVICES')})`, shared: false });
      if (fe.kind === 'cluster IP') {
        const svc = names.servicePortChain('SVC', p.key);
        this.rule(part, 'nat', names.chain('SERVICES'), (r) => r.target === svc && matchesFrontend(r, fe.address, p.family, fe.port), `${what} -> ${svc}`);
        // Only with the cluster's pod ranges configured (--cluster-cidr).
        this.rule(part, 'nat', svc, (r) => r.comment === `${c}: clients outside the cluster are masqueraded`, `${label}: clients outside the cluster are masqueraded`, { optional: true });
        return;
      }
      const ext = names.servicePortChain('EXT', p.key);
      const firewalled = fe.kind === 'load-balancer IP' && p.loadBalancerSourceRanges.length > 0;
      const target = firewalled ? names.servicePortChain('FW', p.key) : ext;
      if (fe.kind === 'node port') this.rule(part, 'nat', names.chain('NODEPORTS'), (r) => r.target === ext && matchesFrontend(r, undefined, p.family, fe.port), `${what} -> ${ext}`);
      else this.rule(part, 'nat', names.chain('SERVICES'), (r) => r.target === target && matchesFrontend(r, fe.address, p.family, fe.port), `${what} -> ${target}`);
      if (firewalled) {
        this.rule(part, 'nat', target, () => true, `${label}: loadBalancerSourceRanges ${p.loadBalancerSourceRanges.join(', ')}`);
        this.wants.push({ part, set: 'svfw', element: this.element(fe.address, fe.port), meaning: `${what}: other sources dropped` });
      }
      this.rule(part, 'nat', ext, () => true, `${label}: external traffic (externalTrafficPolicy ${p.externalPolicyLocal ? 'Local' : 'Cluster'})`);
    });
  }

  endpoints(list: 'cluster' | 'external'): void {
    const { p, names, label } = this;
    const endpoints = list === 'cluster' ? p.clusterEndpoints : p.externalEndpoints;
    const same = p.externalEndpoints.length === p.clusterEndpoints.length && p.externalEndpoints.every((e, j) => e.ip === p.clusterEndpoints[j].ip && e.port === p.clusterEndpoints[j].port);
    const selection = list === 'cluster' || (same && p.clusterEndpoints.length > 0) ? names.servicePortChain('SVC', p.key) : names.servicePortChain('SVX', p.key);
    endpoints.forEach((e: ServiceEndpoint, i) => {
      const part: PortPart = list === 'cluster' ? { cluster: i } : { external: i };
      const address = hostPort(e.ip, e.port);
      const sep = names.endpointChain(p.key, e.ip, e.port);
      const what = `${label}: ${list} endpoint ${i + 1} of ${endpoints.length}, ${address}`;
      this.rule(part, 'nat', selection, (r) => r.target === sep && r.comment === `${this.commentLabel} -> ${address}`, `${what}: picked`);
      if (p.affinityTimeoutSeconds !== undefined) this.rule(part, 'nat', selection, (r) => r.target === sep && r.comment === `${this.commentLabel}: affinity`, `${label}: a client seen in the last ${p.affinityTimeoutSeconds} s goes back to ${address}`);
      this.rule(part, 'nat', sep, (r) => r.target === 'DNAT' && r.args[r.args.indexOf('--to-destination') + 1] === address, `${what}: DNAT`);
      this.rule(part, 'nat', sep, (r) => r.comment === `${this.commentLabel}: the endpoint reaching itself (hairpin) is masqueraded`, `${address} reaching itself through the service is masqueraded`);
    });
  }
}

/** The kernel objects of one service port, each found in `listing` (this family's) or not. */
export function iptablesServiceEntries(p: ServicePortState, nodePortAddresses: readonly string[], names: IptablesNames, listing: IptablesListing): PartEntry[] {
  const frontends = frontendsOf(p, nodePortAddresses);
  const family = nodePortAddresses.filter((a) => (p.family === 4 ? !a.includes(':') : a.includes(':')));
  const w = new PortWants(p, names);
  w.frontends(frontends, family);
  w.endpoints('cluster');
  if (frontends.some((fe) => fe.kind !== 'cluster IP')) w.endpoints('external');
  const out: PartEntry[] = [];
  for (const want of w.wants) {
    if ('set' in want) {
      const set = names.fixedSet(want.set, p.family);
      out.push({ part: want.part, found: listing.setHas(set, want.element), entry: { location: `ipset ${set}`, text: want.element, meaning: want.meaning, shared: want.shared ?? false } });
      continue;
    }
    const rules = listing.rulesOf(want.table, want.chain).filter(want.match);
    if (rules.length === 0 && !want.optional) out.push({ part: want.part, found: false, entry: { location: `${want.table} ${want.chain}`, text: '(missing)', meaning: want.meaning, shared: want.shared ?? false } });
    for (const r of rules) out.push({ part: want.part, found: true, entry: { location: `${want.table} ${want.chain}`, text: ruleText(r), ...(r.counter ? { counter: r.counter } : {}), meaning: want.meaning, shared: want.shared ?? false } });
  }
  return out;
}
