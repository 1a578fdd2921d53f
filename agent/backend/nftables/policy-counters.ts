/**
 * Per-policy counters from the per-element counters of the policy sets: an allowance element
 * counts the new connections (and the packets before conntrack knew them) it let through, a
 * drop-set element the packets dropped at one isolated pod. Each element stands for the
 * policies the renderer named (CountedElement); a packet allowed by two policies' identical
 * rules counts for both, and a drop counts for every policy isolating the pod. A
 * ClusterNetworkPolicy tier's verdict map elements count for the policy of the rule deciding
 * them (render-cluster-policy.ts).
 */
import type { Counter, TableObjects } from '../../../kernel/nft';
import type { PolicyCounter } from '../../dataplane/policy-state';
import type { CountedElement } from './desired';

const keyText = (key: readonly string[]) => key.join(' . ');

export function policyCounters(counted: readonly CountedElement[], listing: TableObjects | undefined): PolicyCounter[] {
  const read = new Map<string, Map<string, Counter>>();
  // Maps too: a ClusterNetworkPolicy tier's elements are verdict map elements.
  for (const set of [...(listing?.sets ?? []), ...(listing?.maps ?? [])]) {
    if (!set.counter) continue;
    read.set(set.name, new Map(set.elements.filter((e) => e.counter).map((e) => [keyText(e.key), e.counter!])));
  }
  const sums = new Map<string, PolicyCounter>();
  for (const element of counted) {
    const counter = read.get(element.set)?.get(keyText(element.key));
    for (const policy of element.policies) {
      const id = `${element.direction} ${policy}`;
      let sum = sums.get(id);
      if (!sum) sums.set(id, (sum = { policy, direction: element.direction, allowed: { packets: 0, bytes: 0 }, dropped: { packets: 0, bytes: 0 } }));
      if (!counter) continue;
      sum[element.verdict].packets += counter.packets;
      sum[element.verdict].bytes += counter.bytes;
    }
  }
  return [...sums.values()].sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : a.direction < b.direction ? -1 : a.direction > b.direction ? 1 : 0));
}
