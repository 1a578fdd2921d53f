/** agent/compile/policy.ts: the object cache and the node's local pods into policy/'s input, and compiled. */
import test from 'ava';
import { ObjectCache } from '../../agent/cache';
import { compileLocalPods } from '../../agent/compile/local-pods';
import { compileNodePolicyFromCache, policyInputFromCache } from '../../agent/compile/policy';
import type { KubeObject } from '../../agent/objects';

function podObject(name: string, namespace: string, labels: Record<string, string>, spec: Record<string, unknown>, status: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec, status };
}

const web = podObject(
  'web',
  'shop',
  { app: 'web' },
  { nodeName: 'n1', containers: [{ name: 'a', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9 }] }, { name: 'b', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, 'junk'] }, { name: 'c' }] },
  { phase: 'Running', podIP: '10.0.0.1', podIPs: [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }] },
);
const db = podObject('db', 'shop', { app: 'db' }, { nodeName: 'n2', containers: [] }, { phase: 'Running', podIPs: [{ ip: '10.0.1.1' }] });
const host = podObject('agent', 'kube-system', {}, { nodeName: 'n1', hostNetwork: true }, { podIPs: [{ ip: '192.168.0.1' }] });
const shopNs: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } } };
const denyAll: KubeObject = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'shop' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } };
const fromWeb: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'from-web', namespace: 'shop' },
  spec: { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }] }] },
};

function cacheOf(...objects: KubeObject[]): ObjectCache {
  const cache = new ObjectCache();
  for (const object of objects) cache.apply({ type: 'ADDED', object });
  return cache;
}

test('Pod, Namespace and NetworkPolicy objects become plain input; junk in container ports is skipped', (t) => {
  const cache = cacheOf(web, db, host, shopNs, denyAll);
  const input = policyInputFromCache(cache, [], 'n1');
  t.deepEqual(input.namespaces, [{ name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } }]);
  t.deepEqual(input.policies, [denyAll]);
  const byName = new Map(input.pods.map((p) => [p.name, p]));
  t.deepEqual(byName.get('web'), {
    namespace: 'shop',
    name: 'web',
    labels: { app: 'web' },
    ips: ['10.0.0.1', 'fd00::1'],
    nodeName: 'n1',
    phase: 'Running',
    containerPorts: [{ name: 'http', containerPort: 8080 }, { containerPort: 9 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }],
  });
  t.like(byName.get('agent'), { hostNetwork: true, nodeName: 'n1' });
});

test('local pods: addresses the CNI plugin registered join the object; a registration without object is a pod of unknown labels', (t) => {
  const cache = cacheOf(web, shopNs, denyAll);
  const input = policyInputFromCache(cache, [{ namespace: 'shop', name: 'web', ips: ['10.0.0.1', '10.0.0.7'] }, { namespace: 'shop', name: 'new', ips: ['10.0.0.2'] }], 'n1');
  const byName = new Map(input.pods.map((p) => [p.name, p]));
  t.deepEqual(byName.get('web')?.ips, ['10.0.0.1', 'fd00::1', '10.0.0.7']);
  t.deepEqual(byName.get('new'), { namespace: 'shop', name: 'new', labels: null, ips: ['10.0.0.2'], nodeName: 'n1', containerPorts: [] });
});

test('compiled from the cache: deny all isolates the local pods, and a registered pod without object both ways', (t) => {
  const cache = cacheOf(web, db, host, shopNs, denyAll);
  const endpoint = { podNamespace: 'other', podName: 'fresh', containerId: 'c', interface: 'eth0', addresses: ['10.0.0.5/24'] };
  const local = compileLocalPods(cache, [endpoint], 'n1');
  const p = compileNodePolicyFromCache(cache, local, 'n1');
  t.deepEqual(
    p.ingress,
    { isolated: ['10.0.0.1', '10.0.0.5', 'fd00::1'], isolatedBy: { '10.0.0.1': ['shop/deny'], 'fd00::1': ['shop/deny'] }, anyPeer: [], classes: [] },
    'db runs elsewhere; the hostNetwork pod is not isolated; the pod without object is isolated by no policy',
  );
  t.deepEqual(p.egress.isolated, ['10.0.0.1', '10.0.0.5', 'fd00::1']);
});

test('a changed object is seen by the next compile (objects are replaced in the cache, never edited)', (t) => {
  const cache = cacheOf(web, db, shopNs, fromWeb);
  const local = compileLocalPods(cache, [], 'n1');
  const before = compileNodePolicyFromCache(cache, local, 'n1');
  t.deepEqual(before.ingress.anyPeer, []);
  t.deepEqual(before.ingress.classes.map((c) => [c.cidrs, c.allow.map((a) => [a.localIp, a.ports])]), [[['10.0.0.1/32', 'fd00::1/128'], [['10.0.0.1', [{ protocol: 'tcp', first: 8080, last: 8080 }]], ['fd00::1', [{ protocol: 'tcp', first: 8080, last: 8080 }]]]]]);
  cache.apply({ type: 'MODIFIED', object: { ...web, spec: { ...web.spec, containers: [{ name: 'a', ports: [{ name: 'http', containerPort: 80 }] }] } } });
  cache.apply({ type: 'MODIFIED', object: { ...fromWeb, spec: { ...fromWeb.spec, ingress: [{ ports: [{ port: 'http' }] }] } } });
  const after = compileNodePolicyFromCache(cache, local, 'n1');
  t.deepEqual(after.ingress.anyPeer.map((a) => [a.localIp, a.ports]), [['10.0.0.1', [{ protocol: 'tcp', first: 80, last: 80 }]], ['fd00::1', [{ protocol: 'tcp', first: 80, last: 80 }]]]);
  t.deepEqual(after.ingress.classes, []);
});
