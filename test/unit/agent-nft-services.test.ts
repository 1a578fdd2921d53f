/**
 * The nftables rendering of services, without a kernel: plain ports share pick chains and an
 * endpoint map, ports with affinity get chains of their own, an unchanged port renders to the
 * same objects (so the diff skips it), one endpoint change is element operations only, and the
 * diff by element groups leaves the kernel as a full comparison would.
 */
import test from 'ava';
import { diffTable, committedListing } from '../../agent/backend/nftables/diff';
import { renderNodeTable } from '../../agent/backend/nftables/render';
import { pickChainName, renderServices, serviceChainName } from '../../agent/backend/nftables/render-services';
import type { NodeServices, NodeState } from '../../agent/dataplane/node-state';
import type { ServicePortState } from '../../agent/dataplane/service-state';
import { FakeNft } from '../../kernel/nft';
import { portState } from '../helpers/service-ports';

const TABLE = { family: 'inet' as const, name: 'weft' };

function services(ports: ServicePortState[]): NodeServices {
  return { state: { ports, nodePortAddresses: ['192.0.2.10'], healthChecks: [], problems: [] }, clusterCidrs: ['10.244.0.0/16'] };
}

const node = (ports: ServicePortState[]): NodeState => ({ nodeName: 'n1', localPods: [], services: services(ports) });

const eps = (...list: [string, number][]) => list.map(([ip, port]) => ({ ip, port, local: false }));
const web = portState('web', { endpoints: eps(['10.244.1.2', 8080], ['10.244.2.2', 8080]) });
const dns = portState('dns', { clusterIp: '10.96.0.53', port: 53, protocol: 'udp', endpoints: eps(['10.244.1.3', 53], ['10.244.2.3', 53]) });
const sticky = portState('sticky', { clusterIp: '10.96.0.11', endpoints: eps(['10.244.1.2', 8080]), affinityTimeoutSeconds: 30 });

test('a plain port: its frontend jumps to the pick chain of its protocol and endpoint count; its endpoints are map elements', (t) => {
  const out = renderServices(services([web, dns]));
  const set = (name: string) => out.sets.find((s) => s.name === name);
  t.deepEqual(set('service-ips-v4')?.elements.map((e) => [e.key.join(' '), e.value?.join(' ')]), [
    ['10.96.0.10 tcp 80', `goto ${pickChainName(4, 'tcp', 2)}`],
    ['10.96.0.53 udp 53', `goto ${pickChainName(4, 'udp', 2)}`],
  ]);
  t.deepEqual(set('endpoints-v4-tcp')?.elements.map((e) => [e.key.join(' '), e.value?.join(' ')]), [
    ['10.96.0.10 80 0', '10.244.1.2 8080'],
    ['10.96.0.10 80 1', '10.244.2.2 8080'],
  ]);
  t.is(set('endpoints-v4-udp')?.elements.length, 2);
  const pick = out.chains.find((c) => c.name === pickChainName(4, 'udp', 2));
  t.regex(pick?.rules[0].rule ?? '', /^dnat ip to ip daddr \. udp dport \. numgen random mod 2 map @endpoints-v4-udp$/);
  t.falsy(out.chains.find((c) => c.name === serviceChainName(web)), 'no chain of its own');
});

test('a port with session affinity: a chain of its own, a client set per endpoint, DNAT recording the client', (t) => {
  const out = renderServices(services([sticky]));
  const chain = out.chains.find((c) => c.name === serviceChainName(sticky));
  t.truthy(chain);
  t.true(chain!.rules.some((r) => /^ip saddr @aff-\w+ update @aff-\w+ \{ ip saddr \} meta l4proto tcp dnat ip to 10\.244\.1\.2:8080$/.test(r.rule)), JSON.stringify(chain!.rules));
  t.true(out.sets.some((s) => s.name.startsWith('aff-') && s.flags?.includes('dynamic') && s.timeout === 30));
});

test('an unchanged port renders to the same element objects; one endpoint leaving is element operations only', (t) => {
  const first = renderNodeTable(node([web, dns]));
  const webOnly = (d: typeof first) => d.sets.find((s) => s.name === 'endpoints-v4-tcp')!.elements;
  const dnsOnly = (d: typeof first) => d.sets.find((s) => s.name === 'endpoints-v4-udp')!.elements;
  const again = renderNodeTable(node([web, dns]));
  t.is(webOnly(again)[0], webOnly(first)[0], 'the same object: the diff does not compare it');

  const fewer = portState('web', { endpoints: eps(['10.244.2.2', 8080]) });
  const changed = renderNodeTable(node([fewer, dns]));
  t.is(dnsOnly(changed)[0], dnsOnly(first)[0], 'the other port is untouched');
  const tx = diffTable(TABLE, changed, committedListing(TABLE, first));
  const lines = tx.render().trim().split('\n');
  t.true(lines.every((l) => / element /.test(l) || new RegExp(`chain inet weft ${pickChainName(4, 'tcp', 1)}|rule inet weft ${pickChainName(4, 'tcp', 1)}|${pickChainName(4, 'tcp', 2)}`).test(l)), lines.join('\n'));
  t.true(lines.some((l) => l.includes(`goto ${pickChainName(4, 'tcp', 1)}`)), 'the frontend now picks one of one');
  t.is(diffTable(TABLE, changed, committedListing(TABLE, changed)).size, 0);
});

test('diffing by element groups against the committed table leaves the kernel exactly as desired, through shared keys and moved frontends', async (t) => {
  const local = (ip: string, port: number) => ({ ip, port, local: true });
  const api = portState('api', { clusterIp: '10.96.0.20', endpoints: [local('10.244.1.5', 8080), local('10.244.1.6', 8080)] });
  // A second port of the same service: the same cluster IP, and the same local endpoint (hairpin pair).
  const apiAdmin = portState('api', { key: 'x/api:admin:tcp:v4', portName: 'admin', clusterIp: '10.96.0.20', port: 9090, endpoints: [local('10.244.1.5', 9090)] });
  const dnsMoved = portState('dns2', { clusterIp: '10.96.0.53', port: 53, protocol: 'udp', endpoints: eps(['10.244.2.9', 53]) });
  const fewer = portState('web', { endpoints: eps(['10.244.2.2', 8080]) });
  const steps: ServicePortState[][] = [
    [web, dns, api, apiAdmin],
    // The first port of api goes: its cluster IP and hairpin pair stay, the admin port has them too.
    [web, dns, apiAdmin],
    // dns's frontend now belongs to another service; web loses an endpoint.
    [fewer, dnsMoved, apiAdmin],
    [fewer, dnsMoved, sticky],
    [],
  ];
  const fake = new FakeNft();
  let previous = renderNodeTable(node(steps[0]));
  await fake.run(diffTable(TABLE, previous, undefined));
  for (const ports of steps.slice(1)) {
    const next = renderNodeTable(node(ports));
    await fake.run(diffTable(TABLE, next, committedListing(TABLE, previous), previous));
    const kernel = await fake.listObjects(TABLE);
    t.is(diffTable(TABLE, next, kernel).size, 0, `after ${ports.map((p) => p.key).join(', ')}: ${diffTable(TABLE, next, kernel).render()}`);
    previous = next;
  }
  const clusterIps = (await fake.listObjects(TABLE))?.sets.find((s) => s.name === 'cluster-ips-v4');
  t.deepEqual(clusterIps?.elements, [], 'nothing left once every service is gone');
});

test('a shared key is in one group only: ports of one service add their cluster IP once', (t) => {
  const second = portState('web', { key: 'x/web:alt:tcp:v4', portName: 'alt', port: 8443, endpoints: eps(['10.244.1.2', 8443]) });
  const set = renderServices(services([web, second])).sets.find((s) => s.name === 'cluster-ips-v4')!;
  t.deepEqual(set.elements.map((e) => e.key), [['10.96.0.10']]);
  t.is(set.groups?.length, 1);
});
