/**
 * The ClusterNetworkPolicy tiers of a compile with every class (and list of subjects) that
 * means the same as in the previous compile replaced by the previous object itself, as
 * policy/intern.ts does for NetworkPolicy: the nftables renderer keeps what it rendered per
 * class object (render-cluster-policy.ts) and the diff passes what is the very object committed
 * last time, so a change renders and compares only the classes it touched.
 *
 * Correctness never depends on it: an object is reused only when it is equal in every field.
 */
import type { NodePolicy, TierClass, TierDecision, TierDirection, TierPolicy, TierPortRange } from '../../agent/dataplane/policy-state';

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

const sameRange = (a: TierPortRange, b: TierPortRange) => a.protocol === b.protocol && a.first === b.first && a.last === b.last && a.verdict === b.verdict && a.rule === b.rule;
const sameDecision = (a: TierDecision, b: TierDecision) =>
  a.localIp === b.localIp && a.other === b.other && a.otherRule === b.otherRule && a.ports.length === b.ports.length && a.ports.every((r, i) => sameRange(r, b.ports[i]));

function internClass(next: TierClass, previous: TierClass | undefined): TierClass {
  if (!previous || !sameStrings(next.cidrs, previous.cidrs) || next.decide.length !== previous.decide.length) return next;
  return next.decide.every((d, i) => sameDecision(d, previous.decide[i])) ? previous : next;
}

function internDirection(next: TierDirection, previous: TierDirection | undefined): TierDirection {
  if (!previous) return next;
  const before = new Map(previous.classes.map((c) => [c.key, c]));
  const classes = next.classes.map((c) => internClass(c, before.get(c.key)));
  const subjects = sameStrings(next.subjects, previous.subjects) ? previous.subjects : next.subjects;
  const sameClasses = classes.length === previous.classes.length && classes.every((c, i) => c === previous.classes[i]);
  if (sameClasses && subjects === previous.subjects) return previous;
  return { subjects, classes: sameClasses ? previous.classes : classes };
}

function internTier(next: TierPolicy, previous: TierPolicy | undefined): TierPolicy {
  if (!previous) return next;
  const ingress = internDirection(next.ingress, previous.ingress);
  const egress = internDirection(next.egress, previous.egress);
  return ingress === previous.ingress && egress === previous.egress ? previous : { ingress, egress };
}

/** `next`'s tiers, interned against `previous`'s (absent tiers stay absent). */
export function internTiers(next: NodePolicy, previous: NodePolicy): Pick<NodePolicy, 'admin' | 'baseline'> {
  return {
    ...(next.admin ? { admin: internTier(next.admin, previous.admin) } : {}),
    ...(next.baseline ? { baseline: internTier(next.baseline, previous.baseline) } : {}),
  };
}
