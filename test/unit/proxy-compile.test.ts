/**
 * compileServiceState: Services and EndpointSlices to service ports with kube-proxy's choices
 * made -- which services are proxied, dual-stack, port matching, endpoint conditions and the
 * terminating fallback, traffic policies, affinity, determinism, and reading from the cache.
 */
import test from 'ava';
import { ObjectCache } from '../../agent/cache';
import { compileServiceStateFromCache } from '../../agent/proxy/from-cache';
import { compile, endpoint, eps, NODE, node, portOf, PRIMARY, service, slice } from '../helpers/proxy-objects';

const web = (spec: Record<string, unknown> = {}, status?: Record<string, unknown>) => service('web', { clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }], ...spec }, status);

test('a ClusterIP service: one port state with its endpoints sorted by address, then port', (t) => {
  const state = compile(
    [web()],
    [slice('web-1', 'web', { endpoints: [{ ip: '10.244.0.10', node: NODE }, { ip: '10.244.0.9', node: 'node-b' }, { ip: '10.244.1.2' }] })],
  );
  t.deepEqual(state, {
    ports: [
      {
        key: 'default/web::tcp:v4',
        service: 'default/web',
        portName: '',
        protocol: 'tcp',
        family: 4,
        clusterIp: '10.96.0.10',
        port: 80,
        externalIps: [],
        loadBalancerIps: [],
        loadBalancerSourceRanges: [],
        clusterEndpoints: [
          { ip: '10.244.0.9', port: 8080, local: false },
          { ip: '10.244.0.10', port: 8080, local: true },
          { ip: '10.244.1.2', port: 8080, local: false },
        ],
        externalEndpoints: [
          { ip: '10.244.0.9', port: 8080, local: false },
          { ip: '10.244.0.10', port: 8080, local: true },
          { ip: '10.244.1.2', port: 8080, local: false },
        ],
        anyEndpoints: true,
        externalPolicyLocal: false,
        internalPolicyLocal: false,
      },
    ],
    nodePortAddresses: [],
    healthChecks: [],
    problems: [],
  });
});

test('headless and ExternalName services are not proxied, and are no problem', (t) => {
  const state = compile(
    [
      service('headless', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ port: 80 }] }),
      service('alias', { type: 'ExternalName', externalName: 'example.com', ports: [{ port: 80 }] }),
    ],
    [slice('headless-1', 'headless', { endpoints: [{ ip: '10.244.0.2' }] })],
  );
  t.deepEqual(state.ports, []);
  t.deepEqual(state.problems, []);
});

test('a service without a cluster IP, or with an unknown type, is reported and skipped', (t) => {
  const state = compile([service('pending', { ports: [{ port: 80 }] }), service('odd', { type: 'Magic', clusterIP: '10.96.0.3', ports: [{ port: 80 }] }), web()]);
  t.deepEqual(
    state.ports.map((p) => p.key),
    ['default/web::tcp:v4'],
  );
  t.deepEqual(
    state.problems.map((p) => p.object),
    ['default/odd', 'default/pending', 'default/pending'],
  );
  t.regex(state.problems[0].reason, /spec\.type: Unsupported value "Magic"/);
  t.regex(state.problems[1].reason, /spec\.clusterIP: not set/);
});

test('ports: protocol defaults to TCP; several named ports; each matched by name and protocol', (t) => {
  const dns = service('dns', {
    clusterIP: '10.96.0.10',
    ports: [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      { name: 'metrics', port: 9153 },
    ],
  });
  const state = compile(
    [dns],
    [
      slice('dns-1', 'dns', {
        ports: [
          { name: 'dns', port: 5353, protocol: 'UDP' },
          // Same name, other protocol: not the UDP port's endpoint port.
          { name: 'dns', port: 6000, protocol: 'TCP' },
          { name: 'dns-tcp', port: 5354 },
          { name: 'metrics', port: 9153, protocol: 'TCP' },
          { name: 'other', port: 7000, protocol: 'TCP' },
        ],
        endpoints: [{ ip: '10.244.0.5' }],
      }),
    ],
  );
  t.deepEqual(
    state.ports.map((p) => [p.key, p.protocol, p.port, eps(p.clusterEndpoints)]),
    [
      ['default/dns:dns-tcp:tcp:v4', 'tcp', 53, ['10.244.0.5:5354']],
      ['default/dns:dns:udp:v4', 'udp', 53, ['10.244.0.5:5353']],
      ['default/dns:metrics:tcp:v4', 'tcp', 9153, ['10.244.0.5:9153']],
    ],
  );
  t.deepEqual(state.problems, []);
});

test('SCTP ports are proxied; a service port without endpoints has empty lists', (t) => {
  const state = compile([service('s', { clusterIP: '10.96.0.4', ports: [{ name: 'a', port: 9, protocol: 'SCTP' }, { name: 'b', port: 10 }] })], [slice('s-1', 's', { ports: [{ name: 'a', port: 99, protocol: 'SCTP' }], endpoints: [{ ip: '10.244.0.7' }] })]);
  t.deepEqual(eps(portOf(state, 'default/s:a:sctp:v4').clusterEndpoints), ['10.244.0.7:99']);
  t.deepEqual(portOf(state, 'default/s:b:tcp:v4').clusterEndpoints, []);
  t.deepEqual(portOf(state, 'default/s:b:tcp:v4').externalEndpoints, []);
  t.false(portOf(state, 'default/s:b:tcp:v4').anyEndpoints, 'no endpoints anywhere: rejected');
  t.true(portOf(state, 'default/s:a:sctp:v4').anyEndpoints);
});

test('dual-stack: one state per family, each with the endpoints of its family; FQDN slices ignored; IPv6 canonical', (t) => {
  const svc = service('ds', { clusterIP: 'FD00:10:96:0:0::A', clusterIPs: ['FD00:10:96:0:0::A', '10.96.0.20'], ipFamilies: ['IPv6', 'IPv4'], ports: [{ name: 'http', port: 80 }] });
  const state = compile(
    [svc],
    [
      slice('ds-v4', 'ds', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.0.2' }] }),
      slice('ds-v6', 'ds', { addressType: 'IPv6', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: 'FD00:10:244:0:0:0:0:2' }, { ip: 'fd00:10:244::10' }, { ip: 'fd00:10:244::9' }] }),
      slice('ds-fqdn', 'ds', { addressType: 'FQDN', ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: ['web.example.com'] }] }),
    ],
  );
  t.deepEqual(
    state.ports.map((p) => [p.key, p.family, p.clusterIp, eps(p.clusterEndpoints)]),
    [
      ['default/ds:http:tcp:v4', 4, '10.96.0.20', ['10.244.0.2:8080']],
      ['default/ds:http:tcp:v6', 6, 'fd00:10:96::a', ['[fd00:10:244::2]:8080', '[fd00:10:244::9]:8080', '[fd00:10:244::10]:8080']],
    ],
  );
  t.deepEqual(state.problems, []);
});

test('single-stack IPv6: IPv4 slices are not used; clusterIP alone (no clusterIPs) is read too', (t) => {
  const state = compile(
    [service('v6', { clusterIP: 'fd00:10:96::5', ports: [{ port: 80 }] })],
    [slice('v6-a', 'v6', { endpoints: [{ ip: '10.244.0.2' }] }), slice('v6-b', 'v6', { addressType: 'IPv6', endpoints: [{ ip: 'fd00:10:244::3' }] })],
  );
  t.deepEqual(
    state.ports.map((p) => [p.key, eps(p.clusterEndpoints)]),
    [['default/v6::tcp:v6', ['[fd00:10:244::3]:8080']]],
  );
});

test('slices join their Service by label in its namespace; several slices merge', (t) => {
  const state = compile(
    [web()],
    [
      slice('web-1', 'web', { endpoints: [{ ip: '10.244.0.2' }] }),
      slice('web-2', 'web', { endpoints: [{ ip: '10.244.0.3' }] }),
      slice('unlabelled', undefined, { endpoints: [{ ip: '10.244.0.4' }] }),
      slice('other-svc', 'api', { endpoints: [{ ip: '10.244.0.5' }] }),
      slice('web-elsewhere', 'web', { endpoints: [{ ip: '10.244.0.6' }] }, 'other'),
    ],
  );
  t.deepEqual(eps(portOf(state, 'default/web::tcp:v4').clusterEndpoints), ['10.244.0.2:8080', '10.244.0.3:8080']);
});

test('an endpoint listed by several slices counts once; the same address with another resolved port is another endpoint', (t) => {
  const svc = service('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 'http' }] });
  const state = compile(
    [svc],
    [
      // Pods resolving the named targetPort to different numbers get slices of their own.
      slice('web-8080', 'web', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.0.2' }, { ip: '10.244.0.3' }] }),
      slice('web-9090', 'web', { ports: [{ name: 'http', port: 9090 }], endpoints: [{ ip: '10.244.0.4' }] }),
      // An endpoint moving between slices is briefly in both.
      slice('web-moving', 'web', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.0.3' }, { ip: '10.244.0.4' }] }),
    ],
  );
  t.deepEqual(eps(portOf(state, 'default/web:http:tcp:v4').clusterEndpoints), ['10.244.0.2:8080', '10.244.0.3:8080', '10.244.0.4:8080', '10.244.0.4:9090']);
});

test('copies of one endpoint that disagree: the most usable reading wins, whatever the slice order', (t) => {
  const a = slice('a', 'web', { endpoints: [{ ip: '10.244.0.2', ready: false, serving: false, terminating: true }, { ip: '10.244.0.3', node: 'node-b' }] });
  const b = slice('b', 'web', { endpoints: [{ ip: '10.244.0.2', ready: true }, { ip: '10.244.0.3', node: NODE }] });
  for (const slices of [
    [a, b],
    [b, a],
  ]) {
    const p = portOf(compile([web()], slices), 'default/web::tcp:v4');
    t.deepEqual(eps(p.clusterEndpoints), ['10.244.0.2:8080', '10.244.0.3:8080*']);
  }
});

test('conditions: ready unset means ready; not ready endpoints are not used while any is ready', (t) => {
  const state = compile(
    [web()],
    [
      slice('web-1', 'web', {
        endpoints: [
          { ip: '10.244.0.2' }, // no conditions at all: ready
          { ip: '10.244.0.3', ready: null }, // null: unset
          { ip: '10.244.0.4', ready: false }, // starting up
          { ip: '10.244.0.5', ready: false, serving: true, terminating: true }, // draining
        ],
      }),
    ],
  );
  t.deepEqual(eps(portOf(state, 'default/web::tcp:v4').clusterEndpoints), ['10.244.0.2:8080', '10.244.0.3:8080']);
});

test('terminating fallback: with no ready endpoint anywhere, the serving terminating ones are used', (t) => {
  const state = compile(
    [web()],
    [
      slice('web-1', 'web', {
        endpoints: [
          { ip: '10.244.0.2', ready: false, serving: true, terminating: true, node: 'node-b' },
          { ip: '10.244.0.3', ready: false, serving: false, terminating: true }, // no longer serving
          { ip: '10.244.0.4', ready: false }, // not ready, not terminating: never used
          { ip: '10.244.0.5', ready: false, terminating: true }, // serving unset: true, as kube-proxy reads it
          { ip: '10.244.0.6', ready: false, serving: true }, // serving but not terminating: not a fallback
        ],
      }),
    ],
  );
  const p = portOf(state, 'default/web::tcp:v4');
  t.deepEqual(eps(p.clusterEndpoints), ['10.244.0.2:8080', '10.244.0.5:8080']);
  t.deepEqual(eps(p.externalEndpoints), ['10.244.0.2:8080', '10.244.0.5:8080']);
});

const mixed = () =>
  slice('web-1', 'web', {
    endpoints: [
      { ip: '10.244.0.2', node: 'node-b' },
      { ip: '10.244.0.3', node: NODE, ready: false, serving: true, terminating: true },
      { ip: '10.244.0.4', node: NODE, ready: false },
    ],
  });

test('externalTrafficPolicy Local: external traffic goes to local endpoints, with the terminating fallback decided locally', (t) => {
  const np = web({ type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30080 }] });
  let p = portOf(compile([np], [mixed()]), 'default/web::tcp:v4');
  t.true(p.externalPolicyLocal);
  t.false(p.internalPolicyLocal);
  // Cluster traffic: the ready remote endpoint. External: no local ready one, so the local draining one.
  t.deepEqual(eps(p.clusterEndpoints), ['10.244.0.2:8080']);
  t.deepEqual(eps(p.externalEndpoints), ['10.244.0.3:8080*']);

  const withLocalReady = slice('web-2', 'web', { endpoints: [{ ip: '10.244.0.9', node: NODE }] });
  p = portOf(compile([np], [mixed(), withLocalReady]), 'default/web::tcp:v4');
  t.deepEqual(eps(p.clusterEndpoints), ['10.244.0.2:8080', '10.244.0.9:8080*']);
  t.deepEqual(eps(p.externalEndpoints), ['10.244.0.9:8080*']);

  const remoteOnly = slice('web-1', 'web', { endpoints: [{ ip: '10.244.0.2', node: 'node-b' }] });
  p = portOf(compile([np], [remoteOnly]), 'default/web::tcp:v4');
  t.deepEqual(eps(p.clusterEndpoints), ['10.244.0.2:8080']);
  t.deepEqual(p.externalEndpoints, []);
});

test('internalTrafficPolicy Local: cluster-IP traffic goes to local endpoints only; external traffic still to all', (t) => {
  const np = web({ type: 'NodePort', internalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30080 }] });
  let p = portOf(compile([np], [mixed()]), 'default/web::tcp:v4');
  t.true(p.internalPolicyLocal);
  t.false(p.externalPolicyLocal);
  t.deepEqual(eps(p.clusterEndpoints), ['10.244.0.3:8080*']);
  t.deepEqual(eps(p.externalEndpoints), ['10.244.0.2:8080']);

  p = portOf(compile([web({ internalTrafficPolicy: 'Local' })], [slice('web-1', 'web', { endpoints: [{ ip: '10.244.0.2', node: 'node-b' }] })]), 'default/web::tcp:v4');
  t.deepEqual(p.clusterEndpoints, []);
  t.true(p.anyEndpoints, 'endpoints elsewhere: dropped here, not rejected');
});

test('both policies Local: both lists are the local ones', (t) => {
  const lb = web({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local', healthCheckNodePort: 32000, ports: [{ port: 80, nodePort: 30080 }] });
  const p = portOf(compile([lb], [mixed()]), 'default/web::tcp:v4');
  t.deepEqual(eps(p.clusterEndpoints), ['10.244.0.3:8080*']);
  t.deepEqual(eps(p.externalEndpoints), ['10.244.0.3:8080*']);
});

test('externalTrafficPolicy Local only counts for node ports, load balancers and external IPs', (t) => {
  const clusterIp = portOf(compile([web({ externalTrafficPolicy: 'Local' })], [mixed()]), 'default/web::tcp:v4');
  t.false(clusterIp.externalPolicyLocal);
  t.deepEqual(eps(clusterIp.externalEndpoints), ['10.244.0.2:8080']);
  const withExternalIp = portOf(compile([web({ externalTrafficPolicy: 'Local', externalIPs: ['192.0.2.50'] })], [mixed()]), 'default/web::tcp:v4');
  t.true(withExternalIp.externalPolicyLocal);
  t.deepEqual(eps(withExternalIp.externalEndpoints), ['10.244.0.3:8080*']);
  t.deepEqual(withExternalIp.externalIps, ['192.0.2.50']);
});

test('session affinity ClientIP: the configured timeout, 10800 s by default; None: no affinity', (t) => {
  const timeout = (spec: Record<string, unknown>) => portOf(compile([web(spec)]), 'default/web::tcp:v4').affinityTimeoutSeconds;
  t.is(timeout({ sessionAffinity: 'ClientIP' }), 10800);
  t.is(timeout({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }), 60);
  t.is(timeout({ sessionAffinity: 'None', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }), undefined);
  t.is(timeout({}), undefined);
  const bad = compile([web({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } })]);
  t.is(bad.ports[0].affinityTimeoutSeconds, 10800);
  t.regex(bad.problems[0].reason, /timeoutSeconds: Invalid value 0/);
});

test('node ports only for NodePort and LoadBalancer services', (t) => {
  const state = compile([
    service('cip', { clusterIP: '10.96.0.1', ports: [{ port: 80, nodePort: 30001 }] }),
    service('np', { type: 'NodePort', clusterIP: '10.96.0.2', ports: [{ port: 80, nodePort: 30002 }] }),
    service('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.3', ports: [{ port: 80, nodePort: 30003 }] }),
    service('lb-direct', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, clusterIP: '10.96.0.4', ports: [{ port: 80 }] }),
    service('np-missing', { type: 'NodePort', clusterIP: '10.96.0.5', ports: [{ port: 80 }] }),
  ]);
  t.deepEqual(
    state.ports.map((p) => [p.service, p.nodePort]),
    [
      // In service order, then port key: "default/lb" before "default/lb-direct".
      ['default/cip', undefined],
      ['default/lb', 30003],
      ['default/lb-direct', undefined],
      ['default/np', 30002],
      ['default/np-missing', undefined],
    ],
  );
  t.false('nodePort' in portOf(state, 'default/cip::tcp:v4'));
  // A NodePort service without node ports is odd (the API server allocates them); a LoadBalancer
  // may go without. And with node ports but no Node object, there is no address to serve them on.
  t.deepEqual(
    state.problems.map((p) => p.object),
    ['default/np-missing', NODE],
  );
  t.regex(state.problems[1].reason, /no Node object named "node-a"/);
  t.deepEqual(compile([service('cip', { clusterIP: '10.96.0.1', ports: [{ port: 80 }] })]).problems, [], 'no node ports: the Node is not missed');
});

test('unusable fields and objects are reported with their path; the rest is still compiled', (t) => {
  const state = compile(
    [
      service('bad-ports', {
        clusterIP: '10.96.0.1',
        ports: [{ name: 'zero', port: 0 }, { name: 'big', port: 70000 }, { name: 'icmp', port: 1, protocol: 'ICMP' }, { name: 'proto', port: 2, protocol: 'toString' }, 'junk', { name: 'ok', port: 80 }, { name: 'ok', port: 81 }],
      }),
      service('bad-ip', { clusterIP: '10.96.0.300', ports: [{ port: 80 }] }),
      service('bad-dual', { clusterIP: '10.96.0.7', clusterIPs: ['10.96.0.7', 'fd00::zz'], ports: [{ port: 80 }] }),
      service('good', { clusterIP: '10.96.0.9', ports: [{ port: 80 }] }),
    ],
    [
      slice('good-1', 'good', {
        ports: [{ port: 8080 }, { port: 99999 }, { name: 'x', protocol: 'ICMP', port: 1 }, { name: 'all' }],
        endpoints: [
          { ip: '10.244.0.2' },
          { ip: 'fd00::2' }, // wrong family for the slice
          { ip: 'not-an-ip' },
          { addresses: [] },
          { addresses: ['10.244.0.3'], conditions: { ready: 'yes' } },
          { addresses: ['10.244.0.4'], nodeName: 7 },
          'junk',
        ],
      }),
      slice('good-2', 'good', { addressType: 'IPX', endpoints: [{ ip: '10.244.0.8' }] }),
    ],
  );
  t.deepEqual(
    state.ports.map((p) => [p.key, eps(p.clusterEndpoints)]),
    [
      ['default/bad-dual::tcp:v4', []],
      ['default/bad-ports:ok:tcp:v4', []],
      ['default/good::tcp:v4', ['10.244.0.2:8080']],
    ],
  );
  const reasons = (object: string) => state.problems.filter((p) => p.object === object).map((p) => p.reason);
  t.deepEqual(
    reasons('default/bad-ports').map((r) => r.split(':')[0]),
    ['spec.ports[0].port', 'spec.ports[1].port', 'spec.ports[2].protocol', 'spec.ports[3].protocol', 'spec.ports[4]', 'spec.ports[6]'],
  );
  t.regex(reasons('default/bad-ports')[5], /Duplicate value/);
  t.regex(reasons('default/bad-ip')[0], /spec\.clusterIP: Invalid value "10\.96\.0\.300"/);
  t.regex(reasons('default/bad-ip')[1], /not proxied/);
  t.deepEqual(reasons('default/bad-dual').length, 1);
  t.regex(reasons('default/bad-dual')[0], /spec\.clusterIPs\[1\]: Invalid value "fd00::zz"/);
  t.deepEqual(
    reasons('default/good-1').map((r) => r.split(':')[0]),
    [
      'EndpointSlice ports[1].port',
      'EndpointSlice ports[2].protocol',
      'EndpointSlice ports[3].port',
      'EndpointSlice endpoints[1].addresses[0]',
      'EndpointSlice endpoints[2].addresses[0]',
      'EndpointSlice endpoints[3].addresses[0]',
      'EndpointSlice endpoints[4].conditions.ready',
      'EndpointSlice endpoints[5].nodeName',
      'EndpointSlice endpoints[6]',
    ],
  );
  t.regex(reasons('default/good-2')[0], /addressType: Unsupported value "IPX"/);
  // Problems are grouped by object, in object order.
  const objects = state.problems.map((p) => p.object);
  t.deepEqual(objects, [...objects].sort());
});

test('fields that disagree or hold unknown values: reported, with the choice made said', (t) => {
  const state = compile([
    service('w', {
      clusterIP: '10.96.0.8',
      clusterIPs: ['10.96.0.7', '10.96.0.9', 'fd00::7'],
      ipFamilies: ['IPv6', 'IPv4'],
      externalTrafficPolicy: 'Nearby',
      internalTrafficPolicy: 'Local',
      sessionAffinity: 'Cookie',
      externalIPs: '192.0.2.1',
      ports: [{ port: 80 }],
    }),
  ]);
  t.deepEqual(
    state.ports.map((p) => [p.key, p.clusterIp, p.externalPolicyLocal, p.internalPolicyLocal, p.affinityTimeoutSeconds]),
    [
      ['default/w::tcp:v4', '10.96.0.7', false, true, undefined],
      ['default/w::tcp:v6', 'fd00::7', false, true, undefined],
    ],
  );
  t.deepEqual(
    state.problems.map((p) => p.reason),
    [
      'spec.clusterIP: Invalid value "10.96.0.8": must be the first of spec.clusterIPs ("10.96.0.7"); spec.clusterIPs is used',
      'spec.ipFamilies[0]: Invalid value "IPv6": does not match spec.clusterIPs[0] 10.96.0.7; the address\'s family is used',
      'spec.clusterIPs[1]: Invalid value "10.96.0.9": a second IPv4 address (one per family)',
      'spec.externalIPs: Invalid value: must be a list, not string',
      'spec.externalTrafficPolicy: Unsupported value "Nearby": supported values: "Cluster", "Local"; Cluster is used',
      'spec.sessionAffinity: Unsupported value "Cookie": supported values: "ClientIP", "None"; None is used',
    ],
  );
});

test('the same Service twice in the input: the first is used, the second reported', (t) => {
  const state = compile([web(), web({ clusterIP: '10.96.0.99' })]);
  t.deepEqual(
    state.ports.map((p) => p.clusterIp),
    ['10.96.0.10'],
  );
  t.deepEqual(state.problems, [{ object: 'default/web', reason: 'the Service is listed twice: the first is used' }]);
});

function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

test('deterministic: the same objects in any order give the same state, also when recompiled from memo', (t) => {
  const services = [
    web({ type: 'NodePort', ports: [{ name: 'a', port: 80, nodePort: 30080 }, { name: 'b', port: 81, nodePort: 30081 }] }),
    service('api', { clusterIPs: ['10.96.0.11', 'fd00:10:96::11'], ports: [{ port: 443 }], externalIPs: ['192.0.2.9', '192.0.2.10', '2001:db8::1'] }, undefined, 'prod'),
    service('bad', { clusterIP: 'x', ports: [{ port: 1 }] }),
    service('dup', { clusterIP: '10.96.0.10', ports: [{ name: 'a', port: 80 }] }),
  ];
  const slices = [
    slice('web-1', 'web', { ports: [{ name: 'a', port: 8080 }, { name: 'b', port: 8081 }], endpoints: [{ ip: '10.244.0.3' }, { ip: '10.244.0.2', node: NODE }, { ip: 'junk' }] }),
    slice('web-2', 'web', { ports: [{ name: 'a', port: 8080 }], endpoints: [{ ip: '10.244.0.1', ready: false }, { ip: '10.244.0.3' }] }),
    slice('api-1', 'api', { addressType: 'IPv6', ports: [{ port: 8443 }], endpoints: [{ ip: 'fd00::b' }, { ip: 'fd00::a' }] }, 'prod'),
    slice('api-2', 'api', { ports: [{ port: 8443 }], endpoints: [{ ip: '10.244.2.2' }] }, 'prod'),
  ];
  const reference = JSON.stringify(compile(services, slices, { node: node(NODE, [['InternalIP', '192.0.2.1']]) }));
  for (let seed = 1; seed <= 5; seed++) {
    // Fresh copies: nothing memoised about them.
    const s = shuffled(structuredClone(services), seed);
    const e = shuffled(structuredClone(slices), seed * 7);
    t.is(JSON.stringify(compile(s, e, { node: node(NODE, [['InternalIP', '192.0.2.1']]) })), reference);
    t.is(JSON.stringify(compile(s, e, { node: node(NODE, [['InternalIP', '192.0.2.1']]) })), reference, 'recompiled from memo');
  }
});

test('a node name change or a slice change is seen by a recompile of the same Service object', (t) => {
  const svc = web();
  const s1 = slice('web-1', 'web', { endpoints: [{ ip: '10.244.0.2', node: 'node-b' }] });
  t.deepEqual(eps(compile([svc], [s1]).ports[0].clusterEndpoints), ['10.244.0.2:8080']);
  t.deepEqual(eps(compile([svc], [s1], { nodeName: 'node-b' }).ports[0].clusterEndpoints), ['10.244.0.2:8080*']);
  const s2 = slice('web-1', 'web', { endpoints: [{ ip: '10.244.0.3' }] });
  t.deepEqual(eps(compile([svc], [s2]).ports[0].clusterEndpoints), ['10.244.0.3:8080']);
  t.deepEqual(eps(compile([svc], [s1, s2]).ports[0].clusterEndpoints), ['10.244.0.2:8080', '10.244.0.3:8080']);
  t.deepEqual(compile([svc], []).ports[0].clusterEndpoints, []);
});

test('from the object cache: the same state as from the lists, and it follows updates', (t) => {
  const cache = new ObjectCache();
  const objects = [
    web({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
    slice('web-1', 'web', { endpoints: [{ ip: '10.244.0.2', node: NODE }] }),
    slice('web-2', 'web', { endpoints: [{ ip: '10.244.0.3' }] }),
    slice('stray', 'gone', { endpoints: [{ ip: '10.244.0.4' }] }),
    node(NODE, [['InternalIP', '192.0.2.1']]),
    { apiVersion: 'v1', kind: 'Pod' as const, metadata: { name: 'p', namespace: 'default' } },
  ];
  for (const object of objects) cache.apply({ type: 'ADDED', object });
  const fromCache = compileServiceStateFromCache(cache, NODE, PRIMARY);
  t.deepEqual(fromCache, compile([objects[0]], objects.slice(1, 4), { node: objects[4] }));
  t.deepEqual(fromCache.nodePortAddresses, ['192.0.2.1']);
  t.deepEqual(eps(fromCache.ports[0].clusterEndpoints), ['10.244.0.2:8080*', '10.244.0.3:8080']);

  cache.apply({ type: 'MODIFIED', object: slice('web-2', 'web', { endpoints: [{ ip: '10.244.0.3', ready: false }, { ip: '10.244.0.5' }] }) });
  t.deepEqual(eps(compileServiceStateFromCache(cache, NODE, PRIMARY).ports[0].clusterEndpoints), ['10.244.0.2:8080*', '10.244.0.5:8080']);
  cache.apply({ type: 'DELETED', object: objects[1] });
  t.deepEqual(eps(compileServiceStateFromCache(cache, NODE, PRIMARY).ports[0].clusterEndpoints), ['10.244.0.5:8080']);
  cache.apply({ type: 'DELETED', object: objects[0] });
  t.deepEqual(compileServiceStateFromCache(cache, NODE, PRIMARY).ports, []);
});

test('the endpoint helper writes conditions only when given', (t) => {
  t.deepEqual(endpoint({ ip: '10.0.0.1' }), { addresses: ['10.0.0.1'], conditions: {} });
  t.deepEqual(endpoint({ ip: '10.0.0.1', node: 'n', ready: false }), { addresses: ['10.0.0.1'], nodeName: 'n', conditions: { ready: false } });
});
