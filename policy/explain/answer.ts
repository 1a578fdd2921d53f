/**
 * A policy question as one value, and its answer: what weftctl asks offline (from manifests)
 * and what the agent answers online (from its cache), so that both modes run the very same
 * code on the same words and give the same result (plain JSON-safe data) and the same errors.
 */
import type { KubeObject } from '../../agent/objects';
import { policyMatrix, type MatrixResult } from './matrix';
import type { PolicyModel } from './model';
import { explainPod, type PodReport } from './pod-report';
import { parsePortSpec } from './query';
import { trace, type TraceResult } from './trace';
import { whatIf, type WhatIfResult } from './what-if';

/** Ends and ports as people type them: `NS/POD`, an IP address, `svc/NS/NAME`; `80`, `53/UDP`. */
export interface TraceQuery {
  kind: 'trace';
  from: string;
  to: string;
  port: string;
  endpoint?: string;
}

export interface ExplainQuery {
  kind: 'explain';
  pod: string;
}

export interface MatrixQuery {
  kind: 'matrix';
  namespaces?: string[];
  ports?: string[];
}

export interface WhatIfQuery {
  kind: 'what-if';
  policies: KubeObject[];
  delete?: boolean;
  namespaces?: string[];
  ports?: string[];
}

export type PolicyQuery = TraceQuery | ExplainQuery | MatrixQuery | WhatIfQuery;

export interface PolicyAnswers {
  trace: TraceResult;
  explain: PodReport;
  matrix: MatrixResult;
  'what-if': WhatIfResult;
}

export interface PolicyReply<Q extends PolicyQuery = PolicyQuery> {
  result: PolicyAnswers[Q['kind']];
  /**
   * Invalid policies (they play no part): the NetworkPolicies of the namespaces the question read
   * (model.ts reads a namespace's policies when a question reaches it) and every ClusterNetworkPolicy;
   * and ClusterNetworkPolicy rules failing closed. In words.
   */
  warnings: string[];
}

/**
 * The model a question is answered from; `futurePolicies` are the policies a what-if adds
 * (addressless pods' placeholders keep clear of their ipBlocks too).
 */
export type ModelFor = (futurePolicies: readonly KubeObject[]) => PolicyModel;

export function policyWarnings(model: PolicyModel): string[] {
  return [
    ...model.problems.map((p) => `NetworkPolicy ${p.policy} is invalid (the API server would refuse it) and plays no part: ${p.reason}`),
    ...model.clusterProblems.map((p) => `ClusterNetworkPolicy ${p.policy} is invalid (the API server would refuse it) and plays no part: ${p.reason}`),
    ...[...model.clusterPolicies.values()].flatMap((p) => p.notes.map((n) => `ClusterNetworkPolicy ${p.name}: ${n}`)),
  ];
}

function answer(query: PolicyQuery, modelFor: ModelFor): { result: PolicyAnswers[PolicyQuery['kind']]; model: PolicyModel } {
  // Words are checked before the objects are read: a typo is said at once, whatever the objects.
  switch (query.kind) {
    case 'trace': {
      const port = parsePortSpec(query.port);
      const model = modelFor([]);
      return { model, result: trace(model, { from: query.from, to: query.to, port, ...(query.endpoint !== undefined ? { endpoint: query.endpoint } : {}) }) };
    }
    case 'explain': {
      const model = modelFor([]);
      return { model, result: explainPod(model, query.pod) };
    }
    case 'matrix': {
      const ports = (query.ports ?? []).map((p) => parsePortSpec(p));
      const model = modelFor([]);
      return { model, result: policyMatrix(model, { namespaces: query.namespaces ?? [], ports }) };
    }
    case 'what-if': {
      const ports = (query.ports ?? []).map((p) => parsePortSpec(p));
      const model = modelFor(query.policies);
      return { model, result: whatIf(model, { policies: query.policies, delete: query.delete ?? false, namespaces: query.namespaces ?? [], ports }) };
    }
  }
}

/** Answers `query`; a question the objects cannot answer throws QueryError (NotFoundError). */
export function answerPolicyQuery<Q extends PolicyQuery>(query: Q, modelFor: ModelFor): PolicyReply<Q> {
  const { result, model } = answer(query, modelFor);
  return { result: result as PolicyAnswers[Q['kind']], warnings: policyWarnings(model) };
}
