/**
 * `weftctl policy trace|explain|matrix|what-if --manifests DIR`, the built CLI run as a process
 * on manifests written to a temporary directory: the outputs people and scripts read, and one
 * clear line and exit code 1 for bad input (unknown pod, malformed YAML, missing directory).
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { KubeObject } from '../../agent/objects';
import type { MatrixResult } from '../../policy/explain/matrix';
import type { TraceResult } from '../../policy/explain/trace';
import { clusterObjects, networkPolicy } from '../helpers/policy-objects';
import { tempDir } from '../helpers/tmp';

const WEFTCTL = path.join(__dirname, '..', '..', 'cli', 'weftctl.js');

function run(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WEFTCTL, 'policy', ...args], { encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

function ok(t: ExecutionContext, args: string[], input?: string): string {
  const r = run(args, input);
  t.is(r.code, 0, `weftctl policy ${args.join(' ')}: ${r.stderr}`);
  t.is(r.stderr, '', 'no warning for clean manifests');
  return r.stdout;
}

const yamlOf = (objects: readonly KubeObject[]): string => objects.map((o) => stringify(o)).join('---\n');

/** The test cluster, policies in a file of their own as people keep them. */
function manifests(t: ExecutionContext): string {
  const dir = tempDir(t, 'policy-cli');
  const objects = clusterObjects();
  fs.writeFileSync(path.join(dir, '10-cluster.yaml'), yamlOf(objects.filter((o) => o.kind !== 'NetworkPolicy')));
  fs.writeFileSync(path.join(dir, '20-policies.yml'), yamlOf(objects.filter((o) => o.kind === 'NetworkPolicy')));
  fs.writeFileSync(path.join(dir, 'README.txt'), 'not a manifest: ignored, as the agent ignores it');
  return dir;
}

test('trace: the verdict and both directions for people; JSON and YAML for scripts', (t) => {
  const dir = manifests(t);
  const text = ok(t, ['trace', '--manifests', dir, '--from', 'x/a', '--to', 'y/b', '--port', '80']);
  t.deepEqual(text.split('\n'), [
    'x/a (10.244.0.1) -> y/b (10.244.1.2) port 80/TCP: ALLOWED',
    '  egress from x/a: isolated by x/a-egress; allowed by x/a-egress egress rule 2: peer namespaceSelector {ns: y}, port 80/TCP',
    '  ingress to y/b: isolated by y/allow-a-web, y/allow-x, y/deny-all (no ingress rules); allowed by y/allow-x ingress rule 1: peer namespaceSelector {ns: x}, port 80/TCP',
    '',
  ]);
  const json = JSON.parse(ok(t, ['trace', '--manifests', dir, '--from', 'x/a', '--to', 'y/b', '--port', '8080/tcp', '-o', 'json'])) as TraceResult;
  t.is(json.verdict, 'denied');
  t.deepEqual(json.paths[0].ingress.notAllowedBy.map((m) => m.missing), ['peer', 'port']);
  const yaml = parse(ok(t, ['trace', '--manifests', dir, '--from', 'y/a', '--to', 'svc/y/web', '--port', '80', '-o', 'yaml'])) as TraceResult;
  t.is(yaml.verdict, 'allowed');
  t.deepEqual(yaml.paths.map((p) => `${p.to.address}:${p.port}`), ['10.244.1.2:8080', '10.244.1.3:9090']);
});

test('trace through a Service, and a denial, as people read them', (t) => {
  const dir = manifests(t);
  const text = ok(t, ['trace', '--manifests', dir, '--from', 'x/a', '--to', '10.96.0.10', '--port', '80', '--endpoint', 'y/b']);
  t.deepEqual(text.split('\n'), [
    'x/a (10.244.0.1) -> service y/web (10.96.0.10) port 80/TCP: DENIED',
    '  1 endpoint (from its EndpointSlices)',
    '  endpoint y/b (10.244.1.2) port 8080/TCP: DENIED',
    '    egress from x/a: isolated by x/a-egress; allowed by x/a-egress egress rule 2: peer namespaceSelector {ns: y}, port web/TCP (8080 on y/b)',
    '    ingress to y/b: isolated by y/allow-a-web, y/allow-x, y/deny-all (no ingress rules); DENIED: no rule allows x/a on 8080/TCP',
    '      y/allow-a-web ingress rule 1 allows from namespaceSelector {ns: y} and podSelector {app: a} on web/TCP: the peer does not match',
    '      y/allow-x ingress rule 1 allows from namespaceSelector {ns: x} on 80/TCP: the port does not match',
    '',
  ]);
});

test('explain takes the pod after the options, and several --manifests', (t) => {
  const dir = manifests(t);
  const other = tempDir(t, 'policy-cli-more');
  fs.renameSync(path.join(dir, '20-policies.yml'), path.join(other, 'policies.json.yaml'));
  const text = ok(t, ['explain', '--manifests', dir, '--manifests', other, 'y/a']);
  t.regex(text, /^pod y\/a \(10\.244\.1\.1\)\n/);
  t.regex(text, /\ningress: isolated for ingress by y\/deny-all: nothing may reach it\n/);
  const json = JSON.parse(ok(t, ['explain', 'y/b', '--manifests', dir, '--manifests', other, '-o', 'json'])) as { ingress: { rules: { peers: { pods: string[] }[] }[] } };
  t.deepEqual(json.ingress.rules[1].peers[0].pods, ['x/a', 'x/b']);
});

test('matrix: a grid per port, and DOT and SVG pictures', (t) => {
  const dir = manifests(t);
  const text = ok(t, ['matrix', '--manifests', dir, '-n', 'y', '--port', '8080']);
  t.deepEqual(text.split('\n').slice(0, 5), ['8080/TCP', 'FROM \\ TO   y/a   y/b   y/c', 'y/a         ✓     ✓     ✗', 'y/b         ✗     ✓     ✗', 'y/c         ✗     ✗     ✓']);
  const m = JSON.parse(ok(t, ['matrix', '--manifests', dir, '-n', 'x', '-n', 'y', '--port', '80', '-o', 'json'])) as MatrixResult;
  t.is(m.pairs.length, 25);
  const dot = ok(t, ['matrix', '--manifests', dir, '-n', 'x', '-n', 'y', '--port', '80', '-o', 'dot']);
  t.regex(dot, /^digraph "weft policy matrix" \{\n/);
  t.true(dot.includes('"x/a" -> "y/b" [color="#2e7d32"];'));
  t.false(dot.includes('"x/a" -> "x/b"'), 'denied pairs have no arrow');
  const svg = ok(t, ['matrix', '--manifests', dir, '-n', 'x', '-n', 'y', '--port', '80', '-o', 'svg']);
  t.regex(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.true(svg.trimEnd().endsWith('</svg>'));
  t.is(svg.match(/<title>/g)?.length, 25, 'a cell per pair');
  t.is(svg.match(/<title>x\/a -&gt; y\/b: allowed 80\/TCP<\/title>/g)?.length, 1);
});

test('what-if from a file or stdin: the connections newly denied', (t) => {
  const dir = manifests(t);
  const policy = yamlOf([networkPolicy('x', 'b-from-a', { podSelector: { matchLabels: { app: 'b' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 80 }] }] })]);
  const text = ok(t, ['what-if', '--manifests', dir, '-f', '-'], policy);
  // x/b reaching itself is never denied: three of the five.
  t.regex(text, /^applying x\/b-from-a: 0 newly allowed, 3 newly denied \(5 connections checked/);
  t.true(text.includes('\nnewly denied (3):\n  y/a -> x/b 80/TCP\n    ingress to x/b: isolated by x/b-from-a; DENIED: no rule allows y/a on 80/TCP\n'));
  const file = path.join(tempDir(t, 'policy-cli-new'), 'deny.yaml');
  fs.writeFileSync(file, yamlOf([networkPolicy('y', 'deny-all', {})]));
  const deleted = JSON.parse(ok(t, ['what-if', '--manifests', dir, '-f', file, '--delete', '--port', '80', '-o', 'json'])) as { newlyAllowed: unknown[] };
  t.is(deleted.newlyAllowed.length, 4, 'y/a reaching itself was allowed already');
});

test('bad input: one line `weftctl: ...` on stderr and exit code 1', (t) => {
  const dir = manifests(t);
  const fails = (args: string[], message: RegExp) => {
    const r = run(args);
    t.is(r.code, 1, args.join(' '));
    t.is(r.stdout, '');
    t.regex(r.stderr, message);
    t.is(r.stderr.split('\n').length, 2, 'one line');
  };
  fails(['trace', '--manifests', dir, '--from', 'x/nope', '--to', 'y/b', '--port', '80'], /^weftctl: no pod x\/nope in --manifests \S+ \(pods in x: a, b, host\)\n$/);
  fails(['explain', '--manifests', dir, 'q/a'], /^weftctl: no pod q\/a in --manifests \S+ \(no pod at all in namespace q\)\n$/);
  fails(['trace', '--manifests', dir, '--from', 'x/a', '--to', 'y/b', '--port', '80/icmp'], /^weftctl: --port "80\/icmp": protocol icmp is not TCP, UDP or SCTP\n$/);
  fails(['trace', '--manifests', path.join(dir, 'missing'), '--from', 'x/a', '--to', 'y/b', '--port', '80'], /^weftctl: --manifests \S+\/missing: no such file or directory\n$/);
  fails(['matrix', '--manifests', dir, '--socket', path.join(dir, 'agent.sock')], /^weftctl: --manifests answers offline, --socket\/--lab ask an agent: one or the other \(weftctl --help\)\n$/);
  fs.writeFileSync(path.join(dir, '30-broken.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n');
  fails(['matrix', '--manifests', dir], /^weftctl: \S+\/30-broken\.yaml document 1: invalid YAML: /);
});

test('objects weft does not read and invalid policies are warnings, not errors', (t) => {
  const dir = manifests(t);
  const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: {} };
  const invalid = networkPolicy('x', 'bad', { podSelector: {}, ingress: [{ ports: [{ port: 'Not_A_Name' }] }] });
  fs.writeFileSync(path.join(dir, '40-more.yaml'), `${stringify(deployment)}---\n${stringify(invalid)}`);
  const r = run(['trace', '--manifests', dir, '--from', 'x/b', '--to', 'x/a', '--port', '80']);
  t.is(r.code, 0);
  t.regex(r.stdout, /: ALLOWED\n/, 'the invalid policy plays no part');
  t.deepEqual(r.stderr.trimEnd().split('\n'), [
    'weftctl: warning: left out objects of kinds policy questions do not read: 1 Deployment (their pods are not simulated: list the Pods)',
    'weftctl: warning: NetworkPolicy x/bad is invalid (the API server would refuse it) and plays no part: spec.ingress[0].ports[0].port: "Not_A_Name" is neither a port number nor a valid port name',
  ]);
});

test("the README's example (examples/policy) reads cleanly and says what the README shows", (t) => {
  const dir = path.join(__dirname, '..', '..', '..', 'examples', 'policy');
  const proposal = path.join(dir, 'proposed', 'api-port-80.yaml');
  const whatIf = JSON.parse(ok(t, ['what-if', '--manifests', dir, '-f', proposal, '-o', 'json'])) as { newlyAllowed: unknown[]; newlyDenied: { from: string; to: string; port: string }[] };
  t.deepEqual(whatIf.newlyDenied.map((c) => `${c.from} -> ${c.to} ${c.port}`), ['shop/web-1 -> shop/api-2 8080/TCP'], 'a port by number misses the canary, which names 8080 "http"');
  t.deepEqual(whatIf.newlyAllowed, []);
  const svc = JSON.parse(ok(t, ['trace', '--manifests', dir, '--from', 'shop/web-1', '--to', 'svc/shop/api', '--port', '80', '-o', 'json'])) as TraceResult;
  t.deepEqual(svc.paths.map((p) => [p.to.pod, p.port, p.allowed]), [['shop/api-1', 80, true], ['shop/api-2', 8080, true]]);
});
