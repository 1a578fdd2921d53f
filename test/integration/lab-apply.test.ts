/**
 * `lab apply` as the lab's API server, scheduler and kubelet: a new Pod with ports is attached
 * and serves exactly those ports; a relabel changes only labels; a spec change is refused; a
 * delete detaches it (CNI DEL releases its addresses) and removes its namespace and server; a
 * bad batch changes nothing; Services get a ClusterIP and EndpointSlices; a Namespace delete
 * takes its objects with it.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { createAgentClient } from '../../agent/api/client';
import { labApply } from '../../lab/cluster/apply';
import { readObjects } from '../../lab/cluster/manifests';
import { labPaths } from '../../lab/cluster/names';
import { probeMatrix } from '../../lab/cluster/probe';
import { loadState, type LabState } from '../../lab/cluster/state';
import { labUp } from '../../lab/cluster/up';
import { netnsExists } from '../../kernel/netns';
import { tempDir } from '../helpers/tmp';
import { startTcpServer } from '../../lab/probe';
import { labName, labRoot } from './lab-fixture';

const pod = (name: string, labels: Record<string, string>, ports: object[], extra: object = {}) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop', labels }, spec: { ...extra, containers: [{ name: 'c', ports }] } });

const namespace = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'a' } } });

function write(dir: string, file: string, ...docs: string[]): string {
  const p = path.join(dir, file);
  fs.writeFileSync(p, docs.join('\n---\n'));
  return p;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const reaches = async (state: LabState, from: string, to: string, port: number, protocol: 'TCP' | 'UDP') => {
  const m = await probeMatrix(state, { port, protocol, family: 4, timeoutMs: 1000 }, state.pods.filter((p) => [from, to].includes(`${p.namespace}/${p.name}`)));
  return m.cells[from][to];
};

test('apply a pod with ports, relabel it, refuse a spec change, delete it; services and namespaces', async (t) => {
  const lab = labName('apply');
  const root = labRoot(t, lab);
  const files = tempDir(t, 'lab-input');
  await labUp({ name: lab, root, nodes: 2, podsPerNode: 1, ports: [80, 81] });
  const paths = labPaths(root, lab);

  // A pod on node-1 serving TCP 8080 and UDP 5353 (named ports), and one that declares none.
  const ports = [{ name: 'http', containerPort: 8080 }, { name: 'dns', containerPort: 5353, protocol: 'UDP' }];
  const input = write(files, 'shop.yaml', namespace, pod('api', { app: 'api' }, ports, { nodeName: 'node-1' }), pod('plain', { app: 'plain' }, [], { nodeName: 'node-1' }));
  const created = await labApply({ name: lab, root, files: [input] });
  t.deepEqual(created.map((c) => `${c.kind}/${c.name} ${c.action}`), ['Namespace/shop created', 'Pod/api created', 'Pod/plain created']);
  let state = loadState(paths, lab);
  const api = state.pods.find((p) => p.name === 'api');
  if (!api) return t.fail('no pod api');
  t.is(api.node, 'node-1');
  t.deepEqual(api.serves, { tcp: [8080], udp: [5353] });
  t.true(netnsExists(api.netns));

  const objects = readObjects(paths.manifests);
  const stored = objects.get('Pod/shop/api');
  t.like(stored?.spec, { nodeName: 'node-1' });
  t.like(stored?.status, { phase: 'Running', podIP: api.ips[0], hostIP: '192.0.2.11' });
  t.deepEqual(stored?.status?.podIPs, api.ips.map((ip) => ({ ip })));
  t.deepEqual(objects.get('Namespace/shop')?.metadata.labels, { team: 'a', 'kubernetes.io/metadata.name': 'shop' });

  // Served: exactly the declared ports; a pod without ports serves the lab's defaults.
  t.like(await reaches(state, 'default/pod-1-0', 'shop/api', 8080, 'TCP'), { ok: true, detail: 'shop/api' });
  t.like(await reaches(state, 'default/pod-1-0', 'shop/api', 5353, 'UDP'), { ok: true });
  t.like(await reaches(state, 'default/pod-1-0', 'shop/api', 80, 'TCP'), { ok: false, detail: 'ECONNREFUSED' });
  t.like(await reaches(state, 'shop/api', 'shop/plain', 81, 'UDP'), { ok: true, detail: 'shop/plain' });
  // A listener that is not the pod's own server answers something else: not "ok".
  // (stopped exactly once: TcpServer.stop() never returns when called a second time)
  const impostor = await startTcpServer(state.pods.find((p) => p.name === 'plain')?.netns ?? '', 9000, 'impostor');
  try {
    t.like(await reaches(state, 'shop/api', 'shop/plain', 9000, 'TCP'), { ok: false, detail: 'answered "weft impostor"' });
  } finally {
    await impostor.stop();
  }

  // The node's agent sees the new pods through the manifests directory.
  const node1 = state.nodes[1].agent?.socket ?? '';
  await waitFor('the agent to see 4 pods', async () => {
    const client = createAgentClient(node1);
    try {
      return (await client.status()).objectCounts.Pod === 4 ? true : undefined;
    } finally {
      client.close();
    }
  });

  // Relabel: same namespace, container, addresses and server; new labels stored.
  const relabelled = await labApply({ name: lab, root, files: [write(files, 'shop.yaml', namespace, pod('api', { app: 'api', tier: 'back' }, ports, { nodeName: 'node-1' }))] });
  t.deepEqual(relabelled.map((c) => `${c.name} ${c.action}`), ['shop unchanged', 'api configured']);
  state = loadState(paths, lab);
  const after = state.pods.find((p) => p.name === 'api');
  t.deepEqual([after?.netns, after?.containerId, after?.ips, after?.server?.pid], [api.netns, api.containerId, api.ips, api.server?.pid]);
  t.deepEqual(readObjects(paths.manifests).get('Pod/shop/api')?.metadata.labels, { app: 'api', tier: 'back' });

  // A spec change is refused, and the rest of that batch is not applied either.
  const svc = JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'shop' }, spec: { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 'http' }] } });
  const changed = pod('api', { app: 'api' }, [{ containerPort: 9090 }], { nodeName: 'node-1' });
  await t.throwsAsync(labApply({ name: lab, root, files: [write(files, 'bad.yaml', svc, changed)] }), { message: /Forbidden: pod updates may not change fields other than labels.*nothing applied/ });
  t.false(readObjects(paths.manifests).has('Service/shop/api'));
  // A pod in a namespace that does not exist, with a valid Service in the same batch: nothing.
  const orphan = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x', namespace: 'nowhere' }, spec: { containers: [{ name: 'c' }] } });
  await t.throwsAsync(labApply({ name: lab, root, files: [write(files, 'bad2.yaml', svc, orphan)] }), { message: /namespaces "nowhere" not found/ });
  t.is(loadState(paths, lab).pods.length, 4);

  // A Service: ClusterIP from 10.96.0.0/16, and an EndpointSlice with the named port resolved.
  await labApply({ name: lab, root, files: [write(files, 'svc.yaml', svc)] });
  const all = readObjects(paths.manifests);
  t.regex(String(all.get('Service/shop/api')?.spec?.clusterIP), /^10\.96\.\d+\.\d+$/);
  const slices = [...all.values()].filter((o) => o.kind === 'EndpointSlice');
  t.is(slices.length, 1);
  t.like(slices[0], { addressType: 'IPv4', ports: [{ port: 8080, protocol: 'TCP' }], metadata: { labels: { 'kubernetes.io/service-name': 'api' } } });
  t.deepEqual((slices[0].endpoints as { addresses: string[] }[]).map((e) => e.addresses[0]), [api.ips[0]]);

  // Delete: CNI DEL releases the addresses; namespace, server, directory and object are gone.
  const ipamDir = path.join(paths.dir, 'nodes', 'node-1', 'ipam', 'weft-lab');
  t.true(api.ips.every((ip) => fs.existsSync(path.join(ipamDir, ip))));
  const deleted = await labApply({ name: lab, root, files: [write(files, 'del.yaml', pod('api', {}, []))], delete: true });
  t.deepEqual(deleted.map((c) => `${c.name} ${c.action}`), ['api deleted']);
  t.false(netnsExists(api.netns));
  t.false(api.ips.some((ip) => fs.existsSync(path.join(ipamDir, ip))));
  t.throws(() => process.kill(api.server?.pid ?? 0, 0));
  t.false(readObjects(paths.manifests).has('Pod/shop/api'));
  // Its Service now selects nothing: an empty slice, as Kubernetes keeps.
  const emptied = [...readObjects(paths.manifests).values()].filter((o) => o.kind === 'EndpointSlice');
  t.deepEqual(emptied.map((s) => s.endpoints), [[]]);

  // Deleting the namespace deletes what lives in it.
  const plain = loadState(paths, lab).pods.find((p) => p.name === 'plain');
  await labApply({ name: lab, root, files: [write(files, 'ns.yaml', namespace)], delete: true });
  t.false(netnsExists(plain?.netns ?? '/nonexistent'));
  t.deepEqual([...readObjects(paths.manifests).keys()].filter((k) => k.includes('shop')), []);
  t.deepEqual(loadState(paths, lab).pods.map((p) => p.name), ['pod-0-0', 'pod-1-0']);
});

test('bad input is refused before anything changes', async (t) => {
  const lab = labName('bad');
  const root = labRoot(t, lab);
  await labUp({ name: lab, root, nodes: 1, podsPerNode: 0, ports: [80] });
  const stdin = (text: string) => () => text;
  const apply = (text: string) => labApply({ name: lab, root, files: ['-'], stdin: stdin(text) });
  await t.throwsAsync(apply('kind: Deployment\napiVersion: apps/v1\nmetadata: {name: d}\n'), { message: /invalid input, nothing applied:\n.*Deployment/ });
  await t.throwsAsync(apply('kind: Node\napiVersion: v1\nmetadata: {name: node-7}\n'), { message: /nodes belong to the lab/ });
  await t.throwsAsync(apply(pod('p', {}, [{ containerPort: 70000 }]).replace('"shop"', '"default"')), { message: /containerPort: Invalid value 70000/ });
  await t.throwsAsync(apply(pod('p', {}, [{ containerPort: 80, protocol: 'SCTP' }]).replace('"shop"', '"default"')), { message: /TCP and UDP only/ });
  await t.throwsAsync(apply(pod('p', {}, [], { nodeName: 'node-5' }).replace('"shop"', '"default"')), { message: /not a node of lab/ });
  await t.throwsAsync(apply('kind: Namespace\napiVersion: v1\nmetadata: {name: default}\n').then(() => labApply({ name: lab, root, files: ['-'], delete: true, stdin: stdin('kind: Namespace\napiVersion: v1\nmetadata: {name: default}\n') })), {
    message: /may not be deleted/,
  });
  const state = loadState(labPaths(root, lab), lab);
  t.deepEqual(state.pods, []);
  t.deepEqual([...readObjects(labPaths(root, lab).manifests).keys()].sort(), ['Namespace/default', 'Namespace/kube-system', 'Node/node-0']);
});
