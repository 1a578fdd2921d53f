/**
 * Service proxying (ServiceState) -> sets, verdict maps and chains of the `inet weft` table, in
 * the shape of kube-proxy's nftables mode:
 *
 *   nat prerouting/output  -> services: one verdict-map lookup on (destination, protocol, port)
 *                             -> `svc-ID` (cluster IP) or `ext-ID` (external, load-balancer IP,
 *                             node port on a node-port address)
 *   svc-ID                 -> off-cluster clients marked for masquerade; affinity lookups; one
 *                             endpoint picked at random -> `ep-ID`
 *   ext-ID                 -> externalTrafficPolicy Cluster: mark, then svc-ID; Local: this
 *                             node's pods and the node itself short-circuit to svc-ID, other
 *                             clients keep their address and go to the local endpoints (`svl-ID`)
 *   ep-ID                  -> hairpin (the endpoint reaching itself) marked; affinity recorded;
 *                             DNAT to the endpoint
 *   nat postrouting        -> marked packets masqueraded
 *   filter (new conns)     -> no endpoints anywhere: reject at once; endpoints only elsewhere
 *                             under a Local policy: drop; load-balancer source ranges: drop others
 *
 * A connection's cost does not grow with the number of services: the lookup is one map, and
 * the choice of endpoint costs at most one rule per endpoint of that service. The choice is a
 * cascade of `numgen random mod k` rules, not one anonymous verdict map per service: at 10,000
 * services anonymous maps make `nft -f` superlinear in the kernel (47 s measured), the cascade
 * loads linearly (2.3-2.5 s). Chains, maps and sets are named by hashes of the service port's
 * key (and the endpoint's address), so a change touches only the service port it concerns.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import type { NodeServices } from '../../dataplane/node-state';
import type { ServiceEndpoint, ServicePortState } from '../../dataplane/service-state';
import type { DesiredChain, DesiredElement, DesiredRule, DesiredSet } from './desired';
import { nftPrefix } from './render-policy';

type Family = 4 | 6;

/** The packet mark bit that asks postrouting to masquerade (kube-proxy's). */
export const MASQUERADE_MARK = '0x00004000';

const ip = (f: Family) => (f === 4 ? 'ip' : 'ip6');
const addrType = (f: Family) => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');
const familyOf = (address: string): Family => (net.isIP(address.split('/')[0]) === 6 ? 6 : 4);
const hash = (text: string) => crypto.createHash('sha256').update(text).digest('hex').slice(0, 12);

export const serviceChainName = (p: Pick<ServicePortState, 'key'>): string => `svc-${hash(p.key)}`;
const externalChain = (p: ServicePortState) => `ext-${hash(p.key)}`;
const localChain = (p: ServicePortState) => `svl-${hash(p.key)}`;
const endpointId = (p: ServicePortState, e: ServiceEndpoint) => hash(`${p.key} ${e.ip} ${e.port}`);
export const endpointChainName = (p: ServicePortState, e: ServiceEndpoint): string => `ep-${endpointId(p, e)}`;
const affinitySet = (p: ServicePortState, e: ServiceEndpoint) => `aff-${endpointId(p, e)}`;

const MAPS = {
  serviceIps: (f: Family) => `service-ips-v${f}`,
  nodePortIps: (f: Family) => `nodeport-ips-v${f}`,
  nodePorts: 'service-nodeports',
  noEndpoints: (f: Family) => `no-endpoint-services-v${f}`,
  noEndpointNodePorts: 'no-endpoint-nodeports',
  firewall: (f: Family) => `firewall-ips-v${f}`,
};

const MARK_CHAIN = 'mark-for-masquerade';
const REJECT_CHAIN = 'reject-chain';

function endpointAddress(e: ServiceEndpoint, f: Family): string {
  return f === 4 ? `${e.ip}:${e.port}` : `[${e.ip}]:${e.port}`;
}

/** The chain of one endpoint: hairpin mark, affinity record, DNAT. */
function endpointChain(p: ServicePortState, e: ServiceEndpoint): DesiredChain {
  const f = p.family;
  const rules: DesiredRule[] = [{ rule: `${ip(f)} saddr ${e.ip} jump ${MARK_CHAIN}`, comment: `${p.service}: the endpoint reaching itself (hairpin) is masqueraded` }];
  if (p.affinityTimeoutSeconds !== undefined) rules.push({ rule: `update @${affinitySet(p, e)} { ${ip(f)} saddr }`, comment: `${p.service}: this client sticks to this endpoint` });
  rules.push({ rule: `meta l4proto ${p.protocol} dnat ${ip(f)} to ${endpointAddress(e, f)}`, comment: `${p.service}: to endpoint ${endpointAddress(e, f)}` });
  return { name: endpointChainName(p, e), rules };
}

/**
 * Picks one of `endpoints` uniformly: rule i of n matches with probability 1/(n-i), given the
 * earlier ones did not. With affinity, a client seen before goes to the endpoint it had.
 */
function selectionRules(p: ServicePortState, endpoints: readonly ServiceEndpoint[], what: string): DesiredRule[] {
  const rules: DesiredRule[] = [];
  if (endpoints.length === 0) return [{ rule: 'drop', comment: `${p.service}: no ${what} endpoint on this node (they are on other nodes)` }];
  if (p.affinityTimeoutSeconds !== undefined) {
    for (const e of endpoints) rules.push({ rule: `${ip(p.family)} saddr @${affinitySet(p, e)} goto ${endpointChainName(p, e)}`, comment: `${p.service}: affinity` });
  }
  endpoints.forEach((e, i) => {
    const left = endpoints.length - i;
    const rule = left === 1 ? `goto ${endpointChainName(p, e)}` : `numgen random mod ${left} == 0 goto ${endpointChainName(p, e)}`;
    rules.push({ rule, comment: `${p.service}: ${what} endpoint ${i + 1} of ${endpoints.length}` });
  });
  return rules;
}

interface Rendered {
  sets: DesiredSet[];
  chains: DesiredChain[];
}

function hasExternal(p: ServicePortState, nodePortAddresses: readonly string[]): boolean {
  return p.externalIps.length + p.loadBalancerIps.length > 0 || (p.nodePort !== undefined && nodePortAddresses.some((a) => familyOf(a) === p.family));
}

/** Chains and map elements of one service port. */
function renderPort(p: ServicePortState, services: NodeServices, out: Rendered, elements: Record<string, DesiredElement[]>): void {
  const f = p.family;
  const proto = p.protocol;
  const port = String(p.port);
  const svc = serviceChainName(p);
  const external = hasExternal(p, services.state.nodePortAddresses);
  const add = (map: string, element: DesiredElement) => (elements[map] ??= []).push(element);
  const externalFrontends = [...p.externalIps, ...p.loadBalancerIps];

  if (!p.anyEndpoints) {
    // No endpoint anywhere: every frontend rejects at once (a filter chain, before any DNAT).
    const reject = [`goto ${REJECT_CHAIN}`];
    for (const address of [p.clusterIp, ...externalFrontends]) add(MAPS.noEndpoints(f), { key: [address, proto, port], value: reject, comment: p.service });
    if (p.nodePort !== undefined && external) add(MAPS.noEndpointNodePorts, { key: [proto, String(p.nodePort)], value: reject, comment: p.service });
    return;
  }

  const endpoints = new Map<string, ServiceEndpoint>();
  for (const e of [...p.clusterEndpoints, ...(external ? p.externalEndpoints : [])]) endpoints.set(`${e.ip} ${e.port}`, e);
  for (const e of endpoints.values()) {
    out.chains.push(endpointChain(p, e));
    if (p.affinityTimeoutSeconds !== undefined) {
      out.sets.push({ kind: 'set', name: affinitySet(p, e), type: addrType(f), flags: ['dynamic', 'timeout'], timeout: p.affinityTimeoutSeconds, comment: `${p.service}: clients of one endpoint`, elements: [] });
    }
  }

  // Cluster IP.
  const clusterRules: DesiredRule[] = [];
  const clusterCidrs = services.clusterCidrs.filter((c) => familyOf(c) === f).map(nftPrefix);
  if (clusterCidrs.length > 0) {
    clusterRules.push({ rule: `${ip(f)} daddr ${p.clusterIp} ${ip(f)} saddr != { ${clusterCidrs.join(', ')} } jump ${MARK_CHAIN}`, comment: `${p.service}: clients outside the cluster are masqueraded` });
  }
  clusterRules.push(...selectionRules(p, p.clusterEndpoints, 'cluster'));
  out.chains.push({ name: svc, rules: clusterRules });
  add(MAPS.serviceIps(f), { key: [p.clusterIp, proto, port], value: [`goto ${svc}`], comment: p.service });

  if (!external) return;
  // External frontends: external IPs, load-balancer IPs, the node port.
  const ext = externalChain(p);
  const extRules: DesiredRule[] = [];
  if (!p.externalPolicyLocal) {
    extRules.push({ rule: `jump ${MARK_CHAIN}`, comment: `${p.service}: external clients are masqueraded (externalTrafficPolicy Cluster)` });
    extRules.push({ rule: `goto ${svc}`, comment: `${p.service}: to any endpoint` });
  } else {
    if (clusterCidrs.length > 0) extRules.push({ rule: `${ip(f)} saddr { ${clusterCidrs.join(', ')} } goto ${svc}`, comment: `${p.service}: pods go to any endpoint (short circuit)` });
    extRules.push({ rule: `fib saddr type local jump ${MARK_CHAIN}`, comment: `${p.service}: the node itself is masqueraded` });
    extRules.push({ rule: `fib saddr type local goto ${svc}`, comment: `${p.service}: the node itself goes to any endpoint` });
    extRules.push({ rule: `goto ${localChain(p)}`, comment: `${p.service}: external clients keep their address, local endpoints only` });
    out.chains.push({ name: localChain(p), rules: selectionRules(p, p.externalEndpoints, 'local') });
  }
  out.chains.push({ name: ext, rules: extRules });
  for (const address of externalFrontends) add(MAPS.serviceIps(f), { key: [address, proto, port], value: [`goto ${ext}`], comment: p.service });
  if (p.nodePort !== undefined && services.state.nodePortAddresses.some((a) => familyOf(a) === f)) {
    add(MAPS.nodePorts, { key: [proto, String(p.nodePort)], value: [`goto ${ext}`], comment: p.service });
  }
  if (p.loadBalancerSourceRanges.length > 0 && p.loadBalancerIps.length > 0) {
    const fw = `fw-${hash(p.key)}`;
    out.chains.push({ name: fw, rules: [{ rule: `${ip(f)} saddr != { ${p.loadBalancerSourceRanges.map(nftPrefix).join(', ')} } drop`, comment: `${p.service}: loadBalancerSourceRanges` }] });
    for (const address of p.loadBalancerIps) add(MAPS.firewall(f), { key: [address, proto, port], value: [`goto ${fw}`], comment: p.service });
  }
}

export function renderServices(services: NodeServices | undefined): Rendered {
  if (!services) return { sets: [], chains: [] };
  const out: Rendered = { sets: [], chains: [] };
  const elements: Record<string, DesiredElement[]> = {};
  for (const p of services.state.ports) renderPort(p, services, out, elements);

  const dispatch: DesiredRule[] = [];
  const checks: DesiredRule[] = [];
  const firewall: DesiredRule[] = [];
  for (const f of [4, 6] as const) {
    const concat = `${addrType(f)} . inet_proto . inet_service : verdict`;
    const lookup = `${ip(f)} daddr . meta l4proto . th dport`;
    out.sets.push({ kind: 'map', name: MAPS.serviceIps(f), type: concat, comment: 'service frontends -> their chain', elements: elements[MAPS.serviceIps(f)] ?? [] });
    out.sets.push({ kind: 'map', name: MAPS.noEndpoints(f), type: concat, comment: 'frontends of services without usable endpoints', elements: elements[MAPS.noEndpoints(f)] ?? [] });
    out.sets.push({ kind: 'map', name: MAPS.firewall(f), type: concat, comment: 'load-balancer IPs with source ranges', elements: elements[MAPS.firewall(f)] ?? [] });
    const nodeIps = services.state.nodePortAddresses.filter((a) => familyOf(a) === f);
    out.sets.push({ kind: 'set', name: MAPS.nodePortIps(f), type: addrType(f), comment: 'addresses node ports are served on', elements: nodeIps.map((a) => ({ key: [a] })) });
    dispatch.push({ rule: `${lookup} vmap @${MAPS.serviceIps(f)}`, comment: 'cluster, external and load-balancer IPs' });
    dispatch.push({ rule: `fib daddr type local ${ip(f)} daddr @${MAPS.nodePortIps(f)} meta l4proto . th dport vmap @${MAPS.nodePorts}`, comment: 'node ports' });
    checks.push({ rule: `${lookup} vmap @${MAPS.noEndpoints(f)}`, comment: 'services without usable endpoints' });
    checks.push({ rule: `fib daddr type local ${ip(f)} daddr @${MAPS.nodePortIps(f)} meta l4proto . th dport vmap @${MAPS.noEndpointNodePorts}`, comment: 'node ports without usable endpoints' });
    firewall.push({ rule: `${lookup} vmap @${MAPS.firewall(f)}`, comment: 'load-balancer source ranges' });
  }
  const portMap = `inet_proto . inet_service : verdict`;
  out.sets.push({ kind: 'map', name: MAPS.nodePorts, type: portMap, comment: 'node ports -> their chain', elements: elements[MAPS.nodePorts] ?? [] });
  out.sets.push({ kind: 'map', name: MAPS.noEndpointNodePorts, type: portMap, comment: 'node ports of services without usable endpoints', elements: elements[MAPS.noEndpointNodePorts] ?? [] });

  const newConnections = (name: string, hook: 'input' | 'forward' | 'output'): DesiredChain => ({
    name,
    base: { type: 'filter', hook, priority: 'filter - 5', policy: 'accept' },
    rules: [{ rule: 'ct state new jump service-endpoints-check', comment: 'new connections to services without usable endpoints' }],
  });
  out.chains.push(
    { name: 'services', rules: dispatch },
    { name: 'svc-nat-prerouting', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat', policy: 'accept' }, rules: [{ rule: 'jump services', comment: 'service frontends' }] },
    { name: 'svc-nat-output', base: { type: 'nat', hook: 'output', priority: 'dstnat', policy: 'accept' }, rules: [{ rule: 'jump services', comment: 'service frontends' }] },
    {
      name: 'svc-nat-postrouting',
      base: { type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' },
      rules: [
        { rule: `meta mark & ${MASQUERADE_MARK} == 0 return`, comment: 'not marked for masquerade' },
        { rule: `meta mark set meta mark ^ ${MASQUERADE_MARK}`, comment: 'the mark is ours: cleared' },
        { rule: 'masquerade fully-random', comment: 'marked by a service chain' },
      ],
    },
    { name: MARK_CHAIN, rules: [{ rule: `meta mark set meta mark | ${MASQUERADE_MARK}`, comment: 'masqueraded in postrouting' }] },
    { name: 'service-endpoints-check', rules: checks },
    newConnections('svc-filter-input', 'input'),
    newConnections('svc-filter-forward', 'forward'),
    newConnections('svc-filter-output', 'output'),
    { name: 'svc-filter-prerouting', base: { type: 'filter', hook: 'prerouting', priority: 'dstnat - 10', policy: 'accept' }, rules: [{ rule: 'ct state new jump firewall-check', comment: 'load-balancer source ranges' }] },
    { name: 'firewall-check', rules: firewall },
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
