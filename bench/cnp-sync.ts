/**
 * ClusterNetworkPolicy from objects to the kernel: policy-sync.ts's setting (the real agent in a
 * namespace of the bench's own, the synthetic cluster of 1,000 NetworkPolicies over 5,000 pods,
 * 100 of them on this node), with 100 ClusterNetworkPolicies (cluster-policy-mix.ts: 60 Admin,
 * 40 Baseline) and the cluster's 50 Nodes added, nftables against iptables.
 *
 * - Full sync: the agent's first sync into an empty namespace (fresh namespace each run; median
 *   of 3), and its compile.
 * - One change, three kinds in turn, through the Kubernetes API (bench/fake-api.ts) as a cluster
 *   delivers them: policy-sync's two pod changes (a replica on another node; a label flip, on
 *   this node and elsewhere), and a ClusterNetworkPolicy edit (a team guard's first rule,
 *   Pass -> Deny, for a team with pods on this node, then back). Time from handing the object to
 *   the API to the end of the sync that put it in the kernel; median per kind and over all.
 *
 * The figures to hold it against are policy-sync's at the same scale (same cluster without the
 * ClusterNetworkPolicies), run in the same invocation: `--only policy-sync,cnp-sync`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../agent/objects';
import { makeBenchDir, removeBenchDir } from './cleanup';
import { clusterPolicyMix, nodeObjects, teamGuard } from './cluster-policy-mix';
import { changesToKernel, fullSync, podChanges, throughApi, writeCluster, type Backend, type Change, type PodChangeKind } from './policy-sync';
import { step } from './progress';
import { record } from './results';
import { fmt, quantile } from './stats';
import { median, type SyncLog } from './sync-log';

const POLICIES = 1000;
const CLUSTER_POLICIES = 100;
/** Ten of each kind. */
const CHANGES = 30;

type Kind = PodChangeKind | 'cluster-policy';
const KINDS: readonly Kind[] = ['replica', 'flip', 'cluster-policy'];

/**
 * The i-th change: a pod change (policy-sync's sequence), another pod change, then a team
 * guard's edit. Guards of even teams: those are the teams with pods on node-0 (policy-cluster.ts
 * places k-th pods on node (7k mod 50), so node-0 has the first pod of every even namespace),
 * so that every edit changes this node's kernel; the first ten go to Deny, the next ten back.
 */
function planOf(pods: KubeObject[]): (i: number) => Change<Kind> {
  const pod = podChanges(pods);
  return (i) => {
    const round = Math.floor(i / 3);
    if (i % 3 < 2) return pod(2 * round + (i % 3));
    const guard = teamGuard(2 * (round % 10), Math.floor(round / 10) % 2 === 0 ? 'Deny' : 'Pass');
    return { kind: 'cluster-policy', file: `zz-${guard.metadata.name}.json`, object: guard };
  };
}

async function measure(backend: Backend): Promise<string> {
  const dir = makeBenchDir('weft-bench-cnpsync-');
  try {
    const manifests = path.join(dir, 'manifests');
    fs.mkdirSync(manifests);
    const { objects, pods } = writeCluster(manifests, POLICIES);
    const extra = [...nodeObjects(), ...clusterPolicyMix(CLUSTER_POLICIES)];
    fs.writeFileSync(path.join(manifests, 'cluster-policies.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: extra }));
    const full: SyncLog[] = [];
    step(`${backend}, ${POLICIES} policies and ${CLUSTER_POLICIES} cluster policies: full sync, 3 times`);
    for (let i = 0; i < 3; i++) full.push(await fullSync(dir, backend));
    const changes = await changesToKernel(CHANGES, KINDS, planOf(pods), (ns) => throughApi(ns, dir, backend, [...objects, ...extra]));
    const all = KINDS.flatMap((k) => changes[k]);
    const toKernel = all.map((c) => c.time).sort((a, b) => a - b);
    const at = `${backend}, ${POLICIES} policies + ${CLUSTER_POLICIES} ClusterNetworkPolicies`;
    const fullMs = full.map((f) => f.durationMs);
    record({ name: `${at}: full sync`, unit: 'ms', samples: fullMs, target: { op: '<', limit: 1000 }, notes: `${full[0].rules} kernel objects` });
    record({ name: `${at}: full sync, compile`, unit: 'ms', samples: full.map((f) => f.compileMs) });
    record({ name: `${at}: change to kernel`, unit: 'ms', samples: toKernel, target: { op: '<', limit: 50 }, notes: `through the Kubernetes API; ${fmt(median(all.map((c) => c.changes)))} kernel changes` });
    for (const kind of KINDS) record({ name: `${at}: change to kernel, ${kind}`, unit: 'ms', samples: changes[kind].map((c) => c.time), notes: `${fmt(median(changes[kind].map((c) => c.changes)))} kernel changes` });
    record({ name: `${at}: change, sync alone`, unit: 'ms', samples: all.map((c) => c.durationMs) });
    record({ name: `${at}: change, compile`, unit: 'ms', samples: all.map((c) => c.compileMs) });
    const kindCell = (k: Kind) => `${fmt(median(changes[k].map((c) => c.time)))} ms`.padStart(10);
    return [
      backend.padEnd(9),
      `${fmt(median(fullMs))} ms`.padStart(10),
      `${fmt(median(full.map((f) => f.compileMs)))} ms`.padStart(10),
      `${fmt(Math.min(...fullMs))}-${fmt(Math.max(...fullMs))}`.padStart(12),
      String(full[0].rules).padStart(7),
      `${fmt(median(toKernel))} ms`.padStart(10),
      `${fmt(quantile(toKernel, 0.9))} ms`.padStart(9),
      ...KINDS.map(kindCell),
      `${fmt(median(all.map((c) => c.durationMs)))} ms`.padStart(10),
      `${fmt(median(all.map((c) => c.compileMs)))} ms`.padStart(10),
    ].join(' ');
  } finally {
    removeBenchDir(dir);
  }
}

export async function benchClusterPolicySync(): Promise<void> {
  console.log(`\nClusterNetworkPolicy to the kernel: real agent, ${CLUSTER_POLICIES} ClusterNetworkPolicies and ${POLICIES.toLocaleString('en-US')} NetworkPolicies over 5,000 pods (100 on this node); full sync median of 3, one change median of ${CHANGES} (${CHANGES / KINDS.length} of each kind)`);
  console.log('targets: full sync < 1 s, one change < 50 ms');
  console.log(
    ['backend'.padEnd(9), 'full sync'.padStart(10), 'compile'.padStart(10), 'range ms'.padStart(12), 'objects'.padStart(7), 'chg->krnl'.padStart(10), 'p90'.padStart(9), 'replica'.padStart(10), 'flip'.padStart(10), 'cnp edit'.padStart(10), 'sync'.padStart(10), 'compile'.padStart(10)].join(' '),
  );
  console.log('(chg->krnl: a change in the Kubernetes API to the end of its sync, median of all kinds; p90; then the median per kind; the sync alone; its compile)');
  for (const backend of ['nftables', 'iptables'] as const) console.log(await measure(backend));
}
