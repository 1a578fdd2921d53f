/**
 * NodeState -> the `inet weft` table. Today it holds what every later feature builds on: the
 * sets of this node's pod addresses, and a forward chain that counts traffic to and from them
 * (accept policy: counting changes nothing for packets). NetworkPolicy, Services and the
 * overlay add their sets, maps and chains here.
 */
import net from 'node:net';
import type { NodeState } from '../../dataplane/node-state';
import type { DesiredTable } from './desired';

export const LOCAL_PODS_V4 = 'local-pods-v4';
export const LOCAL_PODS_V6 = 'local-pods-v6';

export function renderNodeTable(state: NodeState): DesiredTable {
  const elements = (family: 4 | 6) =>
    state.localPods.flatMap((pod) => pod.ips.filter((ip) => net.isIP(ip) === family).map((ip) => ({ key: [ip], comment: `${pod.namespace}/${pod.name}` })));
  return {
    comment: `weft-agent of node ${state.nodeName}: owned by the agent, changes are reverted`,
    sets: [
      { kind: 'set', name: LOCAL_PODS_V4, type: 'ipv4_addr', comment: 'pods on this node', elements: elements(4) },
      { kind: 'set', name: LOCAL_PODS_V6, type: 'ipv6_addr', comment: 'pods on this node', elements: elements(6) },
    ],
    chains: [
      {
        name: 'forward',
        base: { type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' },
        rules: [
          { rule: `ip daddr @${LOCAL_PODS_V4} counter`, comment: 'to local pods' },
          { rule: `ip6 daddr @${LOCAL_PODS_V6} counter`, comment: 'to local pods' },
          { rule: `ip saddr @${LOCAL_PODS_V4} counter`, comment: 'from local pods' },
          { rule: `ip6 saddr @${LOCAL_PODS_V6} counter`, comment: 'from local pods' },
        ],
      },
    ],
  };
}
