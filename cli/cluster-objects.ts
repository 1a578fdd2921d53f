/**
 * A cluster's objects for offline questions (--kubeconfig): every kind policy questions read,
 * listed once from the API server a kubeconfig names, as the agent lists them
 * (agent/sources/kube-list.ts), and nothing watched. A kind the server does not serve
 * (ClusterNetworkPolicy without its CRD) is no objects; any other failed list is an error that
 * names the kind and the server, since an answer from part of the objects would mislead. An
 * object the agent would skip is left out with a warning, as the manifests reader does.
 */
import { IsomorphicFetchHttpLibrary } from '@kubernetes/client-node';
import { POLICY_QUESTION_KINDS, type KubeObject } from '../agent/objects';
import { loadKubeConfig, type SourceKubeConfig } from '../agent/sources/kube-config';
import { checkListed, KIND_PATHS, listKind } from '../agent/sources/kube-list';

/** How long the lists may take together before the question is given up. */
export const LIST_TIMEOUT_MS = 30_000;

export interface ClusterObjects {
  objects: KubeObject[];
  /** Objects left out (invalid), in words. */
  warnings: string[];
  /** The API server's URL, for messages. */
  server: string;
}

/** `kubeconfig`: a file, or '' for the default one ($KUBECONFIG, else ~/.kube/config) as kubectl finds it. */
export async function readClusterObjects(kubeconfig: string, timeoutMs = LIST_TIMEOUT_MS): Promise<ClusterObjects> {
  const what = kubeconfig === '' ? 'the default kubeconfig' : `--kubeconfig ${kubeconfig}`;
  let kc: SourceKubeConfig;
  try {
    kc = loadKubeConfig(kubeconfig === '' ? {} : { kubeConfig: kubeconfig });
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
  const http = new IsomorphicFetchHttpLibrary();
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const lists = await Promise.all(
      POLICY_QUESTION_KINDS.map(async (kind) => {
        try {
          return { kind, listed: await listKind(kc, http, kind, signal) };
        } catch (err) {
          const why = signal.aborted ? `no answer within ${timeoutMs / 1000} s` : (err as Error).message.replace(/^list failed: /, '');
          throw new Error(`${what}: cannot list ${KIND_PATHS[kind].path} from ${kc.server}: ${why}`);
        }
      }),
    );
    const objects: KubeObject[] = [];
    const warnings: string[] = [];
    for (const { kind, listed } of lists) {
      if (!listed.served) continue;
      listed.items.forEach((raw, i) => {
        const checked = checkListed(kind, raw);
        if (checked.ok) objects.push(checked.object);
        else warnings.push(`${kc.server}: ${kind} list item ${i}: ${checked.reason}; left out`);
      });
    }
    return { objects, warnings, server: kc.server };
  } finally {
    // Kept-alive connections would hold the process open after its answer.
    kc.destroyConnections();
  }
}
