/**
 * compileServiceState, the frontends: node-port addresses from the Node, external IPs,
 * load-balancer IPs and source ranges, health-check node ports, and frontends two services
 * claim at once.
 */
import test from 'ava';
import { compile, NODE, node, portOf, service, slice } from '../helpers/proxy-objects';

const nodePortService = service('np', { type: 'NodePort', clusterIP: '10.96.0.2', ports: [{ port: 80, nodePort: 30080 }] });
const dualNode = node(NODE, [
  ['Hostname', NODE],
  ['InternalIP', '192.0.2.1'],
  ['InternalIP', '192.0.2.5'],
  ['ExternalIP', '203.0.113.1'],
  ['InternalIP', 'FD00:0:0::1'],
  ['ExternalIP', '2001:db8::1'],
  ['InternalDNS', 'node-a.internal'],
  ['InternalIP', 'garbage'],
]);

test('node-port addresses, primary: the InternalIP addresses of each family', (t) => {
  t.deepEqual(compile([nodePortService], [], { node: dualNode }).nodePortAddresses, ['192.0.2.1', '192.0.2.5', 'fd00::1']);
});

test('node-port addresses, primary: the ExternalIP addresses of a family without InternalIP', (t) => {
  const n = node(NODE, [
    ['InternalIP', '10.0.0.9'],
    ['ExternalIP', '203.0.113.1'],
    ['ExternalIP', '2001:db8::1'],
  ]);
  t.deepEqual(compile([nodePortService], [], { node: n }).nodePortAddresses, ['10.0.0.9', '2001:db8::1']);
});

test('node-port addresses, CIDRs: the Node addresses inside them; a family without CIDRs is not restricted', (t) => {
  const at = (cidrs: string[]) => compile([nodePortService], [], { node: dualNode, config: { nodePortAddresses: cidrs } });
  t.deepEqual(at(['192.0.2.0/30']).nodePortAddresses, ['192.0.2.1', '2001:db8::1', 'fd00::1']);
  t.deepEqual(at(['192.0.2.0/30', '203.0.113.0/24', '2001:db8::/32']).nodePortAddresses, ['192.0.2.1', '203.0.113.1', '2001:db8::1']);
  t.deepEqual(at(['198.51.100.0/24', 'fd00::/8']).nodePortAddresses, ['fd00::1']);
  t.deepEqual(at([]).nodePortAddresses, ['192.0.2.1', '192.0.2.5', '203.0.113.1', '2001:db8::1', 'fd00::1']);
  const bad = at(['192.0.2.1/33', '192.0.2.5/32']);
  t.deepEqual(bad.nodePortAddresses, ['192.0.2.5', '2001:db8::1', 'fd00::1']);
  t.deepEqual(bad.problems, [{ object: 'nodePortAddresses', reason: '"192.0.2.1/33" is not a CIDR: ignored' }]);
});

test('node-port addresses: none without the Node object', (t) => {
  t.deepEqual(compile([nodePortService]).nodePortAddresses, []);
});

test('external IPs: those of the port family, canonical and sorted; a bad one is reported, the others kept', (t) => {
  const svc = service('ext', { clusterIPs: ['10.96.0.3', 'fd00:10:96::3'], ports: [{ port: 80 }], externalIPs: ['192.0.2.10', '2001:DB8::0:1', '192.0.2.9', 'nope'] });
  const state = compile([svc]);
  t.deepEqual(portOf(state, 'default/ext::tcp:v4').externalIps, ['192.0.2.9', '192.0.2.10']);
  t.deepEqual(portOf(state, 'default/ext::tcp:v6').externalIps, ['2001:db8::1']);
  t.deepEqual(state.problems, [{ object: 'default/ext', reason: 'spec.externalIPs[3]: Invalid value "nope": must be a valid IP address' }]);
});

const lbStatus = { loadBalancer: { ingress: [{ ip: '203.0.113.20' }, { ip: '203.0.113.3', ipMode: 'VIP' }, { ip: '2001:db8::20' }, { hostname: 'lb.example.com' }, { ip: '203.0.113.30', ipMode: 'Proxy' }] } };

test('load-balancer IPs: status ingress IPs of the family, VIP mode only, type LoadBalancer only', (t) => {
  const lb = service('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.0.4', 'fd00:10:96::4'], ports: [{ port: 443, nodePort: 30443 }] }, lbStatus);
  const state = compile([lb]);
  t.deepEqual(portOf(state, 'default/lb::tcp:v4').loadBalancerIps, ['203.0.113.3', '203.0.113.20']);
  t.deepEqual(portOf(state, 'default/lb::tcp:v6').loadBalancerIps, ['2001:db8::20']);
  t.deepEqual(portOf(state, 'default/lb::tcp:v4').loadBalancerSourceRanges, []);
  // The API server clears the status of a Service that stops being a LoadBalancer; until then it means nothing.
  const wasLb = service('was', { type: 'NodePort', clusterIP: '10.96.0.5', ports: [{ port: 443, nodePort: 30444 }] }, lbStatus);
  t.deepEqual(compile([wasLb]).ports[0].loadBalancerIps, []);
  const badIngress = compile([service('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.4', ports: [{ port: 443, nodePort: 30443 }] }, { loadBalancer: { ingress: [{ ip: '203.0.113.500' }, { ip: '203.0.113.5' }] } })]);
  t.deepEqual(badIngress.ports[0].loadBalancerIps, ['203.0.113.5']);
  t.regex(badIngress.problems[0].reason, /status\.loadBalancer\.ingress\[0\]\.ip: Invalid value "203\.0\.113\.500"/);
});

test('load-balancer source ranges: canonical CIDRs of the family, host bits cleared, white space trimmed', (t) => {
  const lb = service(
    'lb',
    { type: 'LoadBalancer', clusterIPs: ['10.96.0.4', 'fd00:10:96::4'], ports: [{ port: 443, nodePort: 30443 }], loadBalancerSourceRanges: [' 198.51.100.7/24', '10.0.0.0/8', '2001:DB8:1::/48 '] },
    lbStatus,
  );
  const state = compile([lb], [], { node: dualNode });
  t.deepEqual(portOf(state, 'default/lb::tcp:v4').loadBalancerSourceRanges, ['10.0.0.0/8', '198.51.100.0/24']);
  t.deepEqual(portOf(state, 'default/lb::tcp:v6').loadBalancerSourceRanges, ['2001:db8:1::/48']);
  t.deepEqual(state.problems, []);
});

test('a source range that is not a CIDR: reported, and the load-balancer IPs are not served rather than served to everyone', (t) => {
  const lb = service('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.4', ports: [{ port: 443, nodePort: 30443 }], externalIPs: ['192.0.2.7'], loadBalancerSourceRanges: ['10.0.0.0/8', '10.0.0.0/40'] }, lbStatus);
  const state = compile([lb], [], { node: dualNode });
  const p = portOf(state, 'default/lb::tcp:v4');
  t.deepEqual(p.loadBalancerIps, []);
  // Everything else is still served.
  t.is(p.clusterIp, '10.96.0.4');
  t.is(p.nodePort, 30443);
  t.deepEqual(p.externalIps, ['192.0.2.7']);
  t.deepEqual(
    state.problems.map((x) => x.reason),
    ['spec.loadBalancerSourceRanges[1]: Invalid value "10.0.0.0/40": must be a CIDR; the load-balancer IPs are not served'],
  );
});

const local = (ip: string, extra: Record<string, unknown> = {}) => ({ ip, node: NODE, ...extra });

test('health checks: LoadBalancer services with externalTrafficPolicy Local, counting local ready endpoint addresses', (t) => {
  const lb = (name: string, hc: number, spec: Record<string, unknown> = {}) =>
    service(name, {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: hc,
      clusterIPs: [`10.96.0.${hc - 32000}`, `fd00:10:96::${hc - 32000}`],
      ports: [
        { name: 'http', port: 80, nodePort: hc - 2000 },
        { name: 'https', port: 443, nodePort: hc - 1000 },
      ],
      ...spec,
    });
  const state = compile(
    [lb('b', 32002), lb('a', 32003), lb('none', 32001), service('np', { type: 'NodePort', externalTrafficPolicy: 'Local', clusterIP: '10.96.0.9', ports: [{ port: 80, nodePort: 30100 }] })],
    [
      // One pod, two ports and two families: two addresses.
      slice('a-v4', 'a', {
        ports: [
          { name: 'http', port: 8080 },
          { name: 'https', port: 8443 },
        ],
        endpoints: [local('10.244.0.2'), local('10.244.0.3', { ready: false, serving: true, terminating: true }), { ip: '10.244.1.2', node: 'node-b' }],
      }),
      slice('a-v6', 'a', { addressType: 'IPv6', ports: [{ name: 'http', port: 8080 }], endpoints: [local('fd00:10:244::2')] }),
      slice('b-1', 'b', { ports: [{ name: 'http', port: 8080 }], endpoints: [local('10.244.0.7'), local('10.244.0.8', { ready: false })] }),
      slice('none-1', 'none', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.1.9', node: 'node-b' }] }),
    ],
  );
  t.deepEqual(state.healthChecks, [
    { service: 'default/none', port: 32001, localEndpoints: 0 },
    { service: 'default/b', port: 32002, localEndpoints: 1 },
    { service: 'default/a', port: 32003, localEndpoints: 2 },
  ]);
  t.deepEqual(state.problems.filter((p) => p.object !== NODE), []);
});

test('health checks: none for other services; a missing or bad health-check port is reported', (t) => {
  const state = compile([
    service('cluster-policy', { type: 'LoadBalancer', clusterIP: '10.96.0.1', healthCheckNodePort: 32001, ports: [{ port: 80, nodePort: 30001 }] }),
    service('missing', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', clusterIP: '10.96.0.2', ports: [{ port: 80, nodePort: 30002 }] }),
    service('bad', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 70000, clusterIP: '10.96.0.3', ports: [{ port: 80, nodePort: 30003 }] }),
  ]);
  t.deepEqual(state.healthChecks, []);
  t.deepEqual(
    state.problems.filter((p) => p.object !== NODE).map((p) => [p.object, p.reason.split(':')[0]]),
    [
      ['default/bad', 'spec.healthCheckNodePort'],
      ['default/missing', 'spec.healthCheckNodePort'],
    ],
  );
  t.is(state.ports.length, 3, 'the services themselves are still proxied');
});

test('frontend conflicts: the first service port in key order keeps a cluster IP, node port or external IP; the later one loses it', (t) => {
  const state = compile([
    service('b', { type: 'NodePort', clusterIP: '10.96.0.1', externalIPs: ['192.0.2.9'], ports: [{ name: 'x', port: 80, nodePort: 30080 }, { name: 'y', port: 81, protocol: 'UDP', nodePort: 30080 }] }),
    service('a', { type: 'NodePort', clusterIP: '10.96.0.1', ports: [{ port: 80, nodePort: 30081 }] }),
    service('c', { type: 'NodePort', clusterIP: '10.96.0.3', externalIPs: ['192.0.2.9', '192.0.2.10'], ports: [{ port: 80, nodePort: 30080 }, { name: 'other', port: 8080, nodePort: 30090 }] }),
  ]);
  t.deepEqual(
    state.ports.map((p) => [p.key, p.clusterIp, p.nodePort, p.externalIps]),
    [
      ['default/a::tcp:v4', '10.96.0.1', 30081, []],
      // Same cluster IP and port as default/a: nothing left of b's port x. Port y is UDP: no conflict.
      ['default/b:y:udp:v4', '10.96.0.1', 30080, ['192.0.2.9']],
      // The TCP node port 30080 was free when c came (b's x was dropped); 192.0.2.9:80 was too.
      ['default/c::tcp:v4', '10.96.0.3', 30080, ['192.0.2.9', '192.0.2.10']],
      ['default/c:other:tcp:v4', '10.96.0.3', 30090, ['192.0.2.9', '192.0.2.10']],
    ],
  );
  t.deepEqual(
    state.problems.filter((p) => p.object !== NODE),
    [{ object: 'default/b', reason: 'default/b port "x" TCP: cluster IP 10.96.0.1 port 80 is already served for default/a port (unnamed) TCP' }],
  );
});

test('frontend conflicts: node ports and external or load-balancer IPs are lost one by one', (t) => {
  const a = service('a', { type: 'LoadBalancer', clusterIP: '10.96.0.1', externalIPs: ['192.0.2.9'], ports: [{ port: 80, nodePort: 30080 }] }, { loadBalancer: { ingress: [{ ip: '203.0.113.1' }] } });
  const bObject = service('b', { type: 'LoadBalancer', clusterIP: '10.96.0.2', externalIPs: ['192.0.2.9', '203.0.113.1'], ports: [{ port: 80, nodePort: 30080 }] }, { loadBalancer: { ingress: [{ ip: '203.0.113.1' }, { ip: '203.0.113.2' }] } });
  const state = compile([a, bObject]);
  const b = portOf(state, 'default/b::tcp:v4');
  t.is(b.clusterIp, '10.96.0.2');
  t.is(b.nodePort, undefined);
  t.false('nodePort' in b);
  t.deepEqual(b.externalIps, []);
  t.deepEqual(b.loadBalancerIps, ['203.0.113.2']);
  t.deepEqual(
    state.problems.filter((p) => p.object !== NODE).map((p) => p.reason.replace(/ is already served for .*/, '')),
    [
      'default/b port (unnamed) TCP: load-balancer IP 203.0.113.1 port 80',
      'default/b port (unnamed) TCP: external IP 192.0.2.9 port 80',
      'default/b port (unnamed) TCP: external IP 203.0.113.1 port 80',
      'default/b port (unnamed) TCP: IPv4 node port 30080',
    ],
  );
  // b's memoised state was not trimmed in place: compiled again without a, it has everything.
  const alone = portOf(compile([bObject]), 'default/b::tcp:v4');
  t.is(alone.nodePort, 30080);
  t.deepEqual(alone.loadBalancerIps, ['203.0.113.1', '203.0.113.2']);
  // An address that is both its load-balancer IP and its external IP stays a load-balancer IP (source ranges apply).
  t.deepEqual(alone.externalIps, ['192.0.2.9']);
  t.deepEqual(compile([bObject]).problems.filter((p) => p.object !== NODE), []);
});

test('health-check conflicts: one port, one service; not on a TCP node port', (t) => {
  const lb = (name: string, ip: string, hc: number, nodePort: number) =>
    service(name, { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: hc, clusterIP: ip, ports: [{ port: 80, nodePort }] });
  const state = compile([lb('b', '10.96.0.2', 32000, 30002), lb('a', '10.96.0.1', 32000, 30001), lb('c', '10.96.0.3', 30001, 30003)]);
  t.deepEqual(
    state.healthChecks.map((h) => [h.service, h.port]),
    [['default/a', 32000]],
  );
  t.deepEqual(
    state.problems.filter((p) => p.object !== NODE),
    [
      { object: 'default/b', reason: 'health-check node port 32000 is already served for default/a' },
      { object: 'default/c', reason: 'health-check node port 30001 is a node port of default/a port (unnamed) TCP' },
    ],
  );
});
