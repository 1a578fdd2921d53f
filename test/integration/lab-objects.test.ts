/**
 * The lab's pure parts, no kernel involved: lab and namespace names, Pod spec checks and served
 * ports, ClusterIP allocation, and the EndpointSlice controller.
 */
import test from 'ava';
import type { KubeObject } from '../../agent/objects';
import { endpointSliceChanges, CONTROLLER, MANAGED_BY_LABEL } from '../../lab/cluster/endpoints';
import { isLabNetns, labOfNetns, nodePodCIDRs, validateLabName } from '../../lab/cluster/names';
import { podNetworkSpec, servedPorts } from '../../lab/cluster/pod-spec';
import { admitService } from '../../lab/cluster/services';

test('lab names and the namespaces that belong to a lab', (t) => {
  t.notThrows(() => validateLabName('dev-1'));
  for (const bad of ['', 'Dev', 'a_b', '-a', 'a-', 'x'.repeat(25)]) t.throws(() => validateLabName(bad), { message: /invalid lab name/ });
  t.true(isLabNetns('a', 'weft-lab-a-node-0'));
  t.true(isLabNetns('a', 'weft-lab-a-pod-12'));
  t.true(isLabNetns('a', 'weft-lab-a-underlay'));
  t.false(isLabNetns('a', 'weft-lab-a-pod-1-node-0'), 'belongs to lab a-pod-1');
  t.false(isLabNetns('a-pod-1', 'weft-lab-a-pod-1'), 'belongs to lab a');
  t.false(isLabNetns('a', 'weft-lab-a-node-x'));
  t.is(labOfNetns('weft-lab-a-pod-1-node-0'), 'a-pod-1');
  t.is(labOfNetns('weft-t-r1-ns'), undefined);
  t.deepEqual(nodePodCIDRs(0), { v4: '10.244.0.0/24', v6: 'fd00:10:244::/64' });
  t.deepEqual(nodePodCIDRs(3), { v4: '10.244.3.0/24', v6: 'fd00:10:244:3::/64' });
});

const podObj = (spec: Record<string, unknown>, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', labels }, spec });

test('pod specs: ports checked as the API server does; served ports are the declared ones or the defaults', (t) => {
  const spec = podNetworkSpec(podObj({ nodeName: 'node-1', containers: [{ name: 'a', ports: [{ name: 'http', containerPort: 80 }, { containerPort: 53, protocol: 'UDP' }] }, { name: 'b', ports: [{ containerPort: 53 }] }] }));
  t.deepEqual(spec, {
    nodeName: 'node-1',
    ports: [
      { name: 'http', containerPort: 80, protocol: 'TCP' },
      { containerPort: 53, protocol: 'UDP' },
      { containerPort: 53, protocol: 'TCP' },
    ],
  });
  t.deepEqual(servedPorts(spec.ports, [80, 81]), { tcp: [53, 80], udp: [53] });
  t.deepEqual(servedPorts([], [80, 81]), { tcp: [80, 81], udp: [80, 81] });
  const bad: [Record<string, unknown>, RegExp][] = [
    [{}, /spec.containers: Required value/],
    [{ containers: [{ name: 'a' }, { name: 'a' }] }, /Duplicate value "a"/],
    [{ containers: [{ name: 'a', ports: [{ containerPort: 0 }] }] }, /between 1 and 65535/],
    [{ containers: [{ name: 'a', ports: [{ containerPort: 80, name: 'http' }, { containerPort: 81, name: 'http' }] }] }, /Duplicate value "http"/],
    [{ containers: [{ name: 'a', ports: [{ containerPort: 80, name: 'no--dash' }] }] }, /IANA_SVC_NAME/],
    [{ containers: [{ name: 'a', ports: [{ containerPort: 80, name: '8080' }] }] }, /IANA_SVC_NAME/],
    [{ containers: [{ name: 'a', ports: [{ containerPort: 80, protocol: 'ICMP' }] }] }, /Unsupported value "ICMP"/],
    [{ containers: [{ name: 'a', ports: [{ containerPort: 80 }, { containerPort: 80 }] }] }, /Duplicate value 80\/TCP/],
    [{ hostNetwork: true, containers: [{ name: 'a' }] }, /hostNetwork/],
  ];
  for (const [s, message] of bad) t.throws(() => podNetworkSpec(podObj(s)), { message });
});

const svcObj = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ns' }, spec });

test('services: a free ClusterIP from 10.96.0.0/16, kept across updates, immutable, never twice', (t) => {
  const a = admitService(svcObj('a', { ports: [{ port: 80 }] }), undefined, []);
  t.like(a.spec, { clusterIP: '10.96.0.16', clusterIPs: ['10.96.0.16'], type: 'ClusterIP', ipFamilies: ['IPv4'] });
  const b = admitService(svcObj('b', {}), undefined, [a]);
  t.is(b.spec?.clusterIP, '10.96.0.17');
  t.is(admitService(svcObj('a', { ports: [{ port: 81 }] }), a, [a, b]).spec?.clusterIP, '10.96.0.16');
  t.throws(() => admitService(svcObj('a', { clusterIP: '10.96.0.99' }), a, [a, b]), { message: /immutable/ });
  t.throws(() => admitService(svcObj('c', { clusterIP: '10.96.0.17' }), undefined, [a, b]), { message: /already allocated/ });
  t.throws(() => admitService(svcObj('c', { clusterIP: '10.0.0.1' }), undefined, [a, b]), { message: /not in the lab's service range/ });
  t.is(admitService(svcObj('h', { clusterIP: 'None' }), undefined, []).spec?.clusterIP, 'None');
});

const runningPod = (name: string, labels: Record<string, string>, ips: string[], ports: object[] = []): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns', labels, uid: `uid-${name}` },
  spec: { nodeName: 'node-0', containers: [{ name: 'c', ports }] },
  status: { phase: 'Running', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
});

test('endpoint slices: per family and per resolved port set; hand-written slices untouched; stale ones removed', (t) => {
  const svc = svcObj('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ipFamilies: ['IPv4', 'IPv6'] });
  const pods = [
    runningPod('a', { app: 'web' }, ['10.244.0.2', 'fd00::2'], [{ name: 'http', containerPort: 8080 }]),
    runningPod('b', { app: 'web' }, ['10.244.0.3', 'fd00::3'], [{ name: 'http', containerPort: 9090 }]),
    runningPod('c', { app: 'db' }, ['10.244.0.4'], [{ name: 'http', containerPort: 8080 }]),
  ];
  const manual: KubeObject = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'manual', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'web' } } };
  const { write, remove } = endpointSliceChanges([svc, ...pods, manual]);
  t.deepEqual(remove, []);
  const summary = write.map((s) => [s.addressType, (s.ports as { port: number }[]).map((p) => p.port), (s.endpoints as { addresses: string[] }[]).map((e) => e.addresses[0])]);
  t.deepEqual(
    summary.sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
    [
      ['IPv4', [8080], ['10.244.0.2']],
      ['IPv4', [9090], ['10.244.0.3']],
      ['IPv6', [8080], ['fd00::2']],
      ['IPv6', [9090], ['fd00::3']],
    ],
  );
  t.true(write.every((s) => s.metadata.labels?.[MANAGED_BY_LABEL] === CONTROLLER && s.metadata.labels?.['kubernetes.io/service-name'] === 'web'));
  // Applied: nothing more to do. Service gone: its slices go, the hand-written one stays.
  t.deepEqual(endpointSliceChanges([svc, ...pods, manual, ...write]), { write: [], remove: [] });
  const gone = endpointSliceChanges([...pods, manual, ...write]);
  t.deepEqual(gone.write, []);
  t.is(gone.remove.length, 4);
});
