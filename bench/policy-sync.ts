/**
 * NetworkPolicy from objects to the kernel, with the real agent (manifests source) in a
 * namespace of the bench's own, nftables against iptables: the synthetic cluster of
 * policy-cluster.ts (1,000 policies over 5,000 pods, 100 of them on this node; other numbers of
 * policies with `--policy-scales`, 5 policies and 25 pods a namespace).
 *
 * - Full sync: the agent's first sync into an empty namespace: compile everything, write every
 *   set, map and chain (fresh namespace each run; median of 3).
 * - One change, two kinds alternating: a new replica of a deployment on another node (its
 *   address joins the peer class its replicas are in), and a label flip that gives a pod a
 *   combination no other pod has (alternately on this node and elsewhere: a new peer class,
 *   with an allowance per local pod it may talk to). Time from handing the object to the agent's
 *   source to the end of the sync that put it in the kernel (the agent's log line, written once
 *   the kernel transaction returned). Median over 20, and per kind. Measured as a cluster
 *   delivers changes (the agent watching a Kubernetes API: bench/fake-api.ts) and from a
 *   manifests directory (whose watch lets a burst of writes settle for 50 ms first).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../agent/objects';
import { eventually, spawnAgent, waitReady, type AgentProcess } from '../lab/agent-process';
import { createBenchNetns, deleteBenchNetns, makeBenchDir, removeBenchDir } from './cleanup';
import { startBenchApi } from './fake-api';
import { syntheticCluster } from './policy-cluster';
import { step } from './progress';
import { record, type Scale } from './results';
import { fmt, quantile } from './stats';
import { changeToKernel, median, syncLogs, type SyncLog } from './sync-log';

export type Backend = 'nftables' | 'iptables' | 'iptables-legacy';
const backendArgs = (b: Backend): string[] => (b === 'iptables-legacy' ? ['--backend', 'iptables', '--iptables-binary', 'iptables-legacy'] : ['--backend', b]);

/**
 * The backends measured: nftables and iptables (iptables-nft), or those WEFT_BENCH_BACKENDS
 * lists (comma-separated; iptables-legacy too), to measure one alone.
 */
export function benchBackends(): Backend[] {
  const all: Backend[] = ['nftables', 'iptables', 'iptables-legacy'];
  const listed = process.env.WEFT_BENCH_BACKENDS?.split(',').filter((b): b is Backend => (all as string[]).includes(b));
  return listed && listed.length > 0 ? listed : ['nftables', 'iptables'];
}
export const LOCAL_NODE = 'node-0';
const CHANGES = 20;

/** Writes the synthetic cluster with `policies` policies (5 a namespace) into `dir`; returns all its objects, and its pods. */
export function writeCluster(dir: string, policyCount: number): { objects: KubeObject[]; pods: KubeObject[] } {
  const { namespaces, pods, policies } = syntheticCluster({ namespaces: Math.max(1, Math.round(policyCount / 5)) });
  for (const [name, items] of [['namespaces', namespaces], ['pods', pods], ['policies', policies]] as const) {
    fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  }
  return { objects: [...namespaces, ...pods, ...policies], pods };
}

export function startAgent(ns: string, dir: string, backend: Backend, kubeconfig?: string): AgentProcess {
  return spawnAgent(
    ns,
    ['--node-name', LOCAL_NODE, ...(kubeconfig ? ['--kubeconfig', kubeconfig] : ['--manifests', path.join(dir, 'manifests')]), ...backendArgs(backend), '--pod-bridge', '', '--overlay', 'none', '--masquerade=false', '--cni-socket', '', '--health-listen', '', '--resync-interval', '0'],
    path.join(dir, `agent-${crypto.randomBytes(3).toString('hex')}.sock`),
  );
}

/** The first sync of an agent started in a fresh namespace. */
export async function fullSync(dir: string, backend: Backend): Promise<SyncLog> {
  const ns = createBenchNetns(`weft-bench-ps-${crypto.randomBytes(2).toString('hex')}`);
  const agent = startAgent(ns, dir, backend);
  try {
    await waitReady(agent, 120_000);
    // Ready can be reported before the log line of that sync has been read from its stdout.
    return await eventually('the first sync logged', () => syncLogs(agent)[0], 10_000);
  } finally {
    await agent.stop();
    deleteBenchNetns(ns);
  }
}

/** An agent watching the fake Kubernetes API, which serves `objects`; changes are put through the API. */
export async function throughApi(ns: string, dir: string, backend: Backend, objects: readonly KubeObject[]): Promise<AgentWithSource> {
  const api = await startBenchApi(ns, dir, objects);
  return { agent: startAgent(ns, dir, backend, api.kubeconfig), put: (_file, object) => api.put(object), stop: () => api.close() };
}

/** A new pod of the same deployment on the same node, with a fresh address. */
function replicaOf(pod: KubeObject, i: number): KubeObject {
  const ip = `${(pod.status!.podIP as string).split('.').slice(0, 3).join('.')}.${200 + i}`;
  return { ...pod, metadata: { ...pod.metadata, name: `${pod.metadata.name}-r${i}` }, status: { ...pod.status, podIP: ip, podIPs: [{ ip }] } };
}

function withTier(pod: KubeObject, tier: string): KubeObject {
  return { ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata.labels, tier } } };
}

export type AgentWithSource = { agent: AgentProcess; put(file: string, object: KubeObject): void; stop(): Promise<void> };

/** One change: which kind it is, and the object handed to the source (a file name for a manifests directory). */
export interface Change<K extends string> {
  kind: K;
  file: string;
  object: KubeObject;
}

export type PodChangeKind = 'replica' | 'flip';

/**
 * The i-th pod change, two kinds alternating: a deployment scaling up on another node (its new
 * pod's address joins an existing class), and a pod relabelled so that no other pod matches the
 * same rules (a class of its own), alternately on this node and elsewhere.
 */
export function podChanges(pods: KubeObject[]): (i: number) => Change<PodChangeKind> {
  const local = pods.find((p) => p.spec?.nodeName === LOCAL_NODE && p.metadata.labels?.tier === 'frontend')!;
  const remote = pods.find((p) => p.spec?.nodeName !== LOCAL_NODE && p.metadata.labels?.tier === 'frontend')!;
  return (i) => {
    if (i % 2 === 0) return { kind: 'replica', file: `zz-replica-${i}.json`, object: replicaOf(remote, i) };
    const [pod, file] = i % 4 === 1 ? [local, 'zz-local.json'] : [remote, 'zz-remote.json'];
    return { kind: 'flip', file, object: withTier(pod, i % 8 < 4 ? 'backend' : 'frontend') };
  };
}

/** `count` changes `plan` makes, one at a time, each handed to the agent `start` gives and timed to the kernel; by kind. */
export async function changesToKernel<K extends string>(count: number, kinds: readonly K[], plan: (i: number) => Change<K>, start: (ns: string) => Promise<AgentWithSource>): Promise<Record<K, SyncLog[]>> {
  const ns = createBenchNetns(`weft-bench-ps-${crypto.randomBytes(2).toString('hex')}`);
  try {
    const { agent, put, stop } = await start(ns);
    try {
      await waitReady(agent, 120_000);
      const byKind = Object.fromEntries(kinds.map((k) => [k, [] as SyncLog[]])) as Record<K, SyncLog[]>;
      for (let i = 0; i < count; i++) {
        step('one change at a time, to the kernel', { i: i + 1, n: count });
        const change = plan(i);
        byKind[change.kind].push(await changeToKernel(agent, () => put(change.file, change.object), 20_000));
        await new Promise((r) => setTimeout(r, 200)); // no coalescing with the next change
      }
      return byKind;
    } finally {
      await agent.stop();
      await stop();
    }
  } finally {
    deleteBenchNetns(ns);
  }
}

async function measure(backend: Backend, notes: string[], policies: number): Promise<string[]> {
  const dir = makeBenchDir('weft-bench-psync-');
  try {
    const manifests = path.join(dir, 'manifests');
    fs.mkdirSync(manifests);
    const { objects, pods } = writeCluster(manifests, policies);
    const full: SyncLog[] = [];
    step(`${backend}, ${policies} policies: full sync, 3 times`);
    for (let i = 0; i < 3; i++) full.push(await fullSync(dir, backend));

    const kinds = ['replica', 'flip'] as const;
    const changes = await changesToKernel(CHANGES, kinds, podChanges(pods), (ns) => throughApi(ns, dir, backend, objects));
    const fromManifests = await changesToKernel(CHANGES, kinds, podChanges(pods), async (ns) => ({
      agent: startAgent(ns, dir, backend),
      put: (file, object) => fs.writeFileSync(path.join(manifests, file), JSON.stringify(object)),
      stop: async () => undefined,
    }));
    const all = [...changes.replica, ...changes.flip];
    const kindText = (k: 'replica' | 'flip') => `${k} ${fmt(median(changes[k].map((c) => c.time)))} ms (${fmt(median(changes[k].map((c) => c.changes)))} ops)`;
    notes.push(`${backend}: change to kernel by kind, median of ${CHANGES / 2} each: ${kindText('replica')}, ${kindText('flip')}`);
    const sortedToKernel = all.map((c) => c.time).sort((a, b) => a - b);
    const fullDurations = full.map((f) => f.durationMs);
    const at = `${backend}, ${policies} policies`;
    const scale = (plot: string, title: string): Scale => ({ plot, title, x: policies, xLabel: 'policies', series: backend });
    record({ name: `${at}: full sync`, unit: 'ms', samples: fullDurations, target: { op: '<', limit: 1000 }, notes: `${full[0].rules} kernel objects`, scale: scale('full-sync', 'NetworkPolicy full sync vs policies') });
    record({ name: `${at}: full sync, compile`, unit: 'ms', samples: full.map((f) => f.compileMs) });
    record({ name: `${at}: change to kernel`, unit: 'ms', samples: sortedToKernel, target: { op: '<', limit: 50 }, notes: `through the Kubernetes API; ${fmt(median(all.map((c) => c.changes)))} kernel changes`, scale: scale('change', 'NetworkPolicy: one change to the kernel vs policies') });
    for (const kind of ['replica', 'flip'] as const) record({ name: `${at}: change to kernel, ${kind}`, unit: 'ms', samples: changes[kind].map((c) => c.time) });
    record({ name: `${at}: change, sync alone`, unit: 'ms', samples: all.map((c) => c.durationMs) });
    record({ name: `${at}: change, compile`, unit: 'ms', samples: all.map((c) => c.compileMs) });
    record({ name: `${at}: change to kernel through manifests`, unit: 'ms', samples: [...fromManifests.replica, ...fromManifests.flip].map((c) => c.time) });
    return [
      [
        backend.padEnd(15),
        `${fmt(median(fullDurations))} ms`.padStart(10),
        `${fmt(median(full.map((f) => f.compileMs)))} ms`.padStart(10),
        `${fmt(Math.min(...fullDurations))}-${fmt(Math.max(...fullDurations))}`.padStart(12),
        String(full[0].rules).padStart(7),
        `${fmt(median(sortedToKernel))} ms`.padStart(10),
        `${fmt(quantile(sortedToKernel, 0.9))} ms`.padStart(9),
        `${fmt(median(all.map((c) => c.durationMs)))} ms`.padStart(10),
        `${fmt(median(all.map((c) => c.compileMs)))} ms`.padStart(10),
        `${fmt(median(all.map((c) => c.changes)))}`.padStart(8),
        `${fmt(median([...fromManifests.replica, ...fromManifests.flip].map((c) => c.time)))} ms`.padStart(10),
      ].join(' '),
    ];
  } finally {
    removeBenchDir(dir);
  }
}

/** `scales`: numbers of policies, 5 a namespace with 25 pods each (1,000: 5,000 pods, 100 of them on this node). */
export async function benchPolicySync(scales: number[] = [1000]): Promise<void> {
  for (const policies of scales) await benchPolicySyncAt(policies);
}

async function benchPolicySyncAt(policies: number): Promise<void> {
  const shape = syntheticCluster({ namespaces: Math.max(1, Math.round(policies / 5)) });
  const local = shape.pods.filter((p) => p.spec?.nodeName === LOCAL_NODE).length;
  const n = (x: number) => x.toLocaleString('en-US');
  console.log(`\nNetworkPolicy to the kernel: real agent, ${n(shape.policies.length)} policies over ${n(shape.pods.length)} pods (${local} on this node); full sync median of 3, one label change median of ${CHANGES}`);
  console.log('targets: full sync < 1 s, one change < 50 ms');
  console.log(
    [
      'backend'.padEnd(15),
      'full sync'.padStart(10),
      'compile'.padStart(10),
      'range ms'.padStart(12),
      'objects'.padStart(7),
      'chg->krnl'.padStart(10),
      'p90'.padStart(9),
      'sync'.padStart(10),
      'compile'.padStart(10),
      'kchanges'.padStart(8),
      'manifests'.padStart(10),
    ].join(' '),
  );
  console.log('(chg->krnl: a Pod change in the Kubernetes API to the end of its sync, median; p90; the sync alone; its compile; kernel changes; manifests: the same change written to the manifests directory)');
  const notes: string[] = [];
  for (const backend of benchBackends()) for (const line of await measure(backend, notes, shape.policies.length)) console.log(line);
  for (const note of notes) console.log(`  ${note}`);
}
