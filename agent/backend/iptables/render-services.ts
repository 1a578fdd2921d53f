/**
 * Service proxying (ServiceState) -> iptables chains and ipsets of one family, in the shape of
 * kube-proxy's iptables mode, with the semantics of the nftables backend's render-services.ts:
 *
 *   nat PREROUTING/OUTPUT -> PREFIX-SERVICES, only for destinations in the frontend set (one
 *                            ipset lookup: connections to anything else pass at once)
 *   PREFIX-SERVICES       -> one rule per frontend (cluster IP, external IP, load-balancer IP),
 *                            then the node-port addresses -> PREFIX-NODEPORTS (one rule per
 *                            node port)
 *   SVC-ID                -> off-cluster clients to the cluster IP marked for masquerade;
 *                            affinity (`recent`); one endpoint picked by `statistic` rules
 *   EXT-ID                -> externalTrafficPolicy Cluster: mark, then SVC-ID; Local: pods and
 *                            the node itself short-circuit to SVC-ID, other clients keep their
 *                            address and go to the local endpoints (SVX-ID, or SVC-ID when both
 *                            lists are the same)
 *   FW-ID                 -> load-balancer IP with source ranges: allowed sources to EXT-ID
 *   SEP-ID                -> hairpin (the endpoint reaching itself) marked; affinity recorded;
 *                            DNAT to the endpoint
 *   nat POSTROUTING       -> marked packets masqueraded (and the mark cleared)
 *   filter INPUT/FORWARD/OUTPUT, new connections -> PREFIX-SERVICES (filter): load-balancer
 *                            IPs from sources outside their ranges dropped, frontends whose
 *                            endpoints this node may not use dropped, frontends of services
 *                            without endpoints rejected at once (set lookups)
 *
 * iptables has no verdict maps: choosing the service costs one rule per frontend, as in
 * kube-proxy, for the first packet of a connection to a service. The frontend set in front of it
 * keeps that cost off every other connection. nat cannot DROP: where the nftables rendering
 * drops in a service chain, the packet here leaves the nat table without DNAT and the filter
 * table drops it by its (unchanged) destination, as kube-proxy does.
 *
 * Chains are named by hashes of the service port's key and the endpoint (names.ts), so a change
 * to one service's endpoints rewrites its own chains and leaves every other service's alone.
 */
import type { NodeServices } from '../../dataplane/node-state';
import { MASQUERADE_MARK, type ServiceEndpoint, type ServicePortState } from '../../dataplane/service-state';
import { canonicalElement } from '../../../kernel/ipset';
import type { DesiredIpset, DesiredIptablesChain } from './desired';
import { familyOf, type Family, type IptablesNames, type ServiceSet } from './names';
import { peerNets } from './render-policy';

const comment = (text: string) => ['-m', 'comment', '--comment', text];

/** The mark bit as iptables-save prints it ('0x4000'). */
const MARK = `0x${MASQUERADE_MARK.toString(16)}`;

/** The `recent` options iptables-save adds to what kube-proxy writes. */
const RECENT_SOURCE: Record<Family, string[]> = {
  4: ['--mask', '255.255.255.255', '--rsource'],
  6: ['--mask', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '--rsource'],
};

const REJECT_OTHER: Record<Family, string> = { 4: 'icmp-port-unreachable', 6: 'icmp6-port-unreachable' };

const host = (address: string, f: Family) => `${address}/${f === 4 ? 32 : 128}`;
const dport = (p: Pick<ServicePortState, 'protocol'>, port: number) => ['-p', p.protocol, '-m', p.protocol, '--dport', String(port)];
const endpointText = (e: ServiceEndpoint, f: Family) => (f === 4 ? `${e.ip}:${e.port}` : `[${e.ip}]:${e.port}`);
const sameEndpoints = (a: readonly ServiceEndpoint[], b: readonly ServiceEndpoint[]) =>
  a.length === b.length && a.every((e, i) => e.ip === b[i].ip && e.port === b[i].port);

const TWO_31 = 2n ** 31n;

/**
 * `-m statistic --probability` for 1/k as iptables-save prints it: the kernel keeps
 * round(p * 2^31), printed with 11 decimals (glibc rounds exact ties to even). Writing the
 * printed form makes the rule read back equal to what was written.
 */
export function probability(k: number): string {
  const n = BigInt(k);
  const stored = (2n * TWO_31 + n) / (2n * n);
  const scaled = stored * 10n ** 11n;
  let digits = scaled / TWO_31;
  const twice = 2n * (scaled % TWO_31);
  if (twice > TWO_31 || (twice === TWO_31 && digits % 2n === 1n)) digits++;
  const text = digits.toString().padStart(12, '0');
  return `${text.slice(0, -11)}.${text.slice(-11)}`;
}

export interface ServicesRendering {
  /** Chains reached from the hooked ones (nat and filter). */
  chains: DesiredIptablesChain[];
  /** Rules for weft's chains hooked into these built-in chains. */
  natPrerouting: string[][];
  natOutput: string[][];
  /** Before the pod masquerade rules. */
  natPostrouting: string[][];
  /** For each of filter INPUT, FORWARD and OUTPUT. */
  filter: string[][];
  sets: DesiredIpset[];
}

const empty = (): ServicesRendering => ({ chains: [], natPrerouting: [], natOutput: [], natPostrouting: [], filter: [], sets: [] });

/** Frontends as hash:ip,port elements, one set per kind. */
type Frontends = Record<Exclude<ServiceSet, 'cidrs'>, Set<string>>;

/** One family's service ports, added one by one (`port`), then the shared chains and sets (`finish`). */
class FamilyRenderer {
  /** Per service port and endpoint. */
  private readonly chains: DesiredIptablesChain[] = [];
  /** Rules of PREFIX-SERVICES: one per cluster, external and load-balancer IP frontend. */
  private readonly dispatch: string[][] = [];
  /** Rules of PREFIX-NODEPORTS. */
  private readonly nodePorts: string[][] = [];
  private readonly frontends: Frontends = { svc: new Set(), svrej: new Set(), svdrop: new Set(), svfw: new Set() };
  private readonly ipsetFamily: 'inet' | 'inet6';
  /**
   * The set of the cluster's pod ranges. Without any (kube-proxy without --cluster-cidr), no
   * client is masqueraded for coming from outside them, none short-circuited for coming from inside.
   */
  private readonly cidrSet?: string;
  private readonly markChain: string;
  private readonly nodePortAddresses: string[];

  constructor(
    private readonly f: Family,
    private readonly names: IptablesNames,
    private readonly cidrs: string[],
    nodePortAddresses: readonly string[],
  ) {
    this.ipsetFamily = f === 4 ? 'inet' : 'inet6';
    if (cidrs.length > 0) this.cidrSet = names.fixedSet('cidrs', f);
    this.markChain = names.chain('MARK-MASQ');
    this.nodePortAddresses = nodePortAddresses.filter((a) => familyOf(a) === f);
  }

  private element(address: string, protocol: string, port: number): string {
    return canonicalElement('hash:ip,port', this.ipsetFamily, `${address},${protocol}:${port}`);
  }

  /** Every frontend of a port as set elements: cluster IP, external ones, node ports. */
  private frontendElements(p: ServicePortState, external: boolean): { cluster: string; external: string[] } {
    const ext = [...p.externalIps, ...p.loadBalancerIps].map((a) => this.element(a, p.protocol, p.port));
    if (external && p.nodePort !== undefined) for (const a of this.nodePortAddresses) ext.push(this.element(a, p.protocol, p.nodePort));
    return { cluster: this.element(p.clusterIp, p.protocol, p.port), external: ext };
  }

  port(p: ServicePortState): void {
    const external = p.externalIps.length + p.loadBalancerIps.length > 0 || (p.nodePort !== undefined && this.nodePortAddresses.length > 0);
    const elements = this.frontendElements(p, external);
    if (!p.anyEndpoints) {
      // No endpoint anywhere: every frontend is refused at once, in the filter table.
      for (const e of [elements.cluster, ...(external ? elements.external : [])]) this.frontends.svrej.add(e);
      return;
    }
    const { names } = this;
    const label = p.portName ? `${p.service}:${p.portName}` : p.service;

    const endpointChains = new Map<string, string>();
    for (const e of [...p.clusterEndpoints, ...(external ? p.externalEndpoints : [])]) {
      const key = `${e.ip} ${e.port}`;
      if (!endpointChains.has(key)) endpointChains.set(key, this.endpointChain(p, e, label));
    }
    const sep = (e: ServiceEndpoint) => endpointChains.get(`${e.ip} ${e.port}`)!;

    // Cluster IP. Without endpoints for it (internalTrafficPolicy Local, none here) the packet
    // keeps its destination and the filter table drops it.
    let svc: string | undefined;
    if (p.clusterEndpoints.length > 0) {
      svc = names.servicePortChain('SVC', p.key);
      const rules: string[][] = [];
      if (this.cidrSet) {
        rules.push(['-d', host(p.clusterIp, this.f), '-m', 'set', '!', '--match-set', this.cidrSet, 'src', ...comment(`${label}: clients outside the cluster are masqueraded`), '-j', this.markChain]);
      }
      rules.push(...this.selection(p, p.clusterEndpoints, sep, label));
      this.chains.push({ table: 'nat', name: svc, rules });
      this.dispatch.push(['-d', host(p.clusterIp, this.f), ...dport(p, p.port), ...comment(`${label} cluster IP`), '-j', svc]);
      this.frontends.svc.add(elements.cluster);
    } else {
      this.frontends.svdrop.add(elements.cluster);
    }
    if (!external) return;

    // External frontends: external IPs, load-balancer IPs, the node port.
    let toEndpoints: string | undefined;
    if (p.externalEndpoints.length > 0) {
      if (svc && sameEndpoints(p.externalEndpoints, p.clusterEndpoints)) toEndpoints = svc;
      else {
        toEndpoints = names.servicePortChain('SVX', p.key);
        this.chains.push({ table: 'nat', name: toEndpoints, rules: this.selection(p, p.externalEndpoints, sep, label) });
      }
    } else {
      // Endpoints exist, none this node may use for external traffic: what is not short-circuited is dropped.
      for (const e of elements.external) this.frontends.svdrop.add(e);
    }
    const ext = names.servicePortChain('EXT', p.key);
    const rules: string[][] = [];
    if (!p.externalPolicyLocal) {
      rules.push([...comment(`${label}: external clients are masqueraded (externalTrafficPolicy Cluster)`), '-j', this.markChain]);
      if (toEndpoints) rules.push([...comment(`${label}: to any endpoint`), '-j', toEndpoints]);
    } else {
      if (svc) {
        if (this.cidrSet) rules.push(['-m', 'set', '--match-set', this.cidrSet, 'src', ...comment(`${label}: pods go to any endpoint (short circuit)`), '-j', svc]);
        rules.push(['-m', 'addrtype', '--src-type', 'LOCAL', ...comment(`${label}: the node itself is masqueraded`), '-j', this.markChain]);
        rules.push(['-m', 'addrtype', '--src-type', 'LOCAL', ...comment(`${label}: the node itself goes to any endpoint`), '-j', svc]);
      }
      if (toEndpoints) rules.push([...comment(`${label}: external clients keep their address, local endpoints only`), '-j', toEndpoints]);
    }
    this.chains.push({ table: 'nat', name: ext, rules });
    for (const ip of p.externalIps) this.dispatch.push(['-d', host(ip, this.f), ...dport(p, p.port), ...comment(`${label} external IP`), '-j', ext]);
    const firewalled = p.loadBalancerSourceRanges.length > 0 && p.loadBalancerIps.length > 0;
    const lbTarget = firewalled ? names.servicePortChain('FW', p.key) : ext;
    for (const ip of p.loadBalancerIps) this.dispatch.push(['-d', host(ip, this.f), ...dport(p, p.port), ...comment(`${label} load-balancer IP`), '-j', lbTarget]);
    if (firewalled) {
      // Sources outside the ranges leave without DNAT, to the load-balancer IP: the filter
      // table drops them. The node itself is not filtered (as in the nftables rendering,
      // which checks the ranges on arriving traffic only).
      this.chains.push({
        table: 'nat',
        name: lbTarget,
        rules: [
          ...p.loadBalancerSourceRanges.map((r) => ['-s', r, ...comment(`${label}: loadBalancerSourceRanges`), '-j', ext]),
          ['-m', 'addrtype', '--src-type', 'LOCAL', ...comment(`${label}: the node itself`), '-j', ext],
        ],
      });
      for (const ip of p.loadBalancerIps) this.frontends.svfw.add(this.element(ip, p.protocol, p.port));
    }
    if (p.nodePort !== undefined && this.nodePortAddresses.length > 0) {
      this.nodePorts.push([...dport(p, p.nodePort), ...comment(`${label} node port`), '-j', ext]);
    }
    for (const e of elements.external) this.frontends.svc.add(e);
  }

  /** The chain of one endpoint: hairpin mark, affinity record, DNAT. */
  private endpointChain(p: ServicePortState, e: ServiceEndpoint, label: string): string {
    const name = this.names.endpointChain(p.key, e.ip, e.port);
    const affinity = p.affinityTimeoutSeconds !== undefined ? ['-m', 'recent', '--set', '--name', name, ...RECENT_SOURCE[this.f]] : [];
    this.chains.push({
      table: 'nat',
      name,
      rules: [
        ['-s', host(e.ip, this.f), ...comment(`${label}: the endpoint reaching itself (hairpin) is masqueraded`), '-j', this.markChain],
        ['-p', p.protocol, ...affinity, ...comment(`${label}: to endpoint ${endpointText(e, this.f)}`), '-j', 'DNAT', '--to-destination', endpointText(e, this.f)],
      ],
    });
    return name;
  }

  /**
   * Picks one of `endpoints` uniformly: rule i of n matches with probability 1/(n-i), given
   * the earlier ones did not. With affinity, a client seen within the timeout goes to the
   * endpoint it had (xt_recent lists, named after the endpoint chains, as kube-proxy does).
   */
  private selection(p: ServicePortState, endpoints: readonly ServiceEndpoint[], sep: (e: ServiceEndpoint) => string, label: string): string[][] {
    const rules: string[][] = [];
    if (p.affinityTimeoutSeconds !== undefined) {
      for (const e of endpoints) {
        const chain = sep(e);
        rules.push(['-m', 'recent', '--rcheck', '--seconds', String(p.affinityTimeoutSeconds), '--reap', '--name', chain, ...RECENT_SOURCE[this.f], ...comment(`${label}: affinity`), '-j', chain]);
      }
    }
    endpoints.forEach((e, i) => {
      const left = endpoints.length - i;
      const pick = left > 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', probability(left)] : [];
      rules.push([...pick, ...comment(`${label} -> ${endpointText(e, this.f)}`), '-j', sep(e)]);
    });
    return rules;
  }

  finish(): ServicesRendering {
    const { f, names } = this;
    const out = empty();
    const set = (kind: ServiceSet, type: DesiredIpset['type'], elements: Iterable<string>): string => {
      const name = names.fixedSet(kind, f);
      // Every service set only narrows what its rule matches among packets the other rules
      // let through: added to before the rules change, removed from after ('allow' order).
      out.sets.push({ name, type, family: this.ipsetFamily, elements: [...elements], role: 'allow' });
      return name;
    };

    if (this.frontends.svc.size > 0) {
      const dispatch = [...this.dispatch];
      if (this.nodePorts.length > 0) {
        const nodePorts = names.chain('NODEPORTS');
        for (const a of this.nodePortAddresses) dispatch.push(['-d', host(a, f), '-m', 'addrtype', '--dst-type', 'LOCAL', ...comment('node ports'), '-j', nodePorts]);
        out.chains.push({ table: 'nat', name: nodePorts, rules: this.nodePorts });
      }
      const services = names.chain('SERVICES');
      const frontends = set('svc', 'hash:ip,port', this.frontends.svc);
      const enter = ['-m', 'set', '--match-set', frontends, 'dst,dst', ...comment('service frontends'), '-j', services];
      out.natPrerouting.push(enter);
      out.natOutput.push(enter);
      const masquerade = names.chain('MASQ-MARKED');
      out.natPostrouting.push(['-m', 'mark', '--mark', `${MARK}/${MARK}`, ...comment('marked by a service chain'), '-j', masquerade]);
      out.chains.push(
        { table: 'nat', name: services, rules: dispatch },
        ...this.chains,
        { table: 'nat', name: this.markChain, rules: [[...comment('masqueraded in postrouting'), '-j', 'MARK', '--set-xmark', `${MARK}/${MARK}`]] },
        {
          table: 'nat',
          name: masquerade,
          rules: [
            [...comment('the mark is ours: cleared'), '-j', 'MARK', '--set-xmark', `0x0/${MARK}`],
            [...comment('services: off-cluster clients, hairpin, external traffic'), '-j', 'MASQUERADE', '--random-fully'],
          ],
        },
      );
      if (this.cidrSet) set('cidrs', 'hash:net', this.cidrs);
    }

    const checks: string[][] = [];
    if (this.frontends.svfw.size > 0) {
      const s = set('svfw', 'hash:ip,port', this.frontends.svfw);
      checks.push(['-m', 'set', '--match-set', s, 'dst,dst', ...comment('load-balancer IPs: sources outside loadBalancerSourceRanges'), '-j', 'DROP']);
    }
    if (this.frontends.svdrop.size > 0) {
      const s = set('svdrop', 'hash:ip,port', this.frontends.svdrop);
      checks.push(['-m', 'set', '--match-set', s, 'dst,dst', ...comment('services with endpoints this node may not use (traffic policy Local)'), '-j', 'DROP']);
    }
    if (this.frontends.svrej.size > 0) {
      const s = set('svrej', 'hash:ip,port', this.frontends.svrej);
      const reject = names.chain('SVC-REJECT');
      checks.push(['-m', 'set', '--match-set', s, 'dst,dst', ...comment('services without endpoints'), '-j', reject]);
      out.chains.push({
        table: 'filter',
        name: reject,
        rules: [
          ['-p', 'tcp', ...comment('no endpoints: refused at once'), '-j', 'REJECT', '--reject-with', 'tcp-reset'],
          [...comment('no endpoints: refused at once'), '-j', 'REJECT', '--reject-with', REJECT_OTHER[f]],
        ],
      });
    }
    if (checks.length > 0) {
      const filter = names.chain('SERVICES');
      out.chains.push({ table: 'filter', name: filter, rules: checks });
      out.filter.push(['-m', 'conntrack', '--ctstate', 'NEW', ...comment('new connections to services'), '-j', filter]);
    }
    return out;
  }
}

/** The chains, hook rules and sets of service proxying in family `f`. */
export function renderServices(services: NodeServices | undefined, f: Family, names: IptablesNames): ServicesRendering {
  const ports = services?.state.ports.filter((p) => p.family === f) ?? [];
  if (!services || ports.length === 0) return empty();
  const r = new FamilyRenderer(f, names, peerNets(services.clusterCidrs, f), services.state.nodePortAddresses);
  for (const p of ports) r.port(p);
  return r.finish();
}
