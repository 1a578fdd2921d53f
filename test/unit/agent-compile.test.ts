/** compileLocalPods: which pods the node holds, from the cache and from CNI registrations. */
import test from 'ava';
import { ObjectCache } from '../../agent/cache';
import { canonicalIp, compileLocalPods } from '../../agent/compile/local-pods';
import type { KubeObject } from '../../agent/objects';

function pod(name: string, node: string, status: Record<string, unknown>, spec: Record<string, unknown> = {}, namespace = 'default'): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { nodeName: node, ...spec }, status };
}

function cacheOf(...pods: KubeObject[]): ObjectCache {
  const cache = new ObjectCache();
  for (const object of pods) cache.apply({ type: 'ADDED', object });
  return cache;
}

test('pods of this node with their podIPs, sorted; other nodes, hostNetwork and finished pods left out', (t) => {
  const cache = cacheOf(
    pod('b', 'n1', { podIPs: [{ ip: 'FD00:0:0::5' }, { ip: '10.244.1.5' }], phase: 'Running' }),
    pod('a', 'n1', { podIP: '10.244.1.4' }, {}, 'web'),
    pod('c', 'n2', { podIPs: [{ ip: '10.244.2.5' }] }),
    pod('h', 'n1', { podIPs: [{ ip: '192.0.2.11' }] }, { hostNetwork: true }),
    pod('done', 'n1', { podIPs: [{ ip: '10.244.1.9' }], phase: 'Succeeded' }),
    pod('pending', 'n1', { phase: 'Pending' }),
    pod('junk', 'n1', { podIPs: [{ ip: 'not-an-ip' }, null, 'x'] }),
  );
  t.deepEqual(compileLocalPods(cache, [], 'n1'), [
    { namespace: 'default', name: 'b', ips: ['10.244.1.5', 'fd00::5'] },
    { namespace: 'web', name: 'a', ips: ['10.244.1.4'] },
  ]);
});

test('registered endpoints count before the API server reports the pod, merged with it after', (t) => {
  const endpoint = { podNamespace: 'default', podName: 'new', containerId: 'c1', interface: 'eth0', addresses: ['10.244.1.7/24', 'fd00::7/64'] };
  t.deepEqual(compileLocalPods(new ObjectCache(), [endpoint], 'n1'), [{ namespace: 'default', name: 'new', ips: ['10.244.1.7', 'fd00::7'] }]);
  const cache = cacheOf(pod('new', 'n1', { podIPs: [{ ip: '10.244.1.7' }] }));
  t.deepEqual(compileLocalPods(cache, [endpoint], 'n1'), [{ namespace: 'default', name: 'new', ips: ['10.244.1.7', 'fd00::7'] }]);
});

test('IPv6 addresses are canonical, as the kernel lists them', (t) => {
  t.is(canonicalIp('FD00:0000:0:0::0001'), 'fd00::1');
  t.is(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  t.is(canonicalIp('10.0.0.1'), '10.0.0.1');
});
