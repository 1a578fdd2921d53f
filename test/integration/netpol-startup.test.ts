/**
 * A pod created while a deny-all ingress policy covers its namespace is never reachable, not
 * even in the first milliseconds of its life: no window between its interface coming up and its
 * policy being in the kernel (the CNI ADD registers the pod with the node's agent and returns
 * only once its policy is in place, and until then the pod's address must not be let through).
 *
 * Two probers (netpol-hammer.ts) run in client pods of namespace y, one on the new pod's node
 * and one on the other node. Each watches the node's weft-ipam store, so it learns the new pod's
 * addresses the moment they are allocated, while the ADD is still running, and connects to them
 * every millisecond until a second after the ADD returned. For x/new (deny-all ingress in x):
 * not one connection may reach it. Control: the same for y/new (no policy) does reach it, so the
 * probers can see a pod as early as it is reachable.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../../agent/objects';
import { inNetns } from '../../kernel/netns';
import { writeSysctl } from '../../kernel/sysctl';
import { childEnv } from '../../lab/child-env';
import { labApply } from '../../lab/cluster/apply';
import { manifestFile } from '../../lab/cluster/manifests';
import { labPaths, nodePaths } from '../../lab/cluster/names';
import { NETWORK_NAME } from '../../lab/cluster/pods';
import { loadState, podKey, type AgentBackend, type LabState, type PodRecord } from '../../lab/cluster/state';
import { labUp } from '../../lab/cluster/up';
import { labName, labRoot } from './lab-fixture';
import { networkPolicy, waitAgentsSynced } from './netpol-fixture';
import type { HammerReport, HammerTarget } from './netpol-hammer';

const HAMMER = path.join(__dirname, 'netpol-hammer.js');
const PORT = 80;

const ports = [
  { name: 'serve-80-tcp', containerPort: 80, protocol: 'TCP' },
  { name: 'serve-80-udp', containerPort: 80, protocol: 'UDP' },
];
const pod = (namespace: string, name: string, node: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels: { pod: name } },
  spec: { nodeName: node, containers: [{ name: 'server', image: 'weft-lab/pod-server', ports }] },
});
const namespace = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ns: name } } });

async function apply(lab: string, root: string, objects: KubeObject[]): Promise<void> {
  const text = objects.map((o) => JSON.stringify(o)).join('\n---\n');
  await labApply({ name: lab, root, files: ['-'], stdin: () => text });
}

interface Hammer {
  from: string;
  child: ChildProcess;
  report: Promise<HammerReport>;
}

/** Starts a prober in `client`'s namespace, watching `node`'s IPAM store; resolves once it watches. */
async function startHammer(state: LabState, root: string, client: PodRecord, node: string): Promise<Hammer> {
  const store = path.join(nodePaths(labPaths(root, state.name).dir, node).ipamDir, NETWORK_NAME);
  // A pod on the same node resolves the new address itself (its subnet is on-link): an ARP or ND
  // request made before the new pod's interface exists fails, and by default the next one goes
  // out a second later, which would hide the new pod from this prober for that long. Re-asking
  // every 10 ms keeps the same-node path open to it as soon as the pod can answer.
  for (const family of ['ipv4', 'ipv6']) writeSysctl(client.netns, `net.${family}.neigh.eth0.retrans_time_ms`, 10);
  const child = inNetns(client.netns, () => spawn(process.execPath, [HAMMER, store, String(PORT), '1', '250'], { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv() }));
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const exited = once(child, 'exit');
  const report = exited.then(([code]) => {
    const line = out.split('\n').find((l) => l.startsWith('{'));
    if (code !== 0 || !line) throw new Error(`prober in ${podKey(client)} exited ${code}: ${err || out}`);
    return JSON.parse(line) as HammerReport;
  });
  report.catch(() => undefined);
  const deadline = Date.now() + 10_000;
  while (!out.includes('ready')) {
    if (child.exitCode !== null) await report;
    if (Date.now() > deadline) throw new Error(`prober in ${podKey(client)} not ready: ${err}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return { from: podKey(client), child, report };
}

interface Outcome {
  pod: PodRecord;
  addReturnedAt: number;
  /** Per prober: what it saw of each of the new pod's addresses. */
  seen: { from: string; targets: HammerTarget[] }[];
}

/** Creates `object` on node-0 with the probers hammering its addresses from before its ADD to 1 s after. */
async function createUnderFire(t: ExecutionContext, lab: string, root: string, object: KubeObject): Promise<Outcome> {
  let state = loadState(labPaths(root, lab), lab);
  const clients = ['y/client-0', 'y/client-1'].map((k) => state.pods.find((p) => podKey(p) === k) as PodRecord);
  const hammers = await Promise.all(clients.map((c) => startHammer(state, root, c, 'node-0')));
  t.teardown(() => hammers.forEach((h) => h.child.kill()));
  let failed: unknown;
  try {
    await apply(lab, root, [object]);
  } catch (err) {
    failed = err;
  }
  // Keeps hammering for a second after the ADD returned, then collects.
  const addReturnedAt = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  for (const h of hammers) h.child.stdin?.end();
  const reports = await Promise.all(hammers.map((h) => h.report));
  if (failed) throw failed;
  state = loadState(labPaths(root, lab), lab);
  const created = state.pods.find((p) => p.namespace === object.metadata.namespace && p.name === object.metadata.name);
  if (!created) throw new Error(`${object.metadata.namespace}/${object.metadata.name} was not created`);
  return { pod: created, addReturnedAt, seen: hammers.map((h, i) => ({ from: h.from, targets: reports[i].targets })) };
}

const summary = (s: HammerTarget, addReturnedAt: number) =>
  `${s.address}: ${s.attempts} attempts from ${s.firstAttemptAt - s.seenAt} ms after allocation, ${addReturnedAt - s.firstAttemptAt} ms before the ADD returned; ` +
  `${s.connected} connected, ${s.refused} refused, ${s.timeouts} timed out, errors ${JSON.stringify(s.errors)}, ${s.skipped} skipped` +
  (s.firstReachedAt ? `; first reached ${s.firstReachedAt - addReturnedAt} ms after the ADD returned` : '');

/** Every prober targeted each of the pod's addresses, and started before the ADD returned. */
function checkCoverage(t: ExecutionContext, o: Outcome): void {
  for (const { from, targets } of o.seen) {
    t.deepEqual(targets.map((s) => s.address).sort(), [...o.pod.ips].sort(), `${from} probed exactly the new pod's addresses`);
    for (const s of targets) {
      t.log(`${from} -> ${podKey(o.pod)} ${summary(s, o.addReturnedAt)}`);
      t.true(s.attempts > 0 && s.firstAttemptAt < o.addReturnedAt, `${from} -> ${s.address}: probing started before the ADD returned`);
    }
  }
}

for (const backend of ['nftables', 'iptables'] as AgentBackend[]) {
  test.serial(`${backend}: a pod created under a deny-all ingress policy is never reachable, from its first millisecond on (control: one without is)`, async (t) => {
    t.timeout(120_000);
    const lab = labName(`nps-${backend.slice(0, 3)}`);
    const root = labRoot(t, lab);
    await labUp({ name: lab, root, nodes: 2, podsPerNode: 0, ports: [80], backend });
    await apply(lab, root, [namespace('x'), namespace('y'), pod('y', 'client-0', 'node-0'), pod('y', 'client-1', 'node-1')]);
    const deny = networkPolicy('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
    await apply(lab, root, [deny]);
    const paths = labPaths(root, lab);
    const synced = await waitAgentsSynced(loadState(paths, lab), paths.manifests, fs.statSync(manifestFile(paths.manifests, deny)).mtimeMs);
    t.log(`deny-ingress in x: ${synced}`);

    const denied = await createUnderFire(t, lab, root, pod('x', 'new', 'node-0'));
    checkCoverage(t, denied);
    for (const { from, targets } of denied.seen) {
      for (const s of targets) t.is(s.connected + s.refused, 0, `${from} -> x/new ${s.address}: reached ${s.connected + s.refused} time(s)`);
    }

    // Control: the same probers do see a pod without a policy, as soon as it is reachable.
    const open = await createUnderFire(t, lab, root, pod('y', 'new', 'node-0'));
    checkCoverage(t, open);
    for (const { from, targets } of open.seen) {
      for (const s of targets) t.true(s.connected > 0, `${from} -> y/new ${s.address}: never connected (${summary(s, open.addReturnedAt)})`);
    }
  });
}
