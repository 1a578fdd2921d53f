/**
 * A service port in weft's nftables table (backend/nftables/render-services.ts): for each of
 * its frontends and endpoints, the map elements and rules that make it work, looked up in the
 * table as the kernel lists it now. Names follow the renderer's: per-port chains are named by
 * the hash serviceChainName gives (svc-, ext-, svl-, svx-, fw- share it), shared pick chains by
 * protocol and endpoint count, maps by family and protocol.
 */
import type { ServiceEndpoint, ServicePortState } from '../dataplane/service-state';
import { pickChainName, serviceChainName } from '../backend/nftables/render-services';
import { nftPrefix } from '../backend/nftables/render-policy';
import { frontendsOf, frontendText, hostPort, portLabel, type Frontend, type PartEntry, type PortPart } from './service-parts';
import { elementText, keyText, plainComment, type NftListing } from './nft-listing';

/** What one part needs: a set/map element, or a rule of a chain recognised by its comment. */
type Want =
  | { part: PortPart; set: string; key: string[]; value?: string[]; meaning: string; shared?: boolean }
  | { part: PortPart; chain: string; comment: (c: string) => boolean; meaning: string; shared?: boolean; family?: 4 | 6 };

/** Chains of a port with chains of its own, by the renderer's prefixes. */
const ownChain = (p: ServicePortState, prefix: 'svc' | 'ext' | 'svl' | 'svx' | 'fw') => `${prefix}-${serviceChainName(p).slice('svc-'.length)}`;

/** Session affinity and externalTrafficPolicy Local get chains of their own; other ports share pick chains. */
const hasOwnChains = (p: ServicePortState) => p.affinityTimeoutSeconds !== undefined || p.externalPolicyLocal;

function endpointWants(p: ServicePortState, endpoints: readonly ServiceEndpoint[], frontends: readonly Frontend[], list: 'cluster' | 'external'): Want[] {
  const f = p.family;
  const label = portLabel(p);
  const out: Want[] = [];
  endpoints.forEach((e, i) => {
    const part: PortPart = list === 'cluster' ? { cluster: i } : { external: i };
    const address = hostPort(e.ip, e.port);
    const what = `${label}: ${list} endpoint ${i + 1} of ${endpoints.length}, ${address}`;
    const inCluster = list === 'external' && p.clusterEndpoints.some((c) => c.ip === e.ip);
    if (e.local && !inCluster) out.push({ part, set: `hairpin-v${f}`, key: [e.ip, e.ip], meaning: `${address} reaching itself through a service is masqueraded`, shared: true });
    if (!hasOwnChains(p)) {
      for (const fe of frontends) {
        if (fe.kind === 'node port') out.push({ part, set: `nodeport-endpoints-v${f}-${p.protocol}`, key: [String(fe.port), String(i)], value: [e.ip, String(e.port)], meaning: `${what} (node port ${fe.port})` });
        else out.push({ part, set: `endpoints-v${f}-${p.protocol}`, key: [fe.address, String(p.port), String(i)], value: [e.ip, String(e.port)], meaning: `${what} (${fe.kind} ${fe.address})` });
      }
      return;
    }
    // A port with its own chains: a cascade rule per endpoint (render-services.ts cascade()).
    const sameLists = p.externalEndpoints.length === p.clusterEndpoints.length && p.externalEndpoints.every((x, j) => x.ip === p.clusterEndpoints[j].ip && x.port === p.clusterEndpoints[j].port);
    const [chain, word] = list === 'cluster' || (!p.externalPolicyLocal && sameLists) ? [ownChain(p, 'svc'), 'cluster'] : p.externalPolicyLocal ? [ownChain(p, 'svl'), 'local'] : [ownChain(p, 'svx'), 'external'];
    const comment = `${p.service}: ${word} endpoint ${i + 1} of ${endpoints.length}, ${address}`;
    out.push({ part, chain, comment: (c) => c === comment, meaning: what });
    if (p.affinityTimeoutSeconds !== undefined) {
      const affinity = `${p.service}: affinity to ${address}`;
      out.push({ part, chain, comment: (c) => c === affinity, meaning: `${label}: a client seen in the last ${p.affinityTimeoutSeconds} s goes back to ${address}` });
    }
  });
  return out;
}

function frontendWants(p: ServicePortState, frontends: readonly Frontend[]): Want[] {
  const f = p.family;
  const [proto, port] = [p.protocol, String(p.port)];
  const label = portLabel(p);
  const out: Want[] = [];
  const k = p.clusterEndpoints.length;
  const ke = p.externalEndpoints.length;
  frontends.forEach((fe, i) => {
    const part: PortPart = { frontend: i };
    const nodePort = fe.kind === 'node port';
    const key = nodePort ? [proto, String(fe.port)] : [fe.address, proto, port];
    const what = `${label}: ${frontendText(fe)}`;
    // The path packets take to the maps: the NAT hooks and the dispatch rule; without endpoints, the new-connection check.
    if (p.anyEndpoints) {
      for (const hook of ['svc-nat-prerouting', 'svc-nat-output']) out.push({ part, chain: hook, comment: (c) => c === 'service frontends', meaning: `${hook === 'svc-nat-output' ? 'locally sent' : 'arriving'} packets look up the service frontends`, shared: true });
      const dispatch = nodePort ? 'node ports' : 'cluster, external and load-balancer IPs';
      out.push({ part, chain: 'services', comment: (c) => c === dispatch, meaning: `the ${dispatch} map lookup`, shared: true, family: f });
    } else {
      const check = nodePort ? 'node ports without usable endpoints' : 'services without usable endpoints';
      out.push({ part, chain: 'service-endpoints-check', comment: (c) => c === check, meaning: `new connections: the ${check} map lookup`, shared: true, family: f });
    }
    if (fe.kind === 'cluster IP') out.push({ part, set: `cluster-ips-v${f}`, key: [fe.address], meaning: `${fe.address} is a cluster IP (off-cluster clients are masqueraded)`, shared: true });
    if (!p.anyEndpoints) {
      out.push({ part, set: nodePort ? `no-endpoint-nodeports-v${f}` : `no-endpoint-services-v${f}`, key, value: ['goto reject-chain'], meaning: `${what}: no endpoints anywhere, new connections refused` });
      return;
    }
    const set = nodePort ? `service-nodeports-v${f}` : `service-ips-v${f}`;
    if (hasOwnChains(p)) {
      const chain = fe.kind === 'cluster IP' ? ownChain(p, 'svc') : ownChain(p, 'ext');
      out.push({ part, set, key, value: [`goto ${chain}`], meaning: `${what} -> chain ${chain}` });
      if (fe.kind !== 'cluster IP') out.push({ part, chain, comment: () => true, meaning: `${label}: external traffic (externalTrafficPolicy ${p.externalPolicyLocal ? 'Local' : 'Cluster'})` });
    } else {
      const count = fe.kind === 'cluster IP' ? k : ke;
      const pick = pickChainName(f, proto, count);
      const chain = fe.kind === 'cluster IP' ? pick : nodePort ? `np-${pick}` : `ext-${pick}`;
      const endpoints = count === 1 ? 'its endpoint' : `one of ${count} endpoints`;
      out.push({ part, set, key, value: [count === 0 ? 'drop' : `goto ${chain}`], meaning: count === 0 ? `${what}: no endpoint this node may use, dropped` : `${what} -> ${endpoints}` });
      if (count > 0) out.push({ part, chain, comment: () => true, meaning: `to ${endpoints} of the service port (every ${proto.toUpperCase()} service port with ${count})`, shared: true });
    }
    if (fe.kind === 'load-balancer IP' && p.loadBalancerSourceRanges.length > 0) {
      const fw = ownChain(p, 'fw');
      out.push({ part, set: `firewall-ips-v${f}`, key, value: [`goto ${fw}`], meaning: `${what}: only from ${p.loadBalancerSourceRanges.map(nftPrefix).join(', ')}` });
      out.push({ part, chain: fw, comment: () => true, meaning: `${label}: loadBalancerSourceRanges` });
    }
  });
  return out;
}

/** The kernel objects of one service port, each found in `listing` or not. */
export function nftServiceEntries(p: ServicePortState, nodePortAddresses: readonly string[], listing: NftListing): PartEntry[] {
  const frontends = frontendsOf(p, nodePortAddresses);
  const external = frontends.filter((fe) => fe.kind !== 'cluster IP');
  const wants = [
    ...frontendWants(p, frontends),
    ...endpointWants(p, p.clusterEndpoints, frontends.filter((fe) => fe.kind === 'cluster IP'), 'cluster'),
    ...(external.length > 0 ? endpointWants(p, p.externalEndpoints, external, 'external') : []),
  ];
  const out: PartEntry[] = [];
  for (const w of wants) {
    if ('set' in w) {
      const kind = listing.sets.get(w.set)?.type.includes(' : ') ? 'map' : 'set';
      const have = listing.element(w.set, w.key);
      const found = have !== undefined && (w.value === undefined || keyText(have.value ?? []) === keyText(w.value));
      const text = elementText(have && found ? have : { key: w.key, value: w.value });
      out.push({ part: w.part, found, entry: { location: `${kind} ${w.set}`, text, ...(have?.counter ? { counter: have.counter } : {}), meaning: w.meaning, shared: w.shared ?? false } });
      continue;
    }
    // Rules of both families share a comment: with the text listed, the other family's is left out.
    const otherFamily = w.family === 4 ? /\bip6 / : w.family === 6 ? /\bip / : undefined;
    const rules = listing.rulesOf(w.chain).filter((r) => w.comment(plainComment(r.comment)) && !(otherFamily && r.text && otherFamily.test(r.text)));
    if (rules.length === 0) out.push({ part: w.part, found: false, entry: { location: `chain ${w.chain}`, text: '(missing)', meaning: w.meaning, shared: w.shared ?? false } });
    for (const r of rules) {
      out.push({ part: w.part, found: true, entry: { location: `chain ${w.chain}`, text: r.text ?? plainComment(r.comment), ...(r.counter ? { counter: r.counter } : {}), meaning: w.meaning, shared: w.shared ?? false } });
    }
  }
  return out;
}
