/** Builds the object source the command line asks for. */
import type { AgentCliOptions } from '../options';
import { KubeSource } from './kube';
import { ManifestsSource } from './manifests';
import type { ObjectSource } from './source';

export function createSource(options: Pick<AgentCliOptions, 'source' | 'manifests' | 'kubeconfig'>): ObjectSource {
  if (options.source === 'manifests') return new ManifestsSource({ dir: options.manifests });
  // A kubeconfig when given; otherwise the pod's service account (the DaemonSet's case).
  return new KubeSource({ kubeConfig: options.kubeconfig, inCluster: !options.kubeconfig });
}
