/**
 * deploy/: what the manifests must agree with, checked without a cluster: the agent's real
 * command line parser, the kinds the agent watches, the paths the plugins use (on the host and
 * inside the agent alike), the install step's flags, the shim's compiled-in socket, and the
 * image recipe. (Schema: deploy-schema.test.ts; kubectl: integration/deploy-kubectl.test.ts.)
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { WATCHED_KINDS } from '../../agent/objects';
import { parseAgentArgs } from '../../agent/options';
import { DEFAULT_NODE_NETWORK_FILE, DEFAULT_STATE_DIR } from '../../cni/overlay/config';
import { DEFAULT_DATA_DIR } from '../../ipam/config';
import { NETNS_RUN_DIR } from '../../kernel/netns';

const ROOT = path.join(__dirname, '..', '..', '..');
const DIR = path.join(ROOT, 'deploy', 'kubernetes');

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<string, unknown>;

let parsed: Doc[] | undefined;

function docs(): Doc[] {
  return (parsed ??= fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(DIR, f), 'utf8')).map((d) => d.toJS() as Doc)));
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
  ClusterNetworkPolicy: ['policy.networking.k8s.io', 'clusternetworkpolicies'],
};

interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  mountPropagation?: string;
}

interface Container {
  name: string;
  image: string;
  command: string[];
  args: string[];
  env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  volumeMounts: Mount[];
  securityContext: { privileged?: boolean; allowPrivilegeEscalation?: boolean; capabilities: { add?: string[]; drop: string[] } };
  livenessProbe?: { httpGet: { path: string; port: number } };
  readinessProbe?: { httpGet: { path: string; port: number } };
  resources?: { requests?: Record<string, string> };
}

interface PodSpec {
  hostNetwork: boolean;
  hostPID: boolean;
  priorityClassName: string;
  serviceAccountName: string;
  tolerations: { operator: string; key?: string }[];
  containers: Container[];
  initContainers: Container[];
  volumes: { name: string; hostPath?: { path: string; type?: string } }[];
}

function daemonSet(): { metadata: { namespace: string }; spec: { updateStrategy: { type: string; rollingUpdate: { maxUnavailable: number } }; template: { spec: PodSpec } } } {
  return find('DaemonSet') as never;
}

const podSpec = (): PodSpec => daemonSet().spec.template.spec;
const agentContainer = (): Container => podSpec().containers.find((c) => c.name === 'weft-agent')!;
const installContainer = (): Container => podSpec().initContainers.find((c) => c.name === 'install-cni')!;

/** The agent's options as the DaemonSet runs it (kubelet expands $(NODE_NAME)). */
function agentOptions() {
  return parseAgentArgs(agentContainer().args.map((a) => a.replace('$(NODE_NAME)', 'node-1')), {});
}

/** `--flag value` and `--flag=value` pairs of a container's args. */
function flags(args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(args[i]);
    if (!m) continue;
    if (m[2] !== undefined) out.set(m[1], m[2]);
    else out.set(m[1], args[++i] ?? '');
  }
  return out;
}

/**
 * The host path a container path reaches through the pod's hostPath volumes, or undefined when
 * it lies in the container's own file system. /var/run is /run in the image (Debian).
 */
function hostPathOf(container: Container, file: string): string | undefined {
  const p = file.replace(/^\/var\/run\//, '/run/');
  const volumes = new Map(podSpec().volumes.map((v) => [v.name, v.hostPath?.path]));
  const mount = container.volumeMounts
    .filter((m) => p === m.mountPath || p.startsWith(`${m.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const host = mount && volumes.get(mount.name);
  return host === undefined ? undefined : path.join(host, path.relative(mount.mountPath, p));
}

test('every document is a known kind with a name; the kustomization lists every file', (t) => {
  const known = new Set(['v1/ServiceAccount', 'rbac.authorization.k8s.io/v1/ClusterRole', 'rbac.authorization.k8s.io/v1/ClusterRoleBinding', 'apps/v1/DaemonSet']);
  for (const d of docs()) {
    t.true(known.has(`${d.apiVersion}/${d.kind}`), `${d.apiVersion} ${d.kind}`);
    t.regex(d.metadata.name, /^[a-z0-9-]+$/);
  }
  const kustomization = parseAllDocuments(fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'))[0].toJS() as { resources: string[] };
  t.deepEqual([...kustomization.resources].sort(), fs.readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort());
});

test("RBAC: list and watch on exactly the kinds the agent watches, nothing else; bound to the DaemonSet's account", (t) => {
  const role = find('ClusterRole') as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
  const granted = role.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res} ${[...r.verbs].sort().join(',')}`))).sort();
  t.deepEqual(granted, WATCHED_KINDS.map((k) => `${RESOURCES[k][0]}/${RESOURCES[k][1]} list,watch`).sort());
  const binding = find('ClusterRoleBinding') as unknown as { roleRef: { apiGroup: string; kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] };
  const account = find('ServiceAccount');
  const ds = daemonSet();
  t.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: find('ClusterRole').metadata.name });
  t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace! }]);
  t.is(ds.spec.template.spec.serviceAccountName, account.metadata.name);
  t.is(ds.metadata.namespace, account.metadata.namespace ?? '');
});

test('DaemonSet: every node, node-critical, one node at a time, host network and PID namespace', (t) => {
  const spec = podSpec();
  t.true(spec.hostNetwork);
  t.true(spec.hostPID);
  t.is(spec.priorityClassName, 'system-node-critical');
  // A toleration without a key and operator Exists tolerates every taint (NotReady, control plane, ...).
  t.true(spec.tolerations.some((tol) => tol.operator === 'Exists' && tol.key === undefined));
  t.deepEqual(daemonSet().spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
  // Init container and agent come from one image: the installed plugins match the agent's CNI server.
  t.is(installContainer().image, agentContainer().image);
  for (const c of [agentContainer(), installContainer()]) t.truthy(c.resources?.requests?.memory, c.name);
});

test("DaemonSet: the agent's arguments are ones it accepts; probes on its health port; node name from the downward API", (t) => {
  const agent = agentContainer();
  t.deepEqual(agent.command, ['node', '/opt/weft/dist/agent/main.js']);
  const parsed = agentOptions();
  t.is(parsed.nodeName, 'node-1');
  t.is(parsed.source, 'kube');
  t.is(parsed.kubeconfig, undefined); // in-cluster credentials
  t.deepEqual(agent.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  const port = Number(parsed.healthListen.split(':').pop());
  t.deepEqual(agent.livenessProbe?.httpGet.path, '/healthz');
  t.deepEqual(agent.readinessProbe?.httpGet.path, '/readyz');
  t.is(agent.livenessProbe?.httpGet.port, port);
  t.is(agent.readinessProbe?.httpGet.port, port);
});

test('DaemonSet: the agent is not privileged and holds exactly four capabilities; the installer none', (t) => {
  const agent = agentContainer().securityContext;
  t.false(agent.privileged ?? false);
  t.deepEqual(agent.capabilities.drop, ['ALL']);
  t.deepEqual([...(agent.capabilities.add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE']);
  const installer = installContainer().securityContext;
  t.false(installer.privileged ?? false);
  t.false(installer.allowPrivilegeEscalation ?? true);
  t.deepEqual(installer.capabilities, { drop: ['ALL'] });
});

test('DaemonSet: every file the agent and its in-process plugins share with plugins on the host is the same host path', (t) => {
  const agent = agentContainer();
  const o = agentOptions();
  // The agent's sockets and node network file, and the plugins' defaults (the conflist sets none
  // of these, so the CNI server in the agent and the fallback executable on the host use them).
  const shared = {
    'agent socket': o.socket,
    'CNI server socket': o.cniSocket,
    'node network file': o.nodeNetworkFile,
    "weft-overlay's node network file": DEFAULT_NODE_NETWORK_FILE,
    "weft-overlay's state": DEFAULT_STATE_DIR,
    'IPAM store': DEFAULT_DATA_DIR,
    "pods' namespaces": NETNS_RUN_DIR,
  };
  for (const [what, file] of Object.entries(shared)) t.is(hostPathOf(agent, file), file.replace(/^\/var\/run\//, '/run/'), `${what} (${file})`);
  t.is(o.nodeNetworkFile, DEFAULT_NODE_NETWORK_FILE);
  // Namespaces the runtime mounts after the agent started must show up inside it.
  t.is(agent.volumeMounts.find((m) => m.mountPath === '/run/netns')?.mountPropagation, 'HostToContainer');
  t.is(hostPathOf(agent, '/run/xtables.lock'), '/run/xtables.lock');
  t.true(agent.volumeMounts.find((m) => m.mountPath === '/lib/modules')?.readOnly);
  const volumes = new Set(podSpec().volumes.map((v) => v.name));
  for (const c of [...podSpec().containers, ...podSpec().initContainers]) for (const m of c.volumeMounts) t.true(volumes.has(m.name), `${c.name}: ${m.name}`);
});

test("DaemonSet: weft-cni-shim's compiled-in socket is the agent's CNI server socket", (t) => {
  const shim = fs.readFileSync(path.join(ROOT, 'cni', 'shim', 'weft-cni-shim.c'), 'utf8');
  const compiledIn = /#define DEFAULT_SOCKET "([^"]+)"/.exec(shim)?.[1];
  t.is(compiledIn, agentOptions().cniSocket);
});

test("DaemonSet: the install step's flags exist, write the host's CNI directories, and name the agent's socket", (t) => {
  const installer = installContainer();
  t.deepEqual(installer.command, ['node', '/opt/weft/dist/deploy/install/main.js']);
  // Its parser is strict: an unknown flag would fail the pod on every node.
  const source = fs.readFileSync(path.join(ROOT, 'deploy', 'install', 'main.ts'), 'utf8');
  const f = flags(installer.args);
  for (const flag of f.keys()) t.true(source.includes(`.option('${flag}'`), flag);
  t.is(hostPathOf(installer, f.get('cni-bin-dir')!), '/opt/cni/bin');
  t.is(hostPathOf(installer, f.get('cni-conf-dir')!), '/etc/cni/net.d');
  t.is(f.get('agent-socket'), agentOptions().socket);
});

test('the image recipe copies what exists after a build, and the DaemonSet runs files it contains', (t) => {
  const recipe = fs.readFileSync(path.join(ROOT, 'deploy', 'image', 'Containerfile'), 'utf8');
  t.regex(recipe, /^ENTRYPOINT \["node", "\/opt\/weft\/dist\/agent\/main\.js"\]$/m);
  t.regex(recipe, /^WORKDIR \/opt\/weft$/m);
  // The install step's default sources (dist/sea/weft-cni, dist/shim/weft-cni-shim) are built.
  t.regex(recipe, /npm run build:sea/);
  t.regex(recipe, /^RUN cc .*-static .*-o dist\/shim\/weft-cni-shim cni\/shim\/weft-cni-shim\.c$/m);
  const copied = [...recipe.matchAll(/^COPY --from=build \/src\/(\S+) (\S+)$/gm)].map((m) => ({ from: m[1], to: m[2] }));
  t.true(copied.some((c) => c.from === 'dist' && c.to === './dist'));
  for (const c of copied) t.true(fs.existsSync(path.join(ROOT, c.from)), c.from);
  // /opt/weft/dist/... in the image is dist/... here.
  for (const c of [agentContainer(), installContainer()]) {
    const script = c.command[1];
    t.true(script.startsWith('/opt/weft/dist/'), script);
    t.true(fs.existsSync(path.join(ROOT, path.relative('/opt/weft', script))), script);
  }
});
