/**
 * `weftctl policy ... --kubeconfig`: questions answered offline from a cluster's objects, listed
 * from an API server (the test double, which speaks the list wire protocol to the real client
 * library) in a namespace of the test's own. The answers equal those from the same objects as
 * manifests; a server without the ClusterNetworkPolicy CRD is no ClusterNetworkPolicies; an
 * invalid object is a warning; a server that is down, or refuses a list, is one clear line.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { inNetns } from '../../kernel/netns';
import { FakeKubeApi, type FakeObject } from '../helpers/fake-kube-api';
import { loopbackUp } from '../helpers/loopback';
import { tempNetns } from '../helpers/netns';
import { clusterObjects } from '../helpers/policy-objects';
import { tempDir } from '../helpers/tmp';

const WEFTCTL = path.join(__dirname, '..', '..', 'cli', 'weftctl.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** weftctl in `ns` (where the API server listens), without blocking this process (which serves it). */
function weftctl(ns: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = inNetns(ns, () => spawn(process.execPath, [WEFTCTL, 'policy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr });
    });
  });
}

interface Setup {
  ns: string;
  api: FakeKubeApi;
  kubeconfig: string;
  manifests: string;
}

/** The test cluster served by an API server, and the same objects as a manifests file. */
async function setup(t: ExecutionContext): Promise<Setup> {
  const ns = tempNetns(t, 'kcfg');
  await loopbackUp(ns);
  const api = await FakeKubeApi.start({ netns: ns });
  t.teardown(() => api.close());
  const dir = tempDir(t, 'weftctl-kubeconfig');
  const objects = clusterObjects();
  for (const object of objects) api.add(object as FakeObject);
  const manifests = path.join(dir, 'cluster.yaml');
  fs.writeFileSync(manifests, objects.map((o) => stringify(o)).join('---\n'));
  return { ns, api, kubeconfig: api.writeKubeconfig(dir), manifests };
}

test('trace, explain and matrix from a cluster answer as from the same objects in manifests', async (t) => {
  t.timeout(120_000);
  const s = await setup(t);
  const questions = [
    ['trace', '--from', 'x/a', '--to', 'y/b', '--port', '80'],
    ['trace', '--from', 'x/a', '--to', 'y/b', '--port', '8080', '-o', 'json'],
    ['trace', '--from', 'y/a', '--to', 'svc/y/web', '--port', '80'],
    ['explain', 'y/b'],
    ['matrix', '-n', 'x', '-n', 'y', '--port', '80'],
  ];
  for (const q of questions) {
    const fromCluster = await weftctl(s.ns, [...q, '--kubeconfig', s.kubeconfig]);
    const fromFiles = await weftctl(s.ns, [...q, '--manifests', s.manifests]);
    t.is(fromCluster.code, 0, `${q.join(' ')}: ${fromCluster.stderr}`);
    t.is(fromCluster.stderr, '');
    t.true(fromCluster.stdout.length > 0);
    t.is(fromCluster.stdout, fromFiles.stdout, q.join(' '));
  }
  // One list per kind, nothing watched.
  t.deepEqual(s.api.watchRequests(), []);
  t.true(s.api.lists('Pod').length >= questions.length);
});

test('a cluster without the ClusterNetworkPolicy CRD has none; with it, they take part', async (t) => {
  t.timeout(120_000);
  const s = await setup(t);
  const ask = ['trace', '--from', 'x/a', '--to', 'y/b', '--port', '80', '--kubeconfig', s.kubeconfig];
  s.api.uninstall('ClusterNetworkPolicy');
  const without = await weftctl(s.ns, ask);
  t.is(without.code, 0, without.stderr);
  t.regex(without.stdout, /: ALLOWED\n/);
  s.api.install('ClusterNetworkPolicy');
  s.api.add({
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: 'deny-x-to-y' },
    spec: { tier: 'Admin', priority: 10, subject: { namespaces: { matchLabels: { ns: 'y' } } }, ingress: [{ action: 'Deny', from: [{ namespaces: { matchLabels: { ns: 'x' } } }] }] },
  });
  const denied = await weftctl(s.ns, ask);
  t.is(denied.code, 0, denied.stderr);
  t.regex(denied.stdout, /: DENIED\n/);
  t.regex(denied.stdout, /deny-x-to-y/);
});

test('an invalid object is left out with a warning; an unknown pod names the cluster', async (t) => {
  t.timeout(120_000);
  const s = await setup(t);
  s.api.addRaw('Pod', { metadata: { name: 'Bad_Name', namespace: 'x' }, spec: {} });
  const r = await weftctl(s.ns, ['trace', '--from', 'x/a', '--to', 'y/b', '--port', '80', '--kubeconfig', s.kubeconfig]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^weftctl: warning: http:\/\/127\.0\.0\.1:\d+: Pod list item \d+: Pod has an invalid name "Bad_Name"; left out\n$/);
  const unknown = await weftctl(s.ns, ['trace', '--from', 'x/nope', '--to', 'y/b', '--port', '80', '--kubeconfig', s.kubeconfig]);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr.trimEnd().split('\n').at(-1)!, /^weftctl: no pod x\/nope in the cluster at http:\/\/127\.0\.0\.1:\d+ \(pods in x: a, b, host\)$/);
});

test('a server that is down or answers an error, a missing kubeconfig, and two sources: one line, exit code 1', async (t) => {
  t.timeout(120_000);
  const s = await setup(t);
  const ask = (...more: string[]) => weftctl(s.ns, ['trace', '--from', 'x/a', '--to', 'y/b', '--port', '80', ...more]);
  const fails = async (r: Promise<Run>, message: RegExp) => {
    const done = await r;
    t.is(done.code, 1, done.stdout);
    t.is(done.stdout, '');
    t.regex(done.stderr, message);
    t.is(done.stderr.split('\n').length, 2, 'one line');
  };
  await fails(ask('--kubeconfig', path.join(path.dirname(s.kubeconfig), 'missing')), /^weftctl: --kubeconfig \S+\/missing: /);
  await fails(ask('--kubeconfig', s.kubeconfig, '--manifests', s.manifests), /^weftctl: --manifests and --kubeconfig: one or the other/);
  await s.api.down('error');
  await fails(ask('--kubeconfig', s.kubeconfig), /^weftctl: --kubeconfig \S+: cannot list \/\S+ from http:\/\/127\.0\.0\.1:\d+: HTTP 500 the fake API server is down\n$/);
  await s.api.up();
  await s.api.down('refuse');
  await fails(ask('--kubeconfig', s.kubeconfig), /^weftctl: --kubeconfig \S+: cannot list \/\S+ from http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
});
