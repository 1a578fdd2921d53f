/** Builds the object source the command line asks for. */
import type { AgentCliOptions } from '../options';
import { ManifestsSource } from './manifests';
import type { ObjectSource } from './source';

export function createSource(options: Pick<AgentCliOptions, 'source' | 'manifests' | 'kubeconfig' | 'crdRecheckInterval'>): ObjectSource {
  if (options.source === 'manifests') return new ManifestsSource({ dir: options.manifests });
  // Loaded only here: the client library takes ~0.8 s to load, which an agent reading a
  // manifests directory (every lab node) should not pay at start.
  const { KubeSource } = require('./kube') as typeof import('./kube');
  // A kubeconfig when given; otherwise the pod's service account (the DaemonSet's case).
  return new KubeSource({ kubeConfig: options.kubeconfig, inCluster: !options.kubeconfig, absentRecheckMs: options.crdRecheckInterval * 1000 });
}
