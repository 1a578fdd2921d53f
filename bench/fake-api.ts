/**
 * The Kubernetes API a benchmark's agent watches, as in a cluster: test/helpers/fake-kube-api.ts
 * (the real client library on the real wire protocol) listening on the loopback of the agent's
 * namespace, serving the benchmark's objects. Changes made through it reach the agent as watch
 * events, with none of the manifests directory's settling delay.
 */
import { withNetlink } from '../kernel/netlink';
import crypto from 'node:crypto';
import type { KubeObject } from '../agent/objects';
import { FakeKubeApi, type FakeObject } from '../test/helpers/fake-kube-api';

export interface BenchApi {
  /** Creates or replaces an object: an ADDED or MODIFIED event. */
  put(object: KubeObject): void;
  /** The kubeconfig for `weft-agent --kubeconfig`. */
  kubeconfig: string;
  close(): Promise<void>;
}

export async function startBenchApi(ns: string, dir: string, objects: readonly KubeObject[]): Promise<BenchApi> {
  await withNetlink(ns, (nl) => nl.links.setUp('lo'));
  const api = await FakeKubeApi.start({ netns: ns });
  try {
    for (const o of objects) api.add(o as FakeObject);
    const kubeconfig = api.writeKubeconfig(dir, `kubeconfig-${crypto.randomBytes(3).toString('hex')}`);
    return { put: (object) => void api.add(object as FakeObject), kubeconfig, close: () => api.close() };
  } catch (err) {
    await api.close();
    throw err;
  }
}
