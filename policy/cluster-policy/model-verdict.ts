/**
 * What a backend does with a compiled NodePolicy for one direction of one packet, in the order
 * the kernel is told to: the Admin tier (the subject's verdict for the peer's class, port and
 * protocol: accept and drop are final, pass goes on), then NetworkPolicy (an isolated address
 * gets what its allowances say), then the Baseline tier, then allowed. Pure; used to check the
 * compiler against the reference evaluator (policy/evaluate.ts), and fit for `weftctl policy
 * trace` to show what the kernel was told.
 */
import type { NodePolicy, TierClass, TierDirection, TierVerdict } from '../../agent/dataplane/policy-state';
import { parseCidrBlock, parseIp, type CidrBlock } from '../address';
import type { DecidedBy } from '../evaluate';
import { DirectionLookup } from '../lookup';
import type { Direction } from '../parse';

export interface TierAnswer {
  verdict: TierVerdict;
  /** The rule that decided, when one did. */
  rule?: string;
  /** The class of the peer address, if it has one. */
  classKey?: string;
}

/** One tier in one direction with its CIDRs parsed once, for repeated lookups. */
export class TierLookup {
  private readonly subjects: Set<string>;
  private readonly blocks: { block: CidrBlock; cls: TierClass }[] = [];

  constructor(tier: TierDirection) {
    this.subjects = new Set(tier.subjects);
    for (const cls of tier.classes) {
      for (const cidr of cls.cidrs) {
        const block = parseCidrBlock(cidr);
        if (!block) throw new TypeError(`tier class ${cls.key} has an invalid CIDR ${cidr}`);
        this.blocks.push({ block, cls });
      }
    }
  }

  /** The tier's verdict for a packet between a local address and a peer (pass: on to the next stage). */
  verdict(localIp: string, peerIp: string, protocol: string, port: number | undefined): TierAnswer {
    if (!this.subjects.has(localIp)) return { verdict: 'pass' };
    const peer = parseIp(peerIp);
    if (!peer) throw new TypeError(`not an address: ${peerIp}`);
    const cls = this.blocks.find(({ block }) => block.family === peer.family && block.first <= peer.value && peer.value <= block.last)?.cls;
    const decision = cls?.decide.find((d) => d.localIp === localIp);
    if (!cls || !decision) return { verdict: 'pass', ...(cls ? { classKey: cls.key } : {}) };
    const range = port === undefined ? undefined : decision.ports.find((r) => r.protocol === protocol && r.first <= port && port <= r.last);
    const rule = range ? range.rule : decision.otherRule;
    return { verdict: range ? range.verdict : decision.other, ...(rule !== undefined ? { rule } : {}), classKey: cls.key };
  }
}

export interface ModelVerdict {
  allowed: boolean;
  decidedBy: DecidedBy;
  /** The tier rule that decided (decidedBy admin or baseline). */
  rule?: string;
  /** NetworkPolicy isolates the local address in this direction (whichever stage decided). */
  isolated: boolean;
}

const EMPTY = { subjects: [], classes: [] };

/** A whole NodePolicy, ready for repeated lookups in both directions. */
export class NodePolicyLookup {
  private readonly stages: Record<Direction, { admin: TierLookup; networkPolicy: DirectionLookup; baseline: TierLookup }>;

  constructor(policy: NodePolicy) {
    const stages = (d: Direction) => ({
      admin: new TierLookup(policy.admin?.[d] ?? EMPTY),
      networkPolicy: new DirectionLookup(policy[d]),
      baseline: new TierLookup(policy.baseline?.[d] ?? EMPTY),
    });
    this.stages = { ingress: stages('ingress'), egress: stages('egress') };
  }

  /**
   * One direction: `localIp` is the end the direction protects (the destination for ingress,
   * the source for egress). `clusterTiers` false: NetworkPolicy only (a pod reaching its own
   * address, which never reaches the node's filter).
   */
  verdict(direction: Direction, localIp: string, peerIp: string, protocol: string, port: number | undefined, clusterTiers = true): ModelVerdict {
    const { admin, networkPolicy, baseline } = this.stages[direction];
    const np = networkPolicy.lookup(localIp, peerIp, protocol, port);
    const decided = (stage: 'admin' | 'baseline', a: TierAnswer): ModelVerdict => ({ allowed: a.verdict === 'accept', decidedBy: stage, ...(a.rule !== undefined ? { rule: a.rule } : {}), isolated: np.isolated });
    if (clusterTiers) {
      const first = admin.verdict(localIp, peerIp, protocol, port);
      if (first.verdict !== 'pass') return decided('admin', first);
    }
    if (np.isolated) return { allowed: np.allowed, decidedBy: 'networkPolicy', isolated: true };
    if (clusterTiers) {
      const last = baseline.verdict(localIp, peerIp, protocol, port);
      if (last.verdict !== 'pass') return decided('baseline', last);
    }
    return { allowed: true, decidedBy: 'default', isolated: false };
  }
}
