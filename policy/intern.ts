/**
 * A compiled NodePolicy with every part that means the same as in the previous compile replaced
 * by the previous object itself. The compiler builds everything afresh; the nftables renderer
 * keeps what it rendered per object (render-policy.ts) and the diff skips what is the very
 * object committed last time, so after one pod change only the classes and allowances that
 * changed are rendered and compared again, not the thousands that did not.
 *
 * Correctness never depends on it: an object is reused only when it is equal in every field.
 */
import type { Allowance, DirectionPolicy, NodePolicy, PeerClass, PortRange } from '../agent/dataplane/policy-state';
import { internTiers } from './cluster-policy/intern';

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function samePorts(a: 'all' | readonly PortRange[], b: 'all' | readonly PortRange[]): boolean {
  if (a === 'all' || b === 'all') return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].protocol !== b[i].protocol || a[i].first !== b[i].first || a[i].last !== b[i].last) return false;
  return true;
}

function sameAllowance(a: Allowance, b: Allowance): boolean {
  return a.localIp === b.localIp && samePorts(a.ports, b.ports) && sameStrings(a.policies, b.policies);
}

/** `next`'s allowances, each replaced by its equal in `previous` (by local address) if any; the previous array itself when all are. */
function internAllowances(next: Allowance[], previous: readonly Allowance[] | undefined): Allowance[] {
  if (!previous || next === previous) return next;
  const byIp = new Map(previous.map((a) => [a.localIp, a]));
  let all = next.length === previous.length;
  const out = next.map((a, i) => {
    const old = byIp.get(a.localIp);
    if (old && sameAllowance(a, old)) {
      if (previous[i] !== old) all = false;
      return old;
    }
    all = false;
    return a;
  });
  return all ? (previous as Allowance[]) : out;
}

function internClass(next: PeerClass, previous: PeerClass | undefined): PeerClass {
  // The compiler hands out the same object for a class it did not recompute.
  if (!previous || next === previous) return next;
  const allow = internAllowances(next.allow, previous.allow);
  const cidrs = sameStrings(next.cidrs, previous.cidrs) ? previous.cidrs : next.cidrs;
  if (allow === previous.allow && cidrs === previous.cidrs) return previous;
  return { key: next.key, cidrs, allow };
}

function internClasses(next: PeerClass[], previous: PeerClass[]): PeerClass[] {
  const before = new Map(previous.map((c) => [c.key, c]));
  return next.map((c) => internClass(c, before.get(c.key)));
}

function internDirection(next: DirectionPolicy, previous: DirectionPolicy | undefined): DirectionPolicy {
  if (!previous) return next;
  const classes = next.classes === previous.classes ? previous.classes : internClasses(next.classes, previous.classes);
  const out: DirectionPolicy = {
    isolated: sameStrings(next.isolated, previous.isolated) ? previous.isolated : next.isolated,
    anyPeer: internAllowances(next.anyPeer, previous.anyPeer),
    classes: classes.length === previous.classes.length && classes.every((c, i) => c === previous.classes[i]) ? previous.classes : classes,
  };
  if (next.isolatedBy) out.isolatedBy = next.isolatedBy;
  return out;
}

/** Keeps the last compile of each node, and hands out new compiles with unchanged parts shared. */
export class PolicyInterner {
  private previous: NodePolicy | undefined;

  intern(next: NodePolicy): NodePolicy {
    const previous = this.previous;
    const out: NodePolicy = previous
      ? { ...next, ingress: internDirection(next.ingress, previous.ingress), egress: internDirection(next.egress, previous.egress), ...internTiers(next, previous) }
      : next;
    this.previous = out;
    return out;
  }
}
