/**
 * Kubernetes words for kernel objects that concern a pod (weftctl rules --pod): which of its
 * addresses a set element or rule holds, which policies isolate it, and which pods the peer
 * addresses and ranges next to it stand for. Read from the policy model of the agent's objects
 * (policy/explain/model.ts), the one trace and explain answer from.
 */
import { parseCidrBlock, parseIp } from '../../policy/address';
import type { PolicyModel } from '../../policy/explain/model';
import type { NodePolicy } from '../dataplane/policy-state';

export type Direction = 'ingress' | 'egress';

/** The addresses an element part or rule word covers: one address, a CIDR, or a range "a-b". */
export function coveredRange(text: string): { family: 4 | 6; first: bigint; last: bigint } | undefined {
  const dash = text.indexOf('-');
  if (dash > 0 && !text.includes('/')) {
    const [a, b] = [parseIp(text.slice(0, dash)), parseIp(text.slice(dash + 1))];
    return a && b && a.family === b.family ? { family: a.family, first: a.value, last: b.value } : undefined;
  }
  if (text.includes('/')) {
    const block = parseCidrBlock(text);
    return block ? { family: block.family, first: block.first, last: block.last } : undefined;
  }
  const a = parseIp(text);
  return a ? { family: a.family, first: a.value, last: a.value } : undefined;
}

/** Whether `text` (address, CIDR or range) is exactly one address of `addresses` (a host CIDR counts). */
export function isOneOf(text: string, addresses: readonly string[]): boolean {
  const r = coveredRange(text);
  return r !== undefined && r.first === r.last && addresses.some((a) => {
    const x = parseIp(a);
    return x !== undefined && x.family === r.family && x.value === r.first;
  });
}

/** Whether `text` (address, CIDR or range) contains one of `addresses`. */
export function containsOneOf(text: string, addresses: readonly string[]): boolean {
  const r = coveredRange(text);
  return r !== undefined && addresses.some((a) => {
    const x = parseIp(a);
    return x !== undefined && x.family === r.family && r.first <= x.value && x.value <= r.last;
  });
}

/** The policies that isolate the pod at `address` for a direction, as the reference evaluator decides (the peer plays no part). */
export function isolatingPolicies(model: PolicyModel, address: string, direction: Direction): string[] {
  const a = parseIp(address);
  return a ? model.evaluator.direction(direction, a, a, 'tcp', 1).policies : [];
}

export class PodWords {
  constructor(
    readonly model: PolicyModel,
    /** "namespace/name" */
    readonly pod: string,
    readonly addresses: readonly string[],
    /**
     * The policies the kernel may hold (InspectSources.tierPolicies): which ClusterNetworkPolicy
     * rule a tier's set element stands for (iptables).
     */
    readonly tierPolicies: readonly NodePolicy[] = [],
  ) {}

  /** The policies that isolate the pod for a direction (none: it is not isolated). */
  isolatedBy(direction: Direction): string[] {
    const own = this.model.pod(this.pod);
    return own ? isolatingPolicies(this.model, own.address, direction) : [];
  }

  /** "10.244.1.2 (default/pod-1-0)"; a range with the pods in it, a few by name. */
  peer(text: string): string {
    const r = coveredRange(text);
    if (!r) return text;
    if (r.first === r.last) {
      const pod = this.model.pods.find((p) => p.addresses.some((x) => {
        const a = parseIp(x);
        return a !== undefined && a.family === r.family && a.value === r.first;
      }));
      return pod ? `${text} (${pod.id})` : text;
    }
    const inside = this.model.pods.filter((p) => p.addresses.some((x) => {
      const a = parseIp(x);
      return a !== undefined && a.family === r.family && r.first <= a.value && a.value <= r.last;
    }));
    if (inside.length === 0) return `${text} (no known pod)`;
    const names = inside.slice(0, 3).map((p) => p.id).join(', ');
    return `${text} (${names}${inside.length > 3 ? ` and ${inside.length - 3} more pods` : ''})`;
  }
}
