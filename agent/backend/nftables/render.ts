/**
 * NodeState -> the `inet weft` table: the sets of this node's pod addresses, the pod bridge's
 * guard (only known pods send and receive on it), NetworkPolicy (render-policy.ts) and the
 * masquerade of pod traffic leaving the cluster. No base chain is hooked in without a job: each
 * one costs every packet that passes its hook (measured on the pod-to-pod bench), so policy
 * chains exist only while some pod is isolated.
 */
import net from 'node:net';
import type { NodeState } from '../../dataplane/node-state';
import type { Masquerade } from '../../dataplane/node-state';
import type { DesiredChain, DesiredRule, DesiredTable } from './desired';
import { renderBridgeGuard, renderPolicy } from './render-policy';
import { renderServices } from './render-services';

export const LOCAL_PODS_V4 = 'local-pods-v4';
export const LOCAL_PODS_V6 = 'local-pods-v6';

/** One masquerade rule per family the node has a pod subnet in. */
function masqueradeRules(m: Masquerade): DesiredRule[] {
  return ([4, 6] as const).flatMap((family) => {
    const sources = m.sources.filter((c) => net.isIP(c.split('/')[0]) === family);
    if (sources.length === 0) return [];
    const except = m.exceptDestinations.filter((c) => net.isIP(c.split('/')[0]) === family);
    const ip = family === 4 ? 'ip' : 'ip6';
    const not = except.length > 0 ? ` ${ip} daddr != { ${except.join(', ')} }` : '';
    return [{ rule: `${ip} saddr { ${sources.join(', ')} }${not} masquerade`, comment: 'pods to outside the cluster' }];
  });
}

function masqueradeChain(m: Masquerade | undefined): DesiredChain[] {
  if (!m) return [];
  return [{ name: 'postrouting', base: { type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' }, rules: masqueradeRules(m) }];
}

export function renderNodeTable(state: NodeState): DesiredTable {
  const elements = (family: 4 | 6) =>
    state.localPods.flatMap((pod) => pod.ips.filter((ip) => net.isIP(ip) === family).map((ip) => ({ key: [ip], comment: `${pod.namespace}/${pod.name}` })));
  const policy = renderPolicy(state.policy);
  const services = renderServices(state.services);
  return {
    comment: `weft-agent of node ${state.nodeName}: owned by the agent, changes are reverted`,
    sets: [
      { kind: 'set', name: LOCAL_PODS_V4, type: 'ipv4_addr', comment: 'pods on this node', elements: elements(4) },
      { kind: 'set', name: LOCAL_PODS_V6, type: 'ipv6_addr', comment: 'pods on this node', elements: elements(6) },
      ...policy.sets,
      ...services.sets,
    ],
    chains: [
      ...renderBridgeGuard(state.podBridge, { 4: LOCAL_PODS_V4, 6: LOCAL_PODS_V6 }),
      ...policy.chains,
      ...services.chains,
      ...masqueradeChain(state.masquerade),
    ],
    counted: policy.counted,
  };
}
