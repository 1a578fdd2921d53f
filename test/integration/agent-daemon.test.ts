/**
 * The real weft-agent process in a network namespace, with a manifests directory: it programs
 * the kernel, follows changes, reports status, health and metrics, adopts its rules after a
 * restart without rewriting them, keeps them when stopped, and refuses a second agent.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { IptablesCli } from '../../kernel/iptables';
import { NftCli, Transaction, type Ruleset } from '../../kernel/nft';
import { runIn } from '../../lab/probe';
import { eventually, startAgentProcess, waitReady, type AgentProcess } from '../helpers/agent-process';
import { loopbackUp } from '../helpers/loopback';
import { tempNetns } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';
import { FakeKubeApi } from '../helpers/fake-kube-api';

const W = { family: 'inet' as const, name: 'weft' };

function podYaml(name: string, node: string, ips: string[]): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default, labels: {app: ${name}}}
spec: {nodeName: ${node}}
status: {phase: Running, podIPs: [${ips.map((ip) => `{ip: "${ip}"}`).join(', ')}]}
`;
}

interface Setup {
  ns: string;
  dir: string;
  manifests: string;
  socket: string;
  start(extra?: string[]): AgentProcess;
}

function setup(t: ExecutionContext): Setup {
  const ns = tempNetns(t, 'agent');
  const dir = tempDir(t, 'agent');
  const manifests = path.join(dir, 'manifests');
  fs.mkdirSync(manifests);
  const socket = path.join(dir, 'run', 'agent.sock');
  const start = (extra: string[] = []) =>
    startAgentProcess(t, ns, ['--node-name', 'n1', '--source', 'manifests', '--manifests', manifests, '--cni-socket', '', '--health-listen', '127.0.0.1:9764', ...extra], socket);
  return { ns, dir, manifests, socket, start };
}

function elements(rs: Ruleset | undefined, set: string): string[] {
  return (rs?.sets.find((s) => s.name === set)?.elements ?? []).map((e) => `${e.key.join(' . ')} ${e.comment ?? ''}`.trim());
}

/** GET from a process inside the namespace (the health server listens on its loopback). */
async function httpGet(ns: string, urlPath: string): Promise<{ status: number; body: string }> {
  const script = `require('http').get('http://127.0.0.1:9764' + process.argv[1], (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: b }))); }).on('error', (e) => { process.stdout.write(JSON.stringify({ status: 0, body: e.message })); });`;
  const { stdout } = await runIn(ns, process.execPath, ['-e', script, urlPath]);
  return JSON.parse(stdout) as { status: number; body: string };
}

function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

test('programs the node from manifests, follows changes, reports status, health and metrics', async (t) => {
  const s = setup(t);
  await loopbackUp(s.ns);
  fs.writeFileSync(path.join(s.manifests, 'pods.yaml'), `${podYaml('a', 'n1', ['10.244.1.2', 'fd00:10:244:1::2'])}---\n${podYaml('b', 'n2', ['10.244.2.2'])}`);
  // An invalid object is reported and skipped; everything else is enforced.
  fs.writeFileSync(path.join(s.manifests, 'bad.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: "Not_Valid"}\n');
  const agent = s.start();
  const status = await waitReady(agent);
  t.is(status.nodeName, 'n1');
  t.is(status.backend, 'nftables');
  t.is(status.rulesLocation, 'inet weft');
  t.is(status.objectCounts.Pod, 2);
  t.deepEqual(status.sources.map((x) => [x.synced, x.skipped]), [[true, 1]]);
  t.is(status.sync.lastError, '');
  t.true(status.sync.lastSyncUnixMs > 0);

  const nft = new NftCli({ netns: s.ns });
  let rs = await nft.listRuleset(W);
  t.deepEqual(elements(rs, 'local-pods-v4'), ['10.244.1.2 default/a']);
  t.deepEqual(elements(rs, 'local-pods-v6'), ['fd00:10:244:1::2 default/a']);
  // No Node object for n1, so nothing to masquerade, and no policy: only the pod bridge's guard is hooked in.
  t.deepEqual(rs?.chains.map((c) => c.name).sort(), ['pod-bridge-forward', 'pod-bridge-output', 'pod-bridge-sources']);

  fs.writeFileSync(path.join(s.manifests, 'c.yaml'), podYaml('c', 'n1', ['10.244.1.3']));
  rs = await eventually('pod c in the set', async () => {
    const now = await nft.listRuleset(W);
    return elements(now, 'local-pods-v4').length === 2 ? now : undefined;
  }, 2000);
  t.deepEqual(elements(rs, 'local-pods-v4'), ['10.244.1.2 default/a', '10.244.1.3 default/c']);
  fs.rmSync(path.join(s.manifests, 'pods.yaml'));
  await eventually('pod a gone', async () => (elements(await nft.listRuleset(W), 'local-pods-v4').length === 1 ? true : undefined), 2000);

  t.deepEqual(await httpGet(s.ns, '/healthz'), { status: 200, body: 'ok\n' });
  t.deepEqual(await httpGet(s.ns, '/readyz'), { status: 200, body: 'ok\n' });
  const metrics = (await httpGet(s.ns, '/metrics')).body;
  // One pod address, and the guard's 7 rules (3 for sources, 2 forwarded, 2 sent).
  t.is(metric(metrics, 'weft_rules'), 8);
  t.is(metric(metrics, 'weft_objects_skipped_total'), 1);
  t.true((metric(metrics, 'weft_sync_duration_seconds_count') ?? 0) >= 3);
  t.is(metric(metrics, 'weft_sync_errors_total'), 0);
  t.true((metric(metrics, 'weft_agent_process_resident_memory_bytes') ?? 0) > 0);
  t.is((await httpGet(s.ns, '/nope')).status, 404);
  t.is(await agent.stop(), 0);
});

test('a restart adopts the rules without rewriting them; SIGTERM leaves them in place', async (t) => {
  const s = setup(t);
  await loopbackUp(s.ns);
  fs.writeFileSync(path.join(s.manifests, 'pods.yaml'), podYaml('a', 'n1', ['10.244.1.2']));
  const first = s.start();
  await waitReady(first);
  const nft = new NftCli({ netns: s.ns });
  const before = await nft.listRuleset(W);
  t.is(await first.stop(), 0);
  t.true(first.logs().some((l) => l.msg === 'stopping; rules stay in the kernel'));
  // Stopped: every rule is still there, so traffic keeps its rules while no agent runs.
  t.deepEqual(await nft.listRuleset(W), before);

  const second = s.start(['--log-level', 'debug', '--resync-interval', '1']);
  await waitReady(second);
  const after = await nft.listRuleset(W);
  // Same handles: nothing was deleted and re-added.
  t.deepEqual(after, before);
  // The log line may reach the pipe after the status answer: wait for it.
  const firstSync = await eventually('the first sync log line', () => second.logs().find((l) => l.msg === 'sync applied'));
  t.is(firstSync.changes, 0);

  // A change made behind the agent's back is reverted by the periodic resync (a sync for a
  // change diffs against what the agent committed, without reading the table back).
  await nft.run(new Transaction(W).add({ kind: 'element', set: 'local-pods-v4', key: ['10.9.9.9'] }));
  fs.writeFileSync(path.join(s.manifests, 'b.yaml'), podYaml('b', 'n1', ['10.244.1.3']));
  await eventually('drift reverted', async () => {
    const e = elements(await nft.listRuleset(W), 'local-pods-v4');
    return e.length === 2 && !e.some((x) => x.startsWith('10.9.9.9')) ? true : undefined;
  }, 5000);
  t.pass();
});

test('a second agent on the same socket refuses to start and leaves the first serving', async (t) => {
  const s = setup(t);
  await loopbackUp(s.ns);
  const first = s.start();
  await waitReady(first);
  const second = s.start(['--health-listen', '']);
  const code = await second.exited();
  t.is(code, 1);
  t.regex(second.output(), /already listens on .*agent\.sock/);
  t.true((await first.status()).ready);
});

test('bad command lines are refused with a message', async (t) => {
  const s = setup(t);
  for (const args of [['--backend', 'pf'], ['--node-name', 'Bad_Name'], ['--health-listen', 'nope'], ['--table', '1x']]) {
    const agent = s.start(args);
    const code = await agent.exited();
    t.is(code, 1, args.join(' '));
    t.regex(agent.output(), /Invalid|invalid/, args.join(' '));
  }
});

function nodeYaml(name: string, cidrs: string[]): string {
  return `apiVersion: v1\nkind: Node\nmetadata: {name: ${name}}\nspec: {podCIDRs: [${cidrs.map((c) => `"${c}"`).join(', ')}]}\n`;
}

test('the iptables backend writes the same state into WEFT- chains and adopts them on restart', async (t) => {
  const s = setup(t);
  fs.writeFileSync(path.join(s.manifests, 'nodes.yaml'), `${nodeYaml('n1', ['10.244.1.0/24', 'fd00:10:244:1::/64'])}---\n${nodeYaml('n2', ['10.244.2.0/24'])}`);
  const args = ['--backend', 'iptables', '--health-listen', '', '--log-level', 'debug', '--cluster-cidr', '10.244.0.0/16', '--service-cidr', '10.96.0.0/16'];
  const first = s.start(args);
  await waitReady(first);
  const v4 = new IptablesCli({ family: 'ipv4', netns: s.ns });
  const v6 = new IptablesCli({ family: 'ipv6', netns: s.ns });
  const rules = async (ipt: IptablesCli) => (await ipt.save('nat')).rules.map((r) => `${r.chain} ${r.text}`);
  t.deepEqual(await rules(v4), [
    'POSTROUTING -j WEFT-POSTROUTING',
    'WEFT-POSTROUTING -d 10.244.0.0/16 -m comment --comment "cluster destination: no masquerade" -j RETURN',
    'WEFT-POSTROUTING -d 10.96.0.0/16 -m comment --comment "cluster destination: no masquerade" -j RETURN',
    'WEFT-POSTROUTING -s 10.244.1.0/24 -m comment --comment "pods to outside the cluster" -j MASQUERADE',
  ]);
  // No IPv6 cluster range was given: every IPv6 destination outside the pod's is "outside".
  t.deepEqual(await rules(v6), ['POSTROUTING -j WEFT-POSTROUTING', 'WEFT-POSTROUTING -s fd00:10:244:1::/64 -m comment --comment "pods to outside the cluster" -j MASQUERADE']);
  t.is(await first.stop(), 0);
  t.is((await rules(v4)).length, 4);
  const second = s.start(args);
  await waitReady(second);
  t.is((await eventually('the first sync log line', () => second.logs().find((l) => l.msg === 'sync applied'))).changes, 0);
  // The node's subnet changes: the chain follows; a family gone takes its chain and jump with it.
  fs.writeFileSync(path.join(s.manifests, 'nodes.yaml'), nodeYaml('n1', ['10.244.9.0/24']));
  await eventually('the new subnet', async () => ((await rules(v4)).some((r) => r.includes('-s 10.244.9.0/24')) ? true : undefined), 2000);
  await eventually('IPv6 chain gone', async () => ((await rules(v6)).length === 0 ? true : undefined), 2000);
});

test('--source kube: the agent lists and watches the API server (real client library, wire protocol)', async (t) => {
  const s = setup(t);
  await loopbackUp(s.ns);
  const api = await FakeKubeApi.start({ netns: s.ns });
  t.teardown(() => api.close());
  const kubeconfig = api.writeKubeconfig(s.dir);
  const pod = (name: string, ip: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: 'n1' }, status: { phase: 'Running', podIPs: [{ ip }] } });
  api.add(pod('a', '10.244.1.2'));
  api.add({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  const agent = startAgentProcess(t, s.ns, ['--node-name', 'n1', '--source', 'kube', '--kubeconfig', kubeconfig, '--cni-socket', '', '--health-listen', ''], s.socket);
  const status = await waitReady(agent);
  t.regex(status.sources[0].description, /^kube http:\/\/127\.0\.0\.1:\d+/);
  t.is(status.objectCounts.Pod, 1);
  const nft = new NftCli({ netns: s.ns });
  t.deepEqual(elements(await nft.listRuleset(W), 'local-pods-v4'), ['10.244.1.2 default/a']);
  api.add(pod('b', '10.244.1.3'));
  api.remove('Pod', 'a', 'default');
  await eventually('the watch events in the kernel', async () => {
    const e = elements(await nft.listRuleset(W), 'local-pods-v4');
    return e.length === 1 && e[0] === '10.244.1.3 default/b' ? true : undefined;
  });
  // A dropped watch is resumed, and counted.
  api.dropWatches('Pod');
  api.add(pod('c', '10.244.1.4'));
  await eventually('resumed after the drop', async () => (elements(await nft.listRuleset(W), 'local-pods-v4').length === 2 ? true : undefined), 10_000);
  t.true(agent.logs().some((l) => l.msg === 'watch restarted' && l.kind === 'Pod'));
});
