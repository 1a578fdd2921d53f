/**
 * Service proxying (ServiceState) -> sets, maps and chains of the `inet weft` table. The packet
 * path is kube-proxy's nftables mode (one verdict-map lookup from destination, protocol and port
 * to what handles the service, then a random or affinity choice of endpoint); the kernel objects
 * behind it are fewer, because at 10,000 services their number is what `nft -f` time grows with.
 *
 *   nat prerouting/output -> `services`: clients outside the cluster reaching a cluster IP are
 *       marked for masquerade (one set lookup); then the verdict map `service-ips-vN` on
 *       (destination, protocol, port), and for node ports `service-nodeports-vN` on (protocol,
 *       port) for this node's node-port addresses:
 *   - a plain service port (no affinity, externalTrafficPolicy Cluster) goes to a chain shared
 *     by every service of its protocol P with the same number of endpoints K: `pick-vN-P-K`
 *     DNATs in one rule to `endpoints-vN-P[destination . port . numgen random mod K]`;
 *     `ext-pick-vN-P-K` marks external traffic for masquerade first; node ports use
 *     `np-pick-vN-P-K` and `nodeport-endpoints-vN-P[port . random]`. An endpoint change is a
 *     few map elements (and the verdict, when K changes): no rule and no chain changes.
 *   - a service port with session affinity or externalTrafficPolicy Local gets chains of its own
 *     (`svc-ID`, `ext-ID`, `svl-ID`): affinity lookups, then a cascade of `numgen random mod k ==
 *     0` rules DNATing in the same rule (recording the client for affinity).
 *   - a port whose endpoints are all on other nodes under a Local policy: `drop`.
 *   nat postrouting -> hairpin (an endpoint reaching itself: source . destination in the set of
 *       endpoint pairs) and marked packets masqueraded.
 *   filter (new connections) -> no endpoints anywhere: rejected at once; load-balancer source
 *       ranges: others dropped.
 *
 * Measured on this kernel at 10,000 services x 10 endpoints (nft 1.0.6, issue #7): kube-proxy's
 * per-endpoint chains (111k chains, 310k rules) load in 13.8 s and make every later `nft` run
 * 1.4-1.6 s (nft lists the chains it may jump to); the cascade with DNAT in the service chain
 * (10k chains, 110k rules) in 4.5 s, 0.1 s per change; a named map per service is superlinear
 * (0.25 s at 1,000, 6.2 s at 10,000), and so is one anonymous vmap per service (47 s, the
 * issue's figure); one endpoint map bound by every service's rule is quadratic (the kernel walks
 * the map for each rule bound to it: 85-140 s). The shared pick chains bind the endpoint map
 * once per K: 1.25 s, 15 ms per endpoint change. Per-service objects are named by hashes of the
 * service port's key, so a change touches only the service port it concerns.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import type { NodeServices } from '../../dataplane/node-state';
import { MASQUERADE_MARK, type ServiceEndpoint, type ServicePortState } from '../../dataplane/service-state';
import { groupedSet, type DesiredChain, type DesiredElement, type DesiredRule, type DesiredSet, type ElementGroup } from './desired';
import { nftPrefix } from './render-policy';

type Family = 4 | 6;

/** The masquerade mark as nft lists it. */
const MARK = `0x${MASQUERADE_MARK.toString(16).padStart(8, '0')}`;

const ip = (f: Family) => (f === 4 ? 'ip' : 'ip6');
const addrType = (f: Family) => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');
const familyOf = (address: string): Family => (net.isIP(address.split('/')[0]) === 6 ? 6 : 4);
const hash = (text: string) => crypto.createHash('sha256').update(text).digest('hex').slice(0, 12);

export const serviceChainName = (p: Pick<ServicePortState, 'key'>): string => `svc-${hash(p.key)}`;
const externalChain = (p: ServicePortState) => `ext-${hash(p.key)}`;
const localChain = (p: ServicePortState) => `svl-${hash(p.key)}`;
const affinitySet = (p: ServicePortState, e: ServiceEndpoint) => `aff-${hash(`${p.key} ${e.ip} ${e.port}`)}`;

/** Shared chains: pick one of K endpoints (cluster-side, external, node port). */
type Protocol = ServicePortState['protocol'];
const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'sctp'];
export const pickChainName = (f: Family, proto: Protocol, k: number): string => `pick-v${f}-${proto}-${k}`;
const externalPickChain = (f: Family, proto: Protocol, k: number) => `ext-pick-v${f}-${proto}-${k}`;
const nodePortPickChain = (f: Family, proto: Protocol, k: number) => `np-pick-v${f}-${proto}-${k}`;

const MAPS = {
  serviceIps: (f: Family) => `service-ips-v${f}`,
  nodePorts: (f: Family) => `service-nodeports-v${f}`,
  endpoints: (f: Family, proto: Protocol) => `endpoints-v${f}-${proto}`,
  nodePortEndpoints: (f: Family, proto: Protocol) => `nodeport-endpoints-v${f}-${proto}`,
  nodePortIps: (f: Family) => `nodeport-ips-v${f}`,
  noEndpoints: (f: Family) => `no-endpoint-services-v${f}`,
  noEndpointNodePorts: (f: Family) => `no-endpoint-nodeports-v${f}`,
  firewall: (f: Family) => `firewall-ips-v${f}`,
  clusterIps: (f: Family) => `cluster-ips-v${f}`,
  clusterCidrs: (f: Family) => `cluster-cidrs-v${f}`,
  hairpin: (f: Family) => `hairpin-v${f}`,
};

const MARK_CHAIN = 'mark-for-masquerade';
const REJECT_CHAIN = 'reject-chain';

function endpointAddress(e: ServiceEndpoint, f: Family): string {
  return f === 4 ? `${e.ip}:${e.port}` : `[${e.ip}]:${e.port}`;
}

/** What one service port adds to its family's shared maps and sets, and which pick chains it uses. */
class FamilyParts {
  /** Per map or set: this port's elements, one group of it (desired.ts ElementGroup). */
  readonly elements = new Map<string, DesiredElement[]>();
  /** "proto k" of the pick chains in use. */
  readonly picks = new Set<string>();
  readonly externalPicks = new Set<string>();
  readonly nodePortPicks = new Set<string>();

  add(map: string, element: DesiredElement): void {
    let list = this.elements.get(map);
    if (!list) this.elements.set(map, (list = []));
    list.push(element);
  }
}

/**
 * Sets whose keys several ports may add: the ports of one service share its cluster IP, and
 * services share endpoints. Their groups are cut down to the keys no earlier port added, so
 * that no key is in two groups (what the grouped diff relies on).
 */
const sharedKeys = (f: Family) => [MAPS.clusterIps(f), MAPS.hairpin(f)];

/** One family's parts of every port: the element groups of each map and set, and the pick chains in use. */
class FamilyTotals {
  readonly groups = new Map<string, ElementGroup[]>();
  readonly picks = new Set<string>();
  readonly externalPicks = new Set<string>();
  readonly nodePortPicks = new Set<string>();
  /** Keys added so far, per set of sharedKeys. */
  private readonly seen: Map<string, Set<string>>;

  constructor(f: Family) {
    this.seen = new Map(sharedKeys(f).map((name) => [name, new Set<string>()]));
  }

  add(port: FamilyParts): void {
    for (const [name, elements] of port.elements) {
      const seen = this.seen.get(name);
      const group = seen ? unseen(elements, seen) : elements;
      if (group.length === 0) continue;
      let list = this.groups.get(name);
      if (!list) this.groups.set(name, (list = []));
      list.push(group);
    }
    for (const x of port.picks) this.picks.add(x);
    for (const x of port.externalPicks) this.externalPicks.add(x);
    for (const x of port.nodePortPicks) this.nodePortPicks.add(x);
  }

  of(name: string): readonly ElementGroup[] {
    return this.groups.get(name) ?? [];
  }
}

/** `elements` whose keys are not in `seen` (added to it); the array itself when all are new. */
function unseen(elements: DesiredElement[], seen: Set<string>): DesiredElement[] {
  const fresh = elements.filter((e) => {
    const key = e.key.join(' ');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return fresh.length === elements.length ? elements : fresh;
}

interface Rendered {
  sets: DesiredSet[];
  chains: DesiredChain[];
}

/** DNAT to the endpoint, recording the client for affinity first. */
function toEndpoint(p: ServicePortState, e: ServiceEndpoint): string {
  const record = p.affinityTimeoutSeconds !== undefined ? `update @${affinitySet(p, e)} { ${ip(p.family)} saddr } ` : '';
  return `${record}meta l4proto ${p.protocol} dnat ${ip(p.family)} to ${endpointAddress(e, p.family)}`;
}

/**
 * A service port's own choice of endpoint: rule i of n matches with probability 1/(n-i), given
 * the earlier ones did not. With affinity, a client seen before goes to the endpoint it had.
 */
function cascade(p: ServicePortState, endpoints: readonly ServiceEndpoint[], what: string): DesiredRule[] {
  if (endpoints.length === 0) return [{ rule: 'drop', comment: `${p.service}: no ${what} endpoint on this node (they are on other nodes)` }];
  const rules: DesiredRule[] = [];
  if (p.affinityTimeoutSeconds !== undefined) {
    for (const e of endpoints) rules.push({ rule: `${ip(p.family)} saddr @${affinitySet(p, e)} ${toEndpoint(p, e)}`, comment: `${p.service}: affinity to ${endpointAddress(e, p.family)}` });
  }
  endpoints.forEach((e, i) => {
    const left = endpoints.length - i;
    const pick = left === 1 ? '' : `numgen random mod ${left} == 0 `;
    rules.push({ rule: `${pick}${toEndpoint(p, e)}`, comment: `${p.service}: ${what} endpoint ${i + 1} of ${endpoints.length}, ${endpointAddress(e, p.family)}` });
  });
  return rules;
}

function servesNodePort(p: ServicePortState, services: NodeServices): p is ServicePortState & { nodePort: number } {
  return p.nodePort !== undefined && services.state.nodePortAddresses.some((a) => familyOf(a) === p.family);
}

const hasClusterCidrs = (services: NodeServices, f: Family) => services.clusterCidrs.some((c) => familyOf(c) === f);

/** A port served through the shared pick chains: its endpoints are map elements. */
function renderShared(p: ServicePortState, services: NodeServices, parts: FamilyParts): void {
  const f = p.family;
  const [proto, port] = [p.protocol, String(p.port)];
  const endpointElements = (frontend: string) => p.clusterEndpoints.map((e, i) => ({ key: [frontend, port, String(i)], value: [e.ip, String(e.port)], comment: p.service }));
  const k = p.clusterEndpoints.length;
  // No endpoint on this node although there are some (internalTrafficPolicy Local): dropped.
  const verdict = (chain: string) => (k === 0 ? ['drop'] : [`goto ${chain}`]);
  parts.add(MAPS.serviceIps(f), { key: [p.clusterIp, proto, port], value: verdict(pickChainName(f, proto, k)), comment: p.service });
  for (const el of endpointElements(p.clusterIp)) parts.add(MAPS.endpoints(f, proto), el);
  if (k > 0) parts.picks.add(`${proto} ${k}`);
  // externalTrafficPolicy Cluster: external frontends use the cluster's endpoints, masqueraded.
  const ke = p.externalEndpoints.length;
  const externalVerdict = (chain: string) => (ke === 0 ? ['drop'] : [`goto ${chain}`]);
  for (const address of [...p.externalIps, ...p.loadBalancerIps]) {
    parts.add(MAPS.serviceIps(f), { key: [address, proto, port], value: externalVerdict(externalPickChain(f, proto, ke)), comment: p.service });
    for (const el of p.externalEndpoints.map((e, i) => ({ key: [address, port, String(i)], value: [e.ip, String(e.port)], comment: p.service }))) parts.add(MAPS.endpoints(f, proto), el);
    if (ke > 0) parts.externalPicks.add(`${proto} ${ke}`);
  }
  if (servesNodePort(p, services)) {
    const nodePort = String(p.nodePort);
    parts.add(MAPS.nodePorts(f), { key: [proto, nodePort], value: externalVerdict(nodePortPickChain(f, proto, ke)), comment: p.service });
    p.externalEndpoints.forEach((e, i) => parts.add(MAPS.nodePortEndpoints(f, proto), { key: [nodePort, String(i)], value: [e.ip, String(e.port)], comment: p.service }));
    if (ke > 0) parts.nodePortPicks.add(`${proto} ${ke}`);
  }
}

/** A port with chains of its own: session affinity, or externalTrafficPolicy Local. */
function renderOwn(p: ServicePortState, services: NodeServices, parts: FamilyParts, out: Rendered): void {
  const f = p.family;
  const [proto, port] = [p.protocol, String(p.port)];
  const svc = serviceChainName(p);
  const endpoints = new Map<string, ServiceEndpoint>();
  for (const e of [...p.clusterEndpoints, ...p.externalEndpoints]) endpoints.set(`${e.ip} ${e.port}`, e);
  if (p.affinityTimeoutSeconds !== undefined) {
    for (const e of endpoints.values()) {
      out.sets.push({ kind: 'set', name: affinitySet(p, e), type: addrType(f), flags: ['dynamic', 'timeout'], timeout: p.affinityTimeoutSeconds, comment: `${p.service}: clients of one endpoint`, elements: [] });
    }
  }
  out.chains.push({ name: svc, rules: cascade(p, p.clusterEndpoints, 'cluster') });
  parts.add(MAPS.serviceIps(f), { key: [p.clusterIp, proto, port], value: [`goto ${svc}`], comment: p.service });

  const nodePort = servesNodePort(p, services);
  if (p.externalIps.length + p.loadBalancerIps.length === 0 && !nodePort) return;
  const ext = externalChain(p);
  const extRules: DesiredRule[] = [];
  if (!p.externalPolicyLocal) {
    // internalTrafficPolicy Local narrows the cluster IP's endpoints, not the external ones.
    const same = p.externalEndpoints.length === p.clusterEndpoints.length && p.externalEndpoints.every((e, i) => e.ip === p.clusterEndpoints[i].ip && e.port === p.clusterEndpoints[i].port);
    const target = same ? svc : `svx-${hash(p.key)}`;
    if (!same) out.chains.push({ name: target, rules: cascade(p, p.externalEndpoints, 'external') });
    extRules.push({ rule: `jump ${MARK_CHAIN}`, comment: `${p.service}: external clients are masqueraded (externalTrafficPolicy Cluster)` });
    extRules.push({ rule: `goto ${target}`, comment: `${p.service}: to any endpoint` });
  } else {
    if (hasClusterCidrs(services, f)) extRules.push({ rule: `${ip(f)} saddr @${MAPS.clusterCidrs(f)} goto ${svc}`, comment: `${p.service}: pods go to any endpoint (short circuit)` });
    extRules.push({ rule: `fib saddr type local jump ${MARK_CHAIN}`, comment: `${p.service}: the node itself is masqueraded` });
    extRules.push({ rule: `fib saddr type local goto ${svc}`, comment: `${p.service}: the node itself goes to any endpoint` });
    extRules.push({ rule: `goto ${localChain(p)}`, comment: `${p.service}: external clients keep their address, local endpoints only` });
    out.chains.push({ name: localChain(p), rules: cascade(p, p.externalEndpoints, 'local') });
  }
  out.chains.push({ name: ext, rules: extRules });
  for (const address of [...p.externalIps, ...p.loadBalancerIps]) parts.add(MAPS.serviceIps(f), { key: [address, proto, port], value: [`goto ${ext}`], comment: p.service });
  if (nodePort) parts.add(MAPS.nodePorts(f), { key: [proto, String(p.nodePort)], value: [`goto ${ext}`], comment: p.service });
}

/** Chains and map elements of one service port. */
function renderPort(p: ServicePortState, services: NodeServices, parts: FamilyParts, out: Rendered): void {
  const f = p.family;
  const [proto, port] = [p.protocol, String(p.port)];
  const externalFrontends = [...p.externalIps, ...p.loadBalancerIps];
  parts.add(MAPS.clusterIps(f), { key: [p.clusterIp] });
  if (!p.anyEndpoints) {
    // No endpoint anywhere: every frontend rejects at once (a filter chain, before any DNAT).
    const reject = [`goto ${REJECT_CHAIN}`];
    for (const address of [p.clusterIp, ...externalFrontends]) parts.add(MAPS.noEndpoints(f), { key: [address, proto, port], value: reject, comment: p.service });
    if (servesNodePort(p, services)) parts.add(MAPS.noEndpointNodePorts(f), { key: [proto, String(p.nodePort)], value: reject, comment: p.service });
    return;
  }
  // Only a pod of this node can reach itself through the node: its pair is all hairpin needs.
  const hairpin = new Set([...p.clusterEndpoints, ...p.externalEndpoints].filter((e) => e.local).map((e) => e.ip));
  for (const address of hairpin) parts.add(MAPS.hairpin(f), { key: [address, address] });
  if (p.affinityTimeoutSeconds !== undefined || p.externalPolicyLocal) renderOwn(p, services, parts, out);
  else renderShared(p, services, parts);
  if (p.loadBalancerSourceRanges.length > 0 && p.loadBalancerIps.length > 0) {
    const fw = `fw-${hash(p.key)}`;
    out.chains.push({ name: fw, rules: [{ rule: `${ip(f)} saddr != { ${p.loadBalancerSourceRanges.map(nftPrefix).join(', ')} } drop`, comment: `${p.service}: loadBalancerSourceRanges` }] });
    for (const address of p.loadBalancerIps) parts.add(MAPS.firewall(f), { key: [address, proto, port], value: [`goto ${fw}`], comment: p.service });
  }
}

/** "proto k" entries as objects, in a stable order. */
const byPick = (xs: Iterable<string>) =>
  [...xs]
    .map((x) => ({ proto: x.split(' ')[0] as Protocol, k: Number(x.split(' ')[1]) }))
    .sort((a, b) => (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : a.k - b.k));

/** One family's shared maps, sets, pick chains and dispatch rules. */
function renderFamily(f: Family, services: NodeServices, parts: FamilyTotals, out: Rendered, hooks: { dispatch: DesiredRule[]; checks: DesiredRule[]; firewall: DesiredRule[]; hairpin: DesiredRule[] }): void {
  const concat = `${addrType(f)} . inet_proto . inet_service : verdict`;
  const portMap = 'inet_proto . inet_service : verdict';
  const lookup = `${ip(f)} daddr . meta l4proto . th dport`;
  const sorted = (xs: Iterable<string>) => [...xs].sort();
  // Frontend elements count what they matched (the first packets of connections, as NAT sees
  // them; refused ones for services without endpoints): weftctl rules shows them per service.
  const counted = new Set([MAPS.serviceIps(f), MAPS.nodePorts(f), MAPS.noEndpoints(f), MAPS.noEndpointNodePorts(f)]);
  const map = (name: string, type: string, comment: string, typeOf?: string): DesiredSet =>
    groupedSet({ kind: 'map', name, type, comment, ...(typeOf !== undefined ? { typeof: typeOf } : {}), ...(counted.has(name) ? { counter: true } : {}) }, parts.of(name));
  // The endpoint maps are declared by expressions (numgen's integer has no type name), one per
  // protocol: DNAT to a port needs the protocol, which nft takes from the map's declaration and
  // checks (`meta l4proto tcp`) before the lookup. (`th dport` there would serve every protocol,
  // but nft 1.0.6 cannot read such a declaration back when a later run adds a rule using it.)
  const endpointMaps = PROTOCOLS.flatMap((proto): DesiredSet[] => [
    map(
      MAPS.endpoints(f, proto),
      `${addrType(f)} . inet_service . integer : ${addrType(f)} . inet_service`,
      `frontend . port . index -> ${proto} endpoint`,
      `${ip(f)} daddr . ${proto} dport . numgen random mod 2 : ${ip(f)} daddr . ${proto} dport`,
    ),
    map(MAPS.nodePortEndpoints(f, proto), `inet_service . integer : ${addrType(f)} . inet_service`, `node port . index -> ${proto} endpoint`, `${proto} dport . numgen random mod 2 : ${ip(f)} daddr . ${proto} dport`),
  ]);
  out.sets.push(
    map(MAPS.serviceIps(f), concat, 'service frontends -> their chain'),
    map(MAPS.nodePorts(f), portMap, 'node ports -> their chain'),
    map(MAPS.noEndpoints(f), concat, 'frontends of services without usable endpoints'),
    map(MAPS.noEndpointNodePorts(f), portMap, 'node ports of services without usable endpoints'),
    map(MAPS.firewall(f), concat, 'load-balancer IPs with source ranges'),
    ...endpointMaps,
    { kind: 'set', name: MAPS.nodePortIps(f), type: addrType(f), comment: 'addresses node ports are served on', elements: sorted(services.state.nodePortAddresses.filter((a) => familyOf(a) === f)).map((a) => ({ key: [a] })) },
    groupedSet({ kind: 'set', name: MAPS.clusterIps(f), type: addrType(f), comment: 'cluster IPs' }, parts.of(MAPS.clusterIps(f))),
    groupedSet({ kind: 'set', name: MAPS.hairpin(f), type: `${addrType(f)} . ${addrType(f)}`, comment: 'every local endpoint reaching itself' }, parts.of(MAPS.hairpin(f))),
  );
  const pickChain = (proto: Protocol, k: number): DesiredChain => ({
    name: pickChainName(f, proto, k),
    rules: [{ rule: `dnat ${ip(f)} to ${ip(f)} daddr . ${proto} dport . numgen random mod ${k} map @${MAPS.endpoints(f, proto)}`, comment: `one of ${k} ${proto} endpoints` }],
  });
  for (const pick of byPick(parts.picks)) out.chains.push(pickChain(pick.proto, pick.k));
  for (const { proto, k } of byPick(parts.externalPicks)) {
    out.chains.push({
      name: externalPickChain(f, proto, k),
      rules: [
        { rule: `jump ${MARK_CHAIN}`, comment: 'external clients are masqueraded (externalTrafficPolicy Cluster)' },
        { rule: `goto ${pickChainName(f, proto, k)}`, comment: `one of ${k} ${proto} endpoints` },
      ],
    });
    // The pick chain exists even when no cluster IP has K endpoints.
    if (!parts.picks.has(`${proto} ${k}`)) out.chains.push(pickChain(proto, k));
  }
  for (const { proto, k } of byPick(parts.nodePortPicks)) {
    out.chains.push({
      name: nodePortPickChain(f, proto, k),
      rules: [
        { rule: `jump ${MARK_CHAIN}`, comment: 'external clients are masqueraded (externalTrafficPolicy Cluster)' },
        { rule: `dnat ${ip(f)} to ${proto} dport . numgen random mod ${k} map @${MAPS.nodePortEndpoints(f, proto)}`, comment: `one of ${k} ${proto} endpoints` },
      ],
    });
  }
  if (hasClusterCidrs(services, f)) {
    const cidrs = sorted(services.clusterCidrs.filter((c) => familyOf(c) === f).map(nftPrefix));
    out.sets.push({ kind: 'set', name: MAPS.clusterCidrs(f), type: addrType(f), flags: ['interval'], comment: "the cluster's pod ranges", elements: cidrs.map((c) => ({ key: [c] })) });
    hooks.dispatch.push({ rule: `${ip(f)} daddr @${MAPS.clusterIps(f)} ${ip(f)} saddr != @${MAPS.clusterCidrs(f)} jump ${MARK_CHAIN}`, comment: 'clients outside the cluster reaching a cluster IP are masqueraded' });
  }
  const nodePortLookup = `fib daddr type local ${ip(f)} daddr @${MAPS.nodePortIps(f)} meta l4proto . th dport`;
  hooks.dispatch.push({ rule: `${lookup} vmap @${MAPS.serviceIps(f)}`, comment: 'cluster, external and load-balancer IPs' });
  hooks.dispatch.push({ rule: `${nodePortLookup} vmap @${MAPS.nodePorts(f)}`, comment: 'node ports' });
  hooks.checks.push({ rule: `${lookup} vmap @${MAPS.noEndpoints(f)}`, comment: 'services without usable endpoints' });
  hooks.checks.push({ rule: `${nodePortLookup} vmap @${MAPS.noEndpointNodePorts(f)}`, comment: 'node ports without usable endpoints' });
  hooks.firewall.push({ rule: `${lookup} vmap @${MAPS.firewall(f)}`, comment: 'load-balancer source ranges' });
  hooks.hairpin.push({ rule: `ct status dnat ${ip(f)} saddr . ${ip(f)} daddr @${MAPS.hairpin(f)} masquerade fully-random`, comment: 'an endpoint reaching itself through its service: masqueraded, so that the reply passes the node' });
}

/** One port's contribution, kept while the port state (memoised by the compiler) and the node's context stay. */
interface PortOutput {
  context: string;
  parts: FamilyParts;
  out: Rendered;
}
const rendered = new WeakMap<ServicePortState, PortOutput>();

/**
 * A port rendered once per state object: an unchanged port gives the same element objects on
 * every sync, which the diff recognises without comparing their contents (desired.ts).
 */
function renderPortOnce(p: ServicePortState, services: NodeServices, context: string): PortOutput {
  const memo = rendered.get(p);
  if (memo && memo.context === context) return memo;
  const output = { context, parts: new FamilyParts(), out: { sets: [], chains: [] } as Rendered };
  renderPort(p, services, output.parts, output.out);
  rendered.set(p, output);
  return output;
}

export function renderServices(services: NodeServices | undefined): Rendered {
  if (!services) return { sets: [], chains: [] };
  const out: Rendered = { sets: [], chains: [] };
  const parts = { 4: new FamilyTotals(4), 6: new FamilyTotals(6) };
  const context = JSON.stringify([services.state.nodePortAddresses, services.clusterCidrs]);
  for (const p of services.state.ports) {
    const port = renderPortOnce(p, services, context);
    parts[p.family].add(port.parts);
    out.sets.push(...port.out.sets);
    out.chains.push(...port.out.chains);
  }
  const hooks = { dispatch: [] as DesiredRule[], checks: [] as DesiredRule[], firewall: [] as DesiredRule[], hairpin: [] as DesiredRule[] };
  for (const f of [4, 6] as const) renderFamily(f, services, parts[f], out, hooks);

  const newConnections = (name: string, hook: 'input' | 'forward' | 'output'): DesiredChain => ({
    name,
    base: { type: 'filter', hook, priority: 'filter - 5', policy: 'accept' },
    rules: [{ rule: 'ct state new jump service-endpoints-check', comment: 'new connections to services without usable endpoints' }],
  });
  out.chains.push(
    { name: 'services', rules: hooks.dispatch },
    { name: 'svc-nat-prerouting', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat', policy: 'accept' }, rules: [{ rule: 'jump services', comment: 'service frontends' }] },
    { name: 'svc-nat-output', base: { type: 'nat', hook: 'output', priority: 'dstnat', policy: 'accept' }, rules: [{ rule: 'jump services', comment: 'service frontends' }] },
    {
      name: 'svc-nat-postrouting',
      base: { type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' },
      rules: [
        ...hooks.hairpin,
        { rule: `meta mark & ${MARK} == 0 return`, comment: 'not marked for masquerade' },
        { rule: `meta mark set meta mark ^ ${MARK}`, comment: 'the mark is ours: cleared' },
        { rule: 'masquerade fully-random', comment: 'marked by a service chain' },
      ],
    },
    { name: MARK_CHAIN, rules: [{ rule: `meta mark set meta mark | ${MARK}`, comment: 'masqueraded in postrouting' }] },
    { name: 'service-endpoints-check', rules: hooks.checks },
    newConnections('svc-filter-input', 'input'),
    newConnections('svc-filter-forward', 'forward'),
    newConnections('svc-filter-output', 'output'),
    { name: 'svc-filter-prerouting', base: { type: 'filter', hook: 'prerouting', priority: 'dstnat - 10', policy: 'accept' }, rules: [{ rule: 'ct state new jump firewall-check', comment: 'load-balancer source ranges' }] },
    { name: 'firewall-check', rules: hooks.firewall },
    {
      name: REJECT_CHAIN,
      rules: [
        { rule: 'meta l4proto tcp reject with tcp reset', comment: 'no endpoints: refused at once' },
        { rule: 'reject', comment: 'no endpoints: refused at once' },
      ],
    },
  );
  return out;
}
