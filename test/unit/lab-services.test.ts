/**
 * The lab's Service admission, node ports: allocated from 30000-32767 for NodePort and
 * LoadBalancer services as the API server does, checked when named, kept across updates, and a
 * health-check node port for LoadBalancer services with externalTrafficPolicy Local. (ClusterIP
 * allocation is tested in test/integration/lab-objects.test.ts.)
 */
import test from 'ava';
import type { KubeObject } from '../../agent/objects';
import { admitService, NODE_PORT_MAX, NODE_PORT_MIN } from '../../lab/cluster/services';

const svc = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ns' }, spec });
const nodePorts = (o: KubeObject) => (o.spec?.ports as { nodePort?: number }[]).map((p) => p.nodePort);

test('NodePort and LoadBalancer services get a free node port per port, lowest first', (t) => {
  const a = admitService(svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }), undefined, []);
  t.deepEqual(nodePorts(a), [30000, 30001]);
  t.like(a.spec, { type: 'NodePort', clusterIP: '10.96.0.16' });
  const b = admitService(svc('b', { type: 'LoadBalancer', ports: [{ port: 80 }] }), undefined, [a]);
  t.deepEqual(nodePorts(b), [30002]);
  t.is(b.spec?.healthCheckNodePort, undefined, 'externalTrafficPolicy Cluster: no health check');
  const c = admitService(svc('c', { ports: [{ port: 80 }] }), undefined, [a, b]);
  t.deepEqual(nodePorts(c), [undefined], 'ClusterIP: no node port');
  const d = admitService(svc('d', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] }), undefined, [a, b]);
  t.deepEqual(nodePorts(d), [undefined], 'a LoadBalancer may go without node ports');
});

test('the stored Services may come as an iterator (lab apply passes a Map\'s values): node ports still see them', (t) => {
  const a = admitService(svc('a', { type: 'NodePort', ports: [{ port: 80 }] }), undefined, []);
  const b = admitService(svc('b', { type: 'NodePort', ports: [{ port: 80 }] }), undefined, new Map([['a', a]]).values());
  t.deepEqual(nodePorts(b), [30001]);
  t.not(b.spec?.clusterIP, a.spec?.clusterIP);
});

test('a named node port is checked: in range, not held by another Service', (t) => {
  const a = admitService(svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 31000 }] }), undefined, []);
  t.deepEqual(nodePorts(a), [31000]);
  t.throws(() => admitService(svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 31000 }] }), undefined, [a]), {
    message: 'Service ns/b: spec.ports[0].nodePort: Invalid value: 31000: provided port is already allocated',
  });
  for (const bad of [NODE_PORT_MIN - 1, NODE_PORT_MAX + 1, 80, 30000.5, '30001']) {
    t.throws(() => admitService(svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: bad }] }), undefined, [a]), {
      message: /spec\.ports\[0\]\.nodePort: Invalid value: .*: provided port is not in the valid range\. The range of valid ports is 30000-32767/,
    });
  }
  // Allocation skips what is held, including another Service's health-check port.
  const lb = admitService(svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 30000, ports: [{ port: 80, nodePort: 30001 }] }), undefined, [a]);
  t.is(lb.spec?.healthCheckNodePort, 30000);
  t.deepEqual(nodePorts(admitService(svc('b', { type: 'NodePort', ports: [{ port: 80 }] }), undefined, [a, lb])), [30002]);
});

test('one Service may use a node port for two protocols, not twice for one', (t) => {
  const dns = admitService(svc('dns', { type: 'NodePort', ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', nodePort: 30053 }, { name: 'm', port: 9153 }] }), undefined, []);
  t.deepEqual(nodePorts(dns), [30053, 30053, 30000]);
  t.throws(() => admitService(svc('x', { type: 'NodePort', ports: [{ name: 'a', port: 1, nodePort: 30100 }, { name: 'b', port: 2, nodePort: 30100 }] }), undefined, []), {
    message: /spec\.ports\[1\]\.nodePort: Duplicate value: "30100\/TCP"/,
  });
});

test('updates that do not name node ports keep them (by port name); a changed type gives them up', (t) => {
  const a = admitService(svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }), undefined, []);
  const other = admitService(svc('other', { type: 'NodePort', ports: [{ port: 80 }] }), undefined, [a]);
  t.deepEqual(nodePorts(other), [30002]);
  // https dropped, metrics added, http moved to another service port number: http keeps 30000.
  const updated = admitService(svc('a', { type: 'NodePort', ports: [{ name: 'metrics', port: 9000 }, { name: 'http', port: 8080 }] }), a, [a, other]);
  t.deepEqual(nodePorts(updated), [30001, 30000]);
  t.deepEqual(nodePorts(admitService(svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }), a, [a, other])), [30000, 30001]);
  // A node port named explicitly replaces the kept one.
  t.deepEqual(nodePorts(admitService(svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 32000 }] }), a, [a, other])), [32000]);
  // Back to ClusterIP: no node ports; naming one then is refused as the API server does.
  t.deepEqual(nodePorts(admitService(svc('a', { type: 'ClusterIP', ports: [{ name: 'http', port: 80 }] }), a, [a, other])), [undefined]);
  t.throws(() => admitService(svc('a', { type: 'ClusterIP', ports: [{ name: 'http', port: 80, nodePort: 30000 }] }), a, [a, other]), {
    message: /spec\.ports\[0\]\.nodePort: Forbidden: may not be used when `type` is 'ClusterIP'/,
  });
});

test('health-check node port: LoadBalancer with externalTrafficPolicy Local only; allocated, checked, kept', (t) => {
  const lb = admitService(svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }), undefined, []);
  t.deepEqual(nodePorts(lb), [30000]);
  t.is(lb.spec?.healthCheckNodePort, 30001);
  t.is(admitService(svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }), lb, [lb]).spec?.healthCheckNodePort, 30001);
  t.is(admitService(svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Cluster', ports: [{ port: 80 }] }), lb, [lb]).spec?.healthCheckNodePort, undefined);
  t.throws(() => admitService(svc('np', { type: 'NodePort', externalTrafficPolicy: 'Local', healthCheckNodePort: 31000, ports: [{ port: 80 }] }), undefined, [lb]), {
    message: /spec\.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'/,
  });
  t.throws(() => admitService(svc('lb2', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 30001, ports: [{ port: 80 }] }), undefined, [lb]), {
    message: /spec\.healthCheckNodePort: Invalid value: 30001: provided port is already allocated/,
  });
  t.throws(() => admitService(svc('lb2', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 31000, ports: [{ port: 80, nodePort: 31000 }] }), undefined, [lb]), {
    message: /spec\.healthCheckNodePort: Invalid value: 31000: provided port is already allocated/,
  });
});

test('a full node-port range is an error, not a wrap-around', (t) => {
  const ports = Array.from({ length: NODE_PORT_MAX - NODE_PORT_MIN + 1 }, (_, i) => ({ name: `p${i}`, port: 1 + i }));
  const full = admitService(svc('full', { type: 'NodePort', ports }), undefined, []);
  t.is(nodePorts(full).at(-1), NODE_PORT_MAX);
  t.throws(() => admitService(svc('one-more', { type: 'NodePort', ports: [{ port: 80 }] }), undefined, [full]), { message: /range of valid node ports 30000-32767 is full/ });
});

test('the Service given is not modified', (t) => {
  const input = svc('a', { type: 'NodePort', ports: [{ port: 80 }] });
  const before = structuredClone(input);
  admitService(input, undefined, []);
  t.deepEqual(input, before);
});
