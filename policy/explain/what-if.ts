/**
 * `policy what-if`: the connections among known pods that applying (or deleting) NetworkPolicy
 * objects would newly allow or newly deny. A policy changes the verdict of a connection only
 * through the pods it selects (the destination for ingress, the source for egress), so only
 * connections to or from those pods are compared: the ports each destination declares, and
 * any ports asked for.
 */
import type { KubeObject } from '../../agent/objects';
import type { Direction, ParsedPolicy } from '../parse';
import { parsePolicy } from '../parse';
import { selectorMatches } from '../selector';
import type { DirectionExplanation } from './direction';
import { declaredPorts, podsOfNamespaces } from './matrix';
import type { ModelPod, PolicyModel } from './model';
import { NotFoundError, portSpecText, QueryError, uniquePortSpecs, type PortSpec } from './query';
import { tracePath } from './trace';

export interface WhatIfRequest {
  policies: readonly KubeObject[];
  /** Delete these policies (by namespace and name) instead of applying them. */
  delete?: boolean;
  /** Ports checked on every destination besides those it declares. */
  ports?: readonly PortSpec[];
  /** Pods of these namespaces only (all when empty). */
  namespaces?: readonly string[];
}

export interface ConnectionChange {
  from: string;
  to: string;
  port: string;
  /** The directions whose verdict changed, explained as they would be after the change. */
  because: string[];
}

export interface WhatIfResult {
  action: 'apply' | 'delete';
  policies: string[];
  /** Connections compared: those to or from a pod the policies select, before or after. */
  checked: number;
  newlyAllowed: ConnectionChange[];
  newlyDenied: ConnectionChange[];
}

const idOf = (o: KubeObject): string => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;

function checkedPolicies(model: PolicyModel, request: WhatIfRequest): { ids: string[]; changed: KubeObject[]; after: KubeObject[] } {
  if (request.policies.length === 0) throw new QueryError('no NetworkPolicy given');
  for (const o of request.policies) {
    if (o.kind !== 'NetworkPolicy') throw new QueryError(`${o.kind} ${idOf(o)}: what-if takes NetworkPolicy objects only`);
  }
  const ids = request.policies.map(idOf);
  const current = new Map(model.policyObjects.map((o) => [idOf(o), o]));
  if (request.delete) {
    const missing = ids.filter((id) => !current.has(id));
    if (missing.length > 0) throw new NotFoundError(`no NetworkPolicy ${missing.join(', ')} in ${model.source} to delete`);
    const gone = new Set(ids);
    return { ids, changed: ids.map((id) => current.get(id)!), after: model.policyObjects.filter((o) => !gone.has(idOf(o))) };
  }
  for (const o of request.policies) {
    const parsed = parsePolicy(o);
    if (!parsed.ok) throw new QueryError(`NetworkPolicy ${parsed.policy} is invalid (the API server would refuse it): ${parsed.reason}`);
  }
  // Applying replaces a policy of the same name, as kubectl apply does; the last of a name wins.
  const applied = new Map(request.policies.map((o) => [idOf(o), o]));
  const replaced = [...applied.keys()].flatMap((id) => (current.has(id) ? [current.get(id)!] : []));
  return { ids: [...applied.keys()], changed: [...replaced, ...applied.values()], after: [...model.policyObjects.filter((o) => !applied.has(idOf(o))), ...applied.values()] };
}

function selects(policy: ParsedPolicy, direction: Direction, pod: ModelPod): boolean {
  return policy[direction] !== null && policy.namespace === pod.namespace && selectorMatches(policy.podSelector, pod.labels);
}

function changedDirections(before: ReturnType<typeof tracePath>, after: ReturnType<typeof tracePath>): DirectionExplanation[] {
  return (['egress', 'ingress'] as const).filter((d) => before[d].allowed !== after[d].allowed).map((d) => after[d]);
}

export function whatIf(model: PolicyModel, request: WhatIfRequest): WhatIfResult {
  const { ids, changed, after: afterPolicies } = checkedPolicies(model, request);
  const after = model.withPolicies(afterPolicies);
  const parsed = changed.map(parsePolicy).flatMap((r) => (r.ok ? [r.policy] : []));
  const pods = podsOfNamespaces(model, request.namespaces ?? []);
  const extra = uniquePortSpecs(request.ports ?? []);
  const ingressSide = new Set(pods.filter((pod) => parsed.some((p) => selects(p, 'ingress', pod))));
  const egressSide = new Set(pods.filter((pod) => parsed.some((p) => selects(p, 'egress', pod))));
  const result: WhatIfResult = { action: request.delete ? 'delete' : 'apply', policies: ids, checked: 0, newlyAllowed: [], newlyDenied: [] };
  for (const src of pods) {
    for (const dst of pods) {
      if (!ingressSide.has(dst) && !egressSide.has(src)) continue;
      for (const port of uniquePortSpecs([...declaredPorts([dst]), ...extra])) {
        result.checked++;
        const from = { pod: src, address: src.address };
        const to = { pod: dst, address: dst.address };
        const was = model.evaluator.explain({ src: src.address, dst: dst.address, protocol: port.protocol, port: port.port }).allowed;
        const will = after.evaluator.explain({ src: src.address, dst: dst.address, protocol: port.protocol, port: port.port }).allowed;
        if (was === will) continue;
        // Only a change is worth the words.
        const because = changedDirections(tracePath(model, from, to, port.protocol, port.port), tracePath(after, from, to, port.protocol, port.port)).map((d) => d.text);
        (will ? result.newlyAllowed : result.newlyDenied).push({ from: src.id, to: dst.id, port: portSpecText(port), because });
      }
    }
  }
  return result;
}
