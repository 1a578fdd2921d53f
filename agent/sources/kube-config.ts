/**
 * The Kubernetes client configuration of the kube source: a KubeConfig (from a kubeconfig file,
 * in-cluster credentials, or the client's default search) that also keeps hold of the HTTP
 * agents its watches connect through, so that stopping the source can cut even a connection
 * still waiting for its response headers, and that bounds that wait.
 */
import http from 'node:http';
import type https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConfigSource {
  /** A kubeconfig file. */
  kubeConfig?: string;
  /** The pod's service account (KUBERNETES_SERVICE_HOST/PORT and the mounted token). */
  inCluster?: boolean;
}

/**
 * How long a watch may wait for its response headers. The client's Watch meant to give up after
 * 30 s, but 1.4.0 replaces that signal with its own abort signal, so a black-holed API server
 * would hold a watch forever; node-fetch's `timeout` covers exactly the wait for the headers.
 */
const WATCH_CONNECT_TIMEOUT_MS = 30_000;

/** Agents idle this long are forgotten (they hold no sockets; stop() has nothing to cut). */
const AGENT_FORGET_MS = 60_000;

type FetchInit = Awaited<ReturnType<KubeConfig['applyToFetchOptions']>>;

export class SourceKubeConfig extends KubeConfig {
  /** The agent of each watch request (the client makes one per request), with its birth time. */
  private readonly agents = new Map<http.Agent, number>();

  override async applyToFetchOptions(opts: https.RequestOptions): Promise<FetchInit> {
    const init = await super.applyToFetchOptions(opts);
    if (init.agent instanceof http.Agent) this.remember(init.agent);
    return { ...init, timeout: init.timeout || WATCH_CONNECT_TIMEOUT_MS };
  }

  /** Destroys every connection made through this configuration's watches. */
  destroyConnections(): void {
    for (const agent of this.agents.keys()) agent.destroy();
    this.agents.clear();
  }

  /** The API server's URL. */
  get server(): string {
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig: no current cluster');
    return cluster.server;
  }

  private remember(agent: http.Agent): void {
    const now = Date.now();
    for (const [old, born] of this.agents) {
      const idle = Object.keys(old.sockets).length === 0 && Object.keys(old.requests).length === 0;
      if (idle && now - born > AGENT_FORGET_MS) this.agents.delete(old);
    }
    this.agents.set(agent, now);
  }
}

/** Loads the configuration: the file when given, else in-cluster credentials when asked, else the client's default search. */
export function loadKubeConfig(source: KubeConfigSource): SourceKubeConfig {
  const kc = new SourceKubeConfig();
  if (source.kubeConfig) kc.loadFromFile(source.kubeConfig);
  else if (source.inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  // Fails here, with a clear message, rather than at the first request.
  void kc.server;
  return kc;
}
