/**
 * Policy questions answered from the agent's own object cache: what it enforces, with the
 * engine weftctl uses offline. The model reads lazily (policies per namespace, pods when a
 * question reaches them: policy/explain/model.ts), and what it has read is kept, so it is kept
 * per state of the cache: the cache hands out the same list arrays while nothing changed, and a
 * changed list of a kind the model reads means a new model. At 5,000 pods and 1,000 policies a
 * new model and its first trace take about 3-10 ms, a trace on a model that read its namespaces
 * under a millisecond.
 */
import type { ObjectCache } from '../cache';
import type { KubeObject, WatchedKind } from '../objects';
import { answerPolicyQuery, type PolicyQuery, type PolicyReply } from '../../policy/explain/answer';
import { PolicyModel } from '../../policy/explain/model';

/** The kinds a model is made of (Nodes for ClusterNetworkPolicy `nodes` peers). */
const MODEL_KINDS: readonly WatchedKind[] = ['Namespace', 'Pod', 'NetworkPolicy', 'ClusterNetworkPolicy', 'Node', 'Service', 'EndpointSlice'];

export class CachedPolicyModel {
  private model?: PolicyModel;
  private lists: readonly (readonly KubeObject[])[] = [];
  /** Models built so far (tests see the reuse). */
  builds = 0;

  constructor(
    private readonly cache: ObjectCache,
    private readonly source: string,
  ) {}

  /** The model of the cache as it is now. */
  current(): PolicyModel {
    const lists = MODEL_KINDS.map((kind) => this.cache.list(kind));
    if (!this.model || lists.some((list, i) => list !== this.lists[i])) {
      this.model = this.build([]);
      this.lists = lists;
    }
    return this.model;
  }

  /**
   * With policies a what-if adds, a model of its own: their ipBlocks may move addressless
   * pods' placeholders (see policy/explain/placeholders.ts). A what-if compares every affected
   * connection anyway, so the build is not what it costs.
   */
  withFuturePolicies(futurePolicies: readonly KubeObject[]): PolicyModel {
    return futurePolicies.length === 0 ? this.current() : this.build(futurePolicies);
  }

  private build(futurePolicies: readonly KubeObject[]): PolicyModel {
    this.builds++;
    return PolicyModel.fromCache(this.cache, { source: this.source, futurePolicies });
  }
}

/** The agent's answerer: `nodeName` says whose objects in messages ("no pod x/y in ..."). */
export function policyAnswerer(cache: ObjectCache, nodeName: string): (query: PolicyQuery) => PolicyReply {
  const models = new CachedPolicyModel(cache, `the objects of the agent on ${nodeName}`);
  return (query) => answerPolicyQuery(query, (future) => models.withFuturePolicies(future));
}
