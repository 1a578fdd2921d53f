/** Builds the object source the command line asks for. */
import type { AgentCliOptions } from '../options';
import { ManifestsSource } from './manifests';
import type { ObjectSource } from './source';

export function createSource(options: Pick<AgentCliOptions, 'source' | 'manifests' | 'kubeconfig'>): ObjectSource {
  if (options.source === 'manifests') return new ManifestsSource({ dir: options.manifests });
  throw new Error('--source kube: not wired yet');
}
