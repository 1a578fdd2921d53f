/**
 * `weftctl policy trace|explain|matrix|what-if` online: a real weft-agent in a namespace of the
 * test's own, reading a manifests directory, answers over its socket from the objects it holds,
 * and the built CLI prints exactly what it prints offline (--manifests) for the same objects;
 * the agent's answer follows its objects as they change; a question it cannot answer, and an
 * agent that is not there, are one line `weftctl: ...` and exit code 1.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { createAgentClient } from '../../agent/api/client';
import type { KubeObject } from '../../agent/objects';
import type { TraceResult } from '../../policy/explain/trace';
import { eventually, startAgentProcess, waitReady } from '../helpers/agent-process';
import { tempNetns } from '../helpers/netns';
import { clusterObjects, networkPolicy } from '../helpers/policy-objects';
import { tempDir } from '../helpers/tmp';

const WEFTCTL = path.join(__dirname, '..', '..', 'cli', 'weftctl.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a process (asynchronously: the test's event loop keeps going meanwhile). */
function weftctl(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEFTCTL, 'policy', ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 128) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const yamlOf = (objects: readonly KubeObject[]): string => objects.map((o) => stringify(o)).join('---\n');

interface Setup {
  dir: string;
  manifests: string;
  socket: string;
  /** Extra files (what-if proposals), outside the agent's directory. */
  files: string;
}

/** The test cluster in a manifests directory, and an agent on node n1 reading it. */
async function setup(t: ExecutionContext): Promise<Setup> {
  const ns = tempNetns(t, 'pol-online');
  const dir = tempDir(t, 'pol-online');
  const manifests = path.join(dir, 'manifests');
  const files = path.join(dir, 'files');
  fs.mkdirSync(manifests);
  fs.mkdirSync(files);
  fs.writeFileSync(path.join(manifests, 'cluster.yaml'), yamlOf(clusterObjects()));
  const socket = path.join(dir, 'run', 'agent.sock');
  const agent = startAgentProcess(t, ns, ['--node-name', 'n1', '--source', 'manifests', '--manifests', manifests, '--cni-socket', '', '--health-listen', ''], socket);
  await waitReady(agent);
  return { dir, manifests, socket, files };
}

const AGENT_SOURCE = 'the objects of the agent on n1';

/**
 * The same question offline and online: both succeed, and print the same, but for the words
 * that say where the objects come from (in notes: "no EndpointSlice for y/back in ...").
 */
async function same(t: ExecutionContext, s: Setup, args: string[]): Promise<string> {
  const [offline, online] = await Promise.all([weftctl([...args, '--manifests', s.manifests]), weftctl([...args, '--socket', s.socket])]);
  t.is(offline.code, 0, `offline ${args.join(' ')}: ${offline.stderr}`);
  t.is(online.code, 0, `online ${args.join(' ')}: ${online.stderr}`);
  t.is(online.stdout.replaceAll(AGENT_SOURCE, `--manifests ${s.manifests}`), offline.stdout, `weftctl policy ${args.join(' ')}`);
  t.is(online.stderr, offline.stderr, `warnings of ${args.join(' ')}`);
  return online.stdout;
}

test('trace, explain, matrix and what-if online print what they print offline for the same objects', async (t) => {
  t.timeout(180_000);
  const s = await setup(t);
  const proposal = path.join(s.files, 'b-from-a.yaml');
  fs.writeFileSync(proposal, yamlOf([networkPolicy('x', 'b-from-a', { podSelector: { matchLabels: { app: 'b' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 80 }] }] })]));
  const deletion = path.join(s.files, 'deny-all.yaml');
  fs.writeFileSync(deletion, yamlOf([networkPolicy('y', 'deny-all', {})]));
  const questions: string[][] = [
    ['trace', '--from', 'x/a', '--to', 'y/b', '--port', '80'],
    ['trace', '--from', 'x/a', '--to', 'y/b', '--port', '8080/tcp', '-o', 'json'],
    ['trace', '--from', 'y/a', '--to', 'svc/y/web', '--port', '80', '-o', 'json'],
    ['trace', '--from', 'x/a', '--to', '10.96.0.10', '--port', '80', '--endpoint', 'y/b'],
    ['trace', '--from', '10.244.1.1', '--to', 'y/back', '--port', '80', '-o', 'yaml'],
    ['explain', 'y/b'],
    ['explain', '10.244.0.1', '-o', 'json'],
    ['matrix', '-o', 'json'],
    ['matrix', '-n', 'y', '--port', '8080'],
    ['matrix', '-n', 'x', '-n', 'y', '--port', '80', '-o', 'svg'],
    ['what-if', '-f', proposal, '-o', 'json'],
    ['what-if', '-f', deletion, '--delete', '--port', '80'],
  ];
  const outputs: string[] = [];
  for (const q of questions) outputs.push(await same(t, s, q));
  // The answers are the engine's, not empty agreement: spot checks.
  t.true(outputs[0].startsWith('x/a (10.244.0.1) -> y/b (10.244.1.2) port 80/TCP: ALLOWED\n'));
  t.is((JSON.parse(outputs[1]) as TraceResult).verdict, 'denied');
  t.deepEqual((JSON.parse(outputs[2]) as TraceResult).paths.map((p) => `${p.to.address}:${p.port}`), ['10.244.1.2:8080', '10.244.1.3:9090']);
  t.regex(outputs[5], /^pod y\/b \(10\.244\.1\.2\)\n/);
  t.is((JSON.parse(outputs[7]) as { pairs: unknown[] }).pairs.length, 25);
  // (A pod reaching itself is never denied: x/b -> x/b is not among them.)
  t.regex(outputs[10], /"newlyDenied": \[\n\s+\{\n\s+"from": "y\/a"/);
  t.regex(outputs[11], /^deleting y\/deny-all: 4 newly allowed, 0 newly denied/);
  // what-if --delete of a policy the agent does not have: said as offline says it.
  const r = await weftctl(['what-if', '-f', proposal, '--delete', '--socket', s.socket]);
  t.is(r.code, 1);
  t.is(r.stderr, 'weftctl: no NetworkPolicy x/b-from-a in the objects of the agent on n1 to delete\n');
});

test('the online answer follows the agent objects: a new policy, and an invalid one as a warning', async (t) => {
  t.timeout(180_000);
  const s = await setup(t);
  const ask = ['trace', '--from', 'x/b', '--to', 'x/a', '--port', '80'];
  t.regex((await weftctl([...ask, '--socket', s.socket])).stdout, /: ALLOWED\n/);
  fs.writeFileSync(
    path.join(s.manifests, 'more.yaml'),
    yamlOf([networkPolicy('x', 'deny-in', { podSelector: {}, policyTypes: ['Ingress'] }), networkPolicy('x', 'bad', { podSelector: {}, ingress: [{ ports: [{ port: 'Not_A_Name' }] }] })]),
  );
  const denied = await eventually('the agent to answer from the new policy', async () => {
    const r = await weftctl([...ask, '--socket', s.socket]);
    return r.stdout.includes(': DENIED\n') ? r : undefined;
  }, 20_000);
  t.is(denied.code, 0);
  t.deepEqual(denied.stderr.trimEnd().split('\n'), [
    'weftctl: warning: NetworkPolicy x/bad is invalid (the API server would refuse it) and plays no part: spec.ingress[0].ports[0].port: "Not_A_Name" is neither a port number nor a valid port name',
  ]);
  t.true(denied.stdout.includes('ingress to x/a: isolated by x/deny-in (no ingress rules); DENIED'));
  await same(t, s, [...ask, '-o', 'json']);
  await same(t, s, ['matrix', '-n', 'x', '--port', '80']);
});

test('bad questions and unreachable agents: one line `weftctl: ...`, exit code 1; gRPC NOT_FOUND and INVALID_ARGUMENT', async (t) => {
  t.timeout(180_000);
  const s = await setup(t);
  const fails = async (args: string[], message: RegExp) => {
    const r = await weftctl(args);
    t.is(r.code, 1, args.join(' '));
    t.is(r.stdout, '');
    t.regex(r.stderr, message);
    t.is(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  };
  await fails(['trace', '--socket', s.socket, '--from', 'x/nope', '--to', 'y/b', '--port', '80'], /^weftctl: no pod x\/nope in the objects of the agent on n1 \(pods in x: a, b, host\)\n$/);
  await fails(['explain', '--socket', s.socket, 'q/a'], /^weftctl: no pod q\/a in the objects of the agent on n1 \(no pod at all in namespace q\)\n$/);
  await fails(['trace', '--socket', s.socket, '--from', 'x/a', '--to', 'svc/y/nope', '--port', '80'], /^weftctl: no service y\/nope in the objects of the agent on n1\n$/);
  await fails(['trace', '--socket', s.socket, '--from', 'x/a', '--to', 'y/b', '--port', '80/icmp'], /^weftctl: --port "80\/icmp": protocol icmp is not TCP, UDP or SCTP\n$/);
  await fails(['matrix', '--socket', s.socket, '-n', 'q'], /^weftctl: no pod NetworkPolicy applies to in namespace q \(the objects of the agent on n1\)\n$/);
  await fails(['trace', '--socket', path.join(s.dir, 'none.sock'), '--from', 'x/a', '--to', 'y/b', '--port', '80'], /^weftctl: no agent socket at \S+\/none\.sock \(is weft-agent running\? --socket PATH\)\n$/);
  // A socket file nobody listens on: what an agent that died leaves.
  const stale = path.join(s.dir, 'stale.sock');
  fs.writeFileSync(stale, '');
  await fails(['trace', '--socket', stale, '--from', 'x/a', '--to', 'y/b', '--port', '80'], /^weftctl: nothing answers on \S+\/stale\.sock \(ECONNREFUSED\): is weft-agent running\? \(--socket PATH\)\n$/);

  const client = createAgentClient(s.socket);
  t.teardown(() => client.close());
  t.like(await t.throwsAsync(client.policyQuery({ kind: 'explain', pod: 'x/nope' })), { code: 5 });
  t.like(await t.throwsAsync(client.policyQuery({ kind: 'trace', from: 'x/a', to: 'y/b', port: '0' })), { code: 3 });
  t.like(await t.throwsAsync(client.policyQuery({ kind: 'what-if', policies: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }] })), { code: 3, details: 'Pod default/p: what-if takes NetworkPolicy objects only' });
});
