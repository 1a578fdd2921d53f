/**
 * ClusterNetworkPolicy reaching the real weft-agent process (in a network namespace of the
 * test's own) from both sources: the Kubernetes API (the fake API server, real client library,
 * wire protocol), with and without the CRD installed, and a manifests directory. What the
 * agent holds is seen in its status (object counts), every change of the kind is a sync (each
 * compiles the node's policy: counted from its "sync applied" lines, logged at debug level for
 * every sync), and `weftctl policy trace` online names the Admin tier.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { KubeObject } from '../../agent/objects';
import { eventually, startAgentProcess, waitReady, type AgentProcess } from '../helpers/agent-process';
import { FakeKubeApi, type FakeObject } from '../helpers/fake-kube-api';
import { loopbackUp } from '../helpers/loopback';
import { tempNetns } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';

const WEFTCTL = path.join(__dirname, '..', '..', 'cli', 'weftctl.js');
const KIND = 'ClusterNetworkPolicy';
/** How long a change may take to show, on a loaded machine (it bounds failures only). */
const WAIT_MS = 30_000;

/** Namespaces x and z (team: z), a pod in each on node n1, and node n1 itself. */
function clusterObjects(): KubeObject[] {
  const pod = (namespace: string, name: string, ip: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name } },
    spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [{ containerPort: 80 }] }] },
    status: { phase: 'Running', podIPs: [{ ip }] },
  });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { 'kubernetes.io/metadata.name': 'x' } } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'z', labels: { 'kubernetes.io/metadata.name': 'z', team: 'z' } } },
    pod('x', 'a', '10.244.1.2'),
    pod('z', 'b', '10.244.1.3'),
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { zone: 'one' } }, spec: { podCIDRs: ['10.244.1.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.1' }] } },
  ];
}

/** An Admin policy denying ingress from namespaces labelled team: z to every pod. */
function guard(priority = 10): KubeObject {
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: KIND,
    metadata: { name: 'guard' },
    spec: { tier: 'Admin', priority, subject: { namespaces: {} }, ingress: [{ name: 'no-z', action: 'Deny', from: [{ namespaces: { matchLabels: { team: 'z' } } }] }] },
  };
}

/** Syncs the agent ran so far: each logs "sync applied" (at debug level when it changed nothing). */
const syncs = (agent: AgentProcess): number => agent.logs().filter((l) => l.msg === 'sync applied').length;

async function objectCount(agent: AgentProcess, kind: string): Promise<number> {
  return (await agent.status()).objectCounts[kind] ?? 0;
}

/** Waits for the agent to hold `count` objects of the kind and to have synced after `before` syncs. */
async function synced(agent: AgentProcess, what: string, before: number, count: number): Promise<void> {
  await eventually(what, async () => ((await objectCount(agent, KIND)) === count && syncs(agent) > before ? true : undefined), WAIT_MS);
}

/** `weftctl policy trace` z/b -> x/a port 80, online. */
async function trace(socket: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [WEFTCTL, 'policy', 'trace', '--socket', socket, '--from', 'z/b', '--to', 'x/a', '--port', '80'], { encoding: 'utf8', timeout: 60_000 });
  return stdout;
}

interface Setup {
  ns: string;
  dir: string;
  socket: string;
}

function setup(t: ExecutionContext): Setup {
  const ns = tempNetns(t, 'cnp-src');
  const dir = tempDir(t, 'cnp-src');
  return { ns, dir, socket: path.join(dir, 'run', 'agent.sock') };
}

/** The agent's options but its source: no resync (so that only changes sync), every sync logged. */
const COMMON = ['--node-name', 'n1', '--cni-socket', '', '--health-listen', '', '--resync-interval', '0', '--log-level', 'debug'];

test('--source kube without the CRD: the agent syncs everything else and is ready, says so once; installed later, its objects arrive, and each change of them (and of a Node) is a sync', async (t) => {
  t.timeout(240_000);
  const s = setup(t);
  await loopbackUp(s.ns);
  const api = await FakeKubeApi.start({ netns: s.ns });
  t.teardown(() => api.close());
  api.uninstall(KIND);
  for (const o of clusterObjects()) api.add(o as FakeObject);
  const agent = startAgentProcess(t, s.ns, [...COMMON, '--source', 'kube', '--kubeconfig', api.writeKubeconfig(s.dir), '--crd-recheck-interval', '0.05'], s.socket);
  const status = await waitReady(agent);
  t.like(status.objectCounts, { Pod: 2, Namespace: 2, Node: 1, [KIND]: 0 });
  const notServed = () => agent.logs().filter((l) => l.kind === KIND && typeof l.msg === 'string' && l.msg.startsWith('kind not served'));
  t.is(notServed().length, 1);
  t.is(notServed()[0].level, 30, 'info, not a warning');

  // Looked for again and again: no sync, no restart, nothing more said.
  await eventually('the first sync logged', () => (syncs(agent) > 0 ? true : undefined), WAIT_MS);
  const before = syncs(agent);
  const looks = api.lists(KIND).length;
  await eventually('more looks for the CRD', () => (api.lists(KIND).length >= looks + 5 ? true : undefined), WAIT_MS);
  t.is(syncs(agent), before);
  t.is(notServed().length, 1);
  t.false(agent.logs().some((l) => l.msg === 'watch restarted'));
  t.true((await agent.status()).ready);
  t.true((await trace(s.socket)).startsWith('z/b (10.244.1.3) -> x/a (10.244.1.2) port 80/TCP: ALLOWED\n'));

  // Installed with a policy: picked up without a restart, and the online trace names the tier.
  api.install(KIND);
  api.add(guard() as FakeObject);
  await synced(agent, 'the policy held and synced', before, 1);
  t.true(agent.logs().some((l) => l.kind === KIND && typeof l.msg === 'string' && l.msg.startsWith('kind now served')));
  const denied = await trace(s.socket);
  t.true(denied.startsWith('z/b (10.244.1.3) -> x/a (10.244.1.2) port 80/TCP: DENIED\n'), denied);
  t.true(denied.includes('ingress to x/a: DENIED by Admin ClusterNetworkPolicy guard (priority 10) ingress rule 1 (no-z)'), denied);

  // Changed, then deleted: a sync each.
  await eventually('the policy watched', () => (api.openWatches(KIND) === 1 ? true : undefined), WAIT_MS);
  let mark = syncs(agent);
  api.update(guard(20) as FakeObject);
  await synced(agent, 'a sync after the change', mark, 1);
  t.regex(await trace(s.socket), /DENIED by Admin ClusterNetworkPolicy guard \(priority 20\)/);
  mark = syncs(agent);
  const node = clusterObjects().find((o) => o.kind === 'Node')!;
  api.update({ ...node, metadata: { ...node.metadata, labels: { zone: 'two' } } } as FakeObject);
  await eventually('a sync after the Node change', () => (syncs(agent) > mark ? true : undefined), WAIT_MS);
  mark = syncs(agent);
  api.remove(KIND, 'guard');
  await synced(agent, 'a sync after the deletion', mark, 0);
  t.regex(await trace(s.socket), /: ALLOWED\n/);
  t.false(agent.logs().some((l) => l.msg === 'watch restarted'));
});

test('--source manifests: ClusterNetworkPolicy documents are held, each change is a sync, and the online trace names the Admin tier', async (t) => {
  t.timeout(240_000);
  const s = setup(t);
  const manifests = path.join(s.dir, 'manifests');
  fs.mkdirSync(manifests);
  fs.writeFileSync(path.join(manifests, 'cluster.yaml'), clusterObjects().map((o) => stringify(o)).join('---\n'));
  fs.writeFileSync(path.join(manifests, 'guard.yaml'), stringify(guard()));
  const agent = startAgentProcess(t, s.ns, [...COMMON, '--source', 'manifests', '--manifests', manifests], s.socket);
  const status = await waitReady(agent);
  t.like(status.objectCounts, { Pod: 2, [KIND]: 1 });
  t.deepEqual(status.sources.map((x) => x.skipped), [0]);
  t.regex(await trace(s.socket), /ingress to x\/a: DENIED by Admin ClusterNetworkPolicy guard \(priority 10\) ingress rule 1 \(no-z\)/);

  let mark = syncs(agent);
  fs.writeFileSync(path.join(manifests, 'guard.yaml'), stringify(guard(30)));
  await synced(agent, 'a sync after the change', mark, 1);
  t.regex(await eventually('the new priority in the answer', async () => {
    const out = await trace(s.socket);
    return out.includes('(priority 30)') ? out : undefined;
  }, WAIT_MS), /DENIED by Admin ClusterNetworkPolicy guard \(priority 30\)/);
  mark = syncs(agent);
  fs.rmSync(path.join(manifests, 'guard.yaml'));
  await synced(agent, 'a sync after the deletion', mark, 0);
  t.regex(await trace(s.socket), /: ALLOWED\n/);
});
