/**
 * One list of a kind, all namespaces, from the API server: through the client library's own
 * request, authentication and HTTP pieces, but without its typed deserialisation, which would
 * drop fields it does not know and can fail on one malformed item where we want to skip that
 * item and keep the rest. The agent's watches list with it (kube-watch.ts), and weftctl reads a
 * cluster's objects with it (cli/cluster-objects.ts).
 */
import { HttpMethod, RequestContext, type IsomorphicFetchHttpLibrary, type ResponseContext } from '@kubernetes/client-node';
import { validateObject, type KubeObject, type WatchedKind } from '../objects';
import type { SourceKubeConfig } from './kube-config';

/**
 * Where each kind is listed and watched (all namespaces). `optional`: served by a CRD that a
 * cluster may not have installed; its absence (404) is no error.
 */
export const KIND_PATHS: Readonly<Record<WatchedKind, { apiVersion: string; path: string; optional?: true }>> = {
  NetworkPolicy: { apiVersion: 'networking.k8s.io/v1', path: '/apis/networking.k8s.io/v1/networkpolicies' },
  Service: { apiVersion: 'v1', path: '/api/v1/services' },
  EndpointSlice: { apiVersion: 'discovery.k8s.io/v1', path: '/apis/discovery.k8s.io/v1/endpointslices' },
  Pod: { apiVersion: 'v1', path: '/api/v1/pods' },
  Namespace: { apiVersion: 'v1', path: '/api/v1/namespaces' },
  Node: { apiVersion: 'v1', path: '/api/v1/nodes' },
  // kubernetes-sigs/network-policy-api's CRD: not part of Kubernetes itself.
  ClusterNetworkPolicy: { apiVersion: 'policy.networking.k8s.io/v1alpha2', path: '/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies', optional: true },
};

/** A list's answer: the items as the server gave them, or an optional kind that is not served (404). */
export type KindList = { served: true; items: unknown[]; resourceVersion: string } | { served: false; message: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function statusOf(err: unknown): number | undefined {
  return isRecord(err) && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = statusOf(err);
  return code !== undefined && !err.message.startsWith('HTTP ') ? `HTTP ${code} ${err.message}` : err.message;
}

/** An error carrying an HTTP-like status code, which is how ListWatch recognises 410 Gone. */
export class StatusError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

/** Lists `kind`; throws StatusError on an answer other than 200 (and 404 for an optional kind), Error when there is none. */
export async function listKind(kc: SourceKubeConfig, http: IsomorphicFetchHttpLibrary, kind: WatchedKind, signal: AbortSignal): Promise<KindList> {
  const ctx = new RequestContext(`${kc.server}${KIND_PATHS[kind].path}`, HttpMethod.GET);
  ctx.setHeaderParam('Accept', 'application/json');
  ctx.setSignal(signal);
  await kc.applySecurityAuthentication(ctx);
  let response: ResponseContext;
  let text: string;
  try {
    response = await http.send(ctx).toPromise();
    text = await response.body.text();
  } catch (err) {
    throw new Error(`list failed: ${describeError(err)}`);
  }
  if (response.httpStatusCode !== 200) {
    let message = text.slice(0, 200);
    try {
      const status: unknown = JSON.parse(text);
      if (isRecord(status) && typeof status.message === 'string') message = status.message;
    } catch {
      // not a Status object: the start of the body says enough
    }
    if (response.httpStatusCode === 404 && KIND_PATHS[kind].optional) return { served: false, message };
    throw new StatusError(`list failed: HTTP ${response.httpStatusCode} ${message}`, response.httpStatusCode);
  }
  const body: unknown = JSON.parse(text);
  if (!isRecord(body) || !Array.isArray(body.items)) throw new Error('list failed: the response is not a list');
  const resourceVersion = isRecord(body.metadata) && typeof body.metadata.resourceVersion === 'string' ? body.metadata.resourceVersion : '';
  return { served: true, items: body.items as unknown[], resourceVersion };
}

/** An object from a list or a watch of `kind` checked (validateObject), with the kind and apiVersion list items lack. */
export function checkListed(kind: WatchedKind, raw: unknown): { ok: true; object: KubeObject } | { ok: false; reason: string } {
  if (!isRecord(raw)) return { ok: false, reason: 'not an object' };
  if (raw.kind !== undefined && raw.kind !== kind) return { ok: false, reason: `kind ${JSON.stringify(raw.kind)} in the ${kind} watch` };
  return validateObject({ ...raw, kind, apiVersion: raw.apiVersion ?? KIND_PATHS[kind].apiVersion });
}
