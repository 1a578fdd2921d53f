/**
 * The reference evaluator with its one linear scan replaced by an index: pods by address. A
 * question (trace, a matrix cell) then costs the policies of the two ends, not a pass over
 * every pod of the cluster. The semantics are PolicyEvaluator's, unchanged.
 */
import type { Family } from '../address';
import { podRecordOf, type PodRecord } from '../cluster';
import { PolicyEvaluator } from '../evaluate';
import type { PolicyInput } from '../input';

const key = (family: Family, value: bigint): string => `${family}:${value}`;

export class IndexedEvaluator extends PolicyEvaluator {
  private readonly byAddress = new Map<string, PodRecord[]>();

  constructor(input: PolicyInput) {
    super(input);
    // podRecordOf is memoised: these are the records the base class holds.
    for (const pod of input.pods.map(podRecordOf)) {
      if (!pod.endpoint) continue;
      for (const a of pod.addresses) {
        const list = this.byAddress.get(key(a.family, a.value));
        if (list) list.push(pod);
        else this.byAddress.set(key(a.family, a.value), [pod]);
      }
    }
  }

  override podsAt(address: { family: Family; value: bigint }): PodRecord[] {
    return this.byAddress.get(key(address.family, address.value)) ?? [];
  }
}
