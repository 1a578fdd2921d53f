/**
 * deploy/: what can be checked without a cluster. kubectl's client-side dry run needs an API
 * server (discovery and OpenAPI), so the manifests are checked here against what they must
 * agree with: the agent's real command line parser, the kinds the agent watches, and
 * themselves (every mount has a volume). `kubectl kustomize` runs too when kubectl is installed.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { WATCHED_KINDS } from '../../agent/objects';
import { parseAgentArgs } from '../../agent/options';

const ROOT = path.join(__dirname, '..', '..', '..');
const DIR = path.join(ROOT, 'deploy', 'kubernetes');

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<string, unknown>;

function docs(): Doc[] {
  return fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(DIR, f), 'utf8')).map((d) => d.toJS() as Doc));
}

const find = (kind: string) => docs().find((d) => d.kind === kind)!;

/** Where each watched kind lives in the API. */
const RESOURCES: Record<(typeof WATCHED_KINDS)[number], [string, string]> = {
  NetworkPolicy: ['networking.k8s.io', 'networkpolicies'],
  Service: ['', 'services'],
  EndpointSlice: ['discovery.k8s.io', 'endpointslices'],
  Pod: ['', 'pods'],
  Namespace: ['', 'namespaces'],
  Node: ['', 'nodes'],
};

test('every document is a known kind with a name; the kustomization lists every file', (t) => {
  const known = new Set(['v1/ServiceAccount', 'rbac.authorization.k8s.io/v1/ClusterRole', 'rbac.authorization.k8s.io/v1/ClusterRoleBinding', 'apps/v1/DaemonSet']);
  for (const d of docs()) {
    t.true(known.has(`${d.apiVersion}/${d.kind}`), `${d.apiVersion} ${d.kind}`);
    t.regex(d.metadata.name, /^[a-z0-9-]+$/);
  }
  const kustomization = parseAllDocuments(fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'))[0].toJS() as { resources: string[] };
  t.deepEqual([...kustomization.resources].sort(), fs.readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort());
});

test('RBAC: list and watch on exactly the kinds the agent watches, nothing else; bound to the DaemonSet\'s account', (t) => {
  const role = find('ClusterRole') as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
  const granted = role.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res} ${[...r.verbs].sort().join(',')}`))).sort();
  t.deepEqual(granted, WATCHED_KINDS.map((k) => `${RESOURCES[k][0]}/${RESOURCES[k][1]} list,watch`).sort());
  const binding = find('ClusterRoleBinding') as unknown as { roleRef: { name: string }; subjects: { name: string; namespace: string }[] };
  const ds = find('DaemonSet') as unknown as { metadata: { namespace: string }; spec: { template: { spec: { serviceAccountName: string } } } };
  t.is(binding.roleRef.name, 'weft-agent');
  t.deepEqual(binding.subjects.map((s) => `${s.namespace}/${s.name}`), [`${ds.metadata.namespace}/${ds.spec.template.spec.serviceAccountName}`]);
});

interface Container {
  name: string;
  command: string[];
  args: string[];
  volumeMounts: { name: string; mountPath: string }[];
  securityContext: { privileged?: boolean; capabilities: { add?: string[]; drop: string[] } };
  livenessProbe?: { httpGet: { path: string; port: number } };
  readinessProbe?: { httpGet: { path: string; port: number } };
}

test('DaemonSet: the agent\'s arguments are ones it accepts, its probes its health port, every mount a volume', (t) => {
  const spec = (find('DaemonSet') as unknown as { spec: { template: { spec: { hostNetwork: boolean; hostPID: boolean; containers: Container[]; initContainers: Container[]; volumes: { name: string }[] } } } }).spec.template.spec;
  t.true(spec.hostNetwork);
  t.true(spec.hostPID);
  const agent = spec.containers.find((c) => c.name === 'weft-agent')!;
  t.deepEqual(agent.command, ['node', '/opt/weft/dist/agent/main.js']);
  const args = agent.args.map((a) => a.replace('$(NODE_NAME)', 'node-1'));
  const parsed = parseAgentArgs(args, {});
  t.is(parsed.nodeName, 'node-1');
  t.is(parsed.source, 'kube');
  t.is(parsed.kubeconfig, undefined);
  const port = Number(parsed.healthListen.split(':').pop());
  t.is(agent.livenessProbe?.httpGet.path, '/healthz');
  t.is(agent.readinessProbe?.httpGet.path, '/readyz');
  t.is(agent.livenessProbe?.httpGet.port, port);
  t.is(agent.readinessProbe?.httpGet.port, port);
  t.true(agent.volumeMounts.some((m) => m.mountPath === path.dirname(parsed.socket)));
  t.false(agent.securityContext.privileged ?? false);
  t.deepEqual(agent.securityContext.capabilities.drop, ['ALL']);
  t.deepEqual([...(agent.securityContext.capabilities.add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE']);
  const volumes = new Set(spec.volumes.map((v) => v.name));
  for (const c of [...spec.containers, ...spec.initContainers]) for (const m of c.volumeMounts) t.true(volumes.has(m.name), `${c.name}: ${m.name}`);
  // The install step's flags exist (its parser is strict: an unknown flag would fail the pod).
  const installer = spec.initContainers.find((c) => c.name === 'install-cni')!;
  t.deepEqual(installer.command, ['node', '/opt/weft/dist/deploy/install/main.js']);
  const source = fs.readFileSync(path.join(ROOT, 'deploy', 'install', 'main.ts'), 'utf8');
  for (const flag of installer.args.filter((a) => a.startsWith('--'))) t.true(source.includes(`'${flag.slice(2)}'`), flag);
});

test('the image recipe copies what exists after a build and starts the agent', (t) => {
  const recipe = fs.readFileSync(path.join(ROOT, 'deploy', 'image', 'Containerfile'), 'utf8');
  t.regex(recipe, /ENTRYPOINT \["node", "\/opt\/weft\/dist\/agent\/main\.js"\]/);
  const copied = [...recipe.matchAll(/^COPY --from=build \/src\/(\S+)/gm)].map((m) => m[1]);
  t.true(copied.length >= 4);
  for (const p of copied) t.true(fs.existsSync(path.join(ROOT, p)), p);
});

// Registered only where kubectl exists (the suite does not install it).
if (spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).status === 0) {
  test('kubectl kustomize builds the manifests (it needs no server)', (t) => {
    const out = spawnSync('kubectl', ['kustomize', DIR], { encoding: 'utf8', timeout: 30_000 });
    t.is(out.status, 0, out.stderr);
    t.is(parseAllDocuments(out.stdout).length, docs().length);
  });
}
