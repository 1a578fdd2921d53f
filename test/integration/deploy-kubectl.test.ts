/**
 * deploy/kubernetes through the real kubectl, where it is installed (the suite does not install
 * it). `kubectl kustomize` needs no server. `kubectl apply --dry-run=client` does: it maps kinds
 * to resources through the server's discovery documents and reads each object to decide between
 * create and patch. It runs here against a stand-in API server in a namespace of its own that
 * serves discovery as Kubernetes does for the kinds involved, answers 404 for every object, and
 * records what kubectl asked. kubectl's schema validation is off (--validate=false): it needs the
 * server's OpenAPI document, which no cluster here can give; the schema is checked offline by
 * test/unit/deploy-schema.test.ts.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { execTool, systemBinary, type ExecResult } from '../../kernel/exec';
import { inNetns } from '../../kernel/netns';
import { loopbackUp } from '../helpers/loopback';
import { tempNetns } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';

const ROOT = path.join(__dirname, '..', '..', '..');
const DIR = path.join(ROOT, 'deploy', 'kubernetes');
const KUBECTL = systemBinary('kubectl');

interface Resource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** The resources of each group version that the manifests and the agent involve, as Kubernetes serves them. */
const API: Record<string, Resource[]> = {
  v1: [
    { name: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
    { name: 'namespaces', kind: 'Namespace', namespaced: false },
    { name: 'nodes', kind: 'Node', namespaced: false },
    { name: 'pods', kind: 'Pod', namespaced: true },
    { name: 'services', kind: 'Service', namespaced: true },
  ],
  'apps/v1': [{ name: 'daemonsets', kind: 'DaemonSet', namespaced: true }],
  'rbac.authorization.k8s.io/v1': [
    { name: 'clusterroles', kind: 'ClusterRole', namespaced: false },
    { name: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false },
  ],
  'networking.k8s.io/v1': [{ name: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true }],
  'discovery.k8s.io/v1': [{ name: 'endpointslices', kind: 'EndpointSlice', namespaced: true }],
};

function discovery(url: string): unknown {
  if (url === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:443' }] };
  if (url === '/apis') {
    const groups = Object.keys(API)
      .filter((gv) => gv.includes('/'))
      .map((gv) => ({ name: gv.split('/')[0], versions: [{ groupVersion: gv, version: 'v1' }], preferredVersion: { groupVersion: gv, version: 'v1' } }));
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }
  const gv = url === '/api/v1' ? 'v1' : /^\/apis\/([^/]+\/[^/]+)$/.exec(url)?.[1];
  const resources = gv ? API[gv] : undefined;
  if (!gv || !resources) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: gv,
    resources: resources.map((r) => ({ ...r, singularName: r.kind.toLowerCase(), verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] })),
  };
}

interface StandIn {
  /** Every request: "METHOD /path". */
  requests: string[];
  kubeconfig: string;
  netns: string;
}

/** The stand-in API server, listening on 127.0.0.1 inside a namespace of the test's own. */
async function standIn(t: ExecutionContext): Promise<StandIn> {
  const netns = tempNetns(t, 'kubectl');
  await loopbackUp(netns);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    requests.push(`${req.method} ${url}`);
    const doc = req.method === 'GET' ? discovery(url) : undefined;
    res.setHeader('content-type', 'application/json');
    if (doc) return res.end(JSON.stringify(doc));
    res.statusCode = 404;
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${url} not found`, reason: 'NotFound', code: 404 }));
  });
  // The listening socket is created synchronously, so it belongs to the namespace.
  await new Promise<void>((resolve) => inNetns(netns, () => server.listen(0, resolve)));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  const dir = tempDir(t, 'kubectl');
  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stand-in', cluster: { server: `http://127.0.0.1:${port}` } }],
      users: [{ name: 'nobody', user: {} }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'nobody' } }],
      'current-context': 'stand-in',
    }),
  );
  return { requests, kubeconfig, netns };
}

function kubectl(s: StandIn, args: string[]): Promise<ExecResult> {
  const home = path.dirname(s.kubeconfig);
  return execTool(KUBECTL, [...args, '--kubeconfig', s.kubeconfig, '--cache-dir', path.join(home, 'cache')], { netns: s.netns, env: { HOME: home }, timeoutMs: 60_000 });
}

function manifestCount(): number {
  return fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .reduce((n, f) => n + parseAllDocuments(fs.readFileSync(path.join(DIR, f), 'utf8')).length, 0);
}

// Shown as skipped where kubectl is not installed (a file with no test at all would fail ava).
const withKubectl = KUBECTL.includes('/') ? test : test.skip;

{
  withKubectl('kubectl kustomize builds the manifests (no server needed)', async (t) => {
    const out = await execTool(KUBECTL, ['kustomize', DIR], { timeoutMs: 60_000 });
    t.is(out.code, 0, out.stderr);
    t.is(parseAllDocuments(out.stdout).length, manifestCount());
  });

  withKubectl('kubectl apply --dry-run=client -k: every object maps to its resource, at the right scope, and would be created', async (t) => {
    const s = await standIn(t);
    const out = await kubectl(s, ['apply', '--dry-run=client', '--validate=false', '-k', DIR]);
    t.is(out.code, 0, out.stderr);
    t.deepEqual(out.stdout.trim().split('\n').sort(), [
      'clusterrole.rbac.authorization.k8s.io/weft-agent created (dry run)',
      'clusterrolebinding.rbac.authorization.k8s.io/weft-agent created (dry run)',
      'daemonset.apps/weft-agent created (dry run)',
      'serviceaccount/weft-agent created (dry run)',
    ]);
    // kubectl read each object where it lives (namespaced ones in kube-system) and wrote nothing.
    const objectReads = s.requests.filter((r) => /\/weft-agent$/.test(r)).sort();
    t.deepEqual(objectReads, [
      'GET /api/v1/namespaces/kube-system/serviceaccounts/weft-agent',
      'GET /apis/apps/v1/namespaces/kube-system/daemonsets/weft-agent',
      'GET /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/weft-agent',
      'GET /apis/rbac.authorization.k8s.io/v1/clusterroles/weft-agent',
    ]);
    t.deepEqual(s.requests.filter((r) => !r.startsWith('GET ')), []);
  });

  withKubectl('kubectl apply -f on the directory refuses kustomization.yaml, which is why the manifests say -k', async (t) => {
    const s = await standIn(t);
    const out = await kubectl(s, ['apply', '--dry-run=client', '--validate=false', '-f', DIR]);
    t.not(out.code, 0);
    t.regex(out.stderr, /kustomization\.yaml.*no matches for kind "Kustomization"/s);
  });
}
