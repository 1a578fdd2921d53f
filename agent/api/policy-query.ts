/**
 * A policy question (policy/explain/answer.ts) read from a PolicyQueryRequest, checking what a
 * client could get wrong. (The client writes it in client.ts, which the CNI plugins load too:
 * the checks stay out of their way.)
 */
import { validateObject, type KubeObject } from '../objects';
import type { PolicyQuery } from '../../policy/explain/answer';
import { QueryError } from '../../policy/explain/query';
import type { PolicyQueryMessage } from './messages';

function policyOf(json: string, i: number): KubeObject {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new QueryError(`what-if policy ${i + 1} is not JSON: ${(err as Error).message}`);
  }
  const v = validateObject(raw);
  if (!v.ok) throw new QueryError(`what-if policy ${i + 1}: ${v.reason}`);
  return v.object;
}

/** The question a request asks; QueryError when it asks none or cannot be read. */
export function policyQueryOf(m: PolicyQueryMessage): PolicyQuery {
  if (m.trace) {
    const { from, to, port, endpoint } = m.trace;
    return { kind: 'trace', from, to, port, ...(endpoint ? { endpoint } : {}) };
  }
  if (m.explain) return { kind: 'explain', pod: m.explain.pod };
  if (m.matrix) return { kind: 'matrix', namespaces: [...m.matrix.namespaces], ports: [...m.matrix.ports] };
  if (m.whatIf) {
    const w = m.whatIf;
    return { kind: 'what-if', policies: w.policiesJson.map(policyOf), delete: w.delete, namespaces: [...w.namespaces], ports: [...w.ports] };
  }
  throw new QueryError('no question: a PolicyQueryRequest sets trace, explain, matrix or what_if');
}
