/**
 * The input side of policy questions (policy/explain/): ports and ends as people type them,
 * and pods the manifests give no address (placeholders that no ipBlock matches).
 */
import test from 'ava';
import { parseIp } from '../../policy/address';
import { PolicyModel } from '../../policy/explain/model';
import { placeholderAddresses } from '../../policy/explain/placeholders';
import { parseEndRef, parsePortSpec, QueryError } from '../../policy/explain/query';
import { trace } from '../../policy/explain/trace';
import { networkPolicy, pod } from '../helpers/policy-objects';

test('ports: N and N/PROTO, TCP by default; anything else is an error that says what is expected', (t) => {
  t.deepEqual(parsePortSpec('80'), { protocol: 'tcp', port: 80 });
  t.deepEqual(parsePortSpec('53/UDP'), { protocol: 'udp', port: 53 });
  t.deepEqual(parsePortSpec('9/sctp'), { protocol: 'sctp', port: 9 });
  for (const bad of ['0', '65536', 'http', '80/icmp', '80/', '-1']) t.throws(() => parsePortSpec(bad), { instanceOf: QueryError }, bad);
  t.throws(() => parsePortSpec('80/icmp'), { message: '--port "80/icmp": protocol icmp is not TCP, UDP or SCTP' });
});

test('ends: NS/POD, pod/NS/POD, svc/NS/NAME (destinations), canonical addresses', (t) => {
  t.deepEqual(parseEndRef('shop/web', '--to', true), { kind: 'pod', namespace: 'shop', name: 'web', explicit: false });
  t.deepEqual(parseEndRef('pod/shop/web', '--to', true), { kind: 'pod', namespace: 'shop', name: 'web', explicit: true });
  t.deepEqual(parseEndRef('svc/shop/web', '--to', true), { kind: 'service', namespace: 'shop', name: 'web' });
  t.deepEqual(parseEndRef('fd00:0::1', '--to', true), { kind: 'address', ip: 'fd00::1' });
  t.throws(() => parseEndRef('svc/shop/web', '--from', false), { message: '--from "svc/shop/web": expected NS/POD or an IP address' });
  t.throws(() => parseEndRef('web', '--to', true), { message: '--to "web": expected NS/POD, svc/NS/SERVICE or an IP address' });
  t.throws(() => parseEndRef('Shop/web', '--to', true), { instanceOf: QueryError });
});

test('placeholders avoid pod addresses and ipBlocks, and fall back to IPv4 when IPv6 is all taken', (t) => {
  const block = (text: string) => {
    const [ip, bits] = text.split('/');
    const a = parseIp(ip)!;
    const size = (a.family === 4 ? 32 : 128) - Number(bits);
    return { family: a.family, first: a.value, last: a.value + (1n << BigInt(size)) - 1n };
  };
  const first = placeholderAddresses(3, [], []);
  t.deepEqual(first, { addresses: ['fd00::', 'fd00::1', 'fd00::2'], clear: true });
  const around = placeholderAddresses(2, [block('fd00::1/128')], [block('fd00::/127')]);
  t.deepEqual(around.addresses, ['fd00::2', 'fd00::3']);
  const v4 = placeholderAddresses(2, [], [block('::/0'), block('240.0.0.0/4')]);
  t.deepEqual(v4, { addresses: ['0.0.0.1', '0.0.0.2'], clear: true }, 'IPv6 covered, and 240/4: the first free IPv4');
  const none = placeholderAddresses(1, [], [block('::/0'), block('0.0.0.0/0')]);
  t.false(none.clear);
  t.is(none.addresses.length, 1);
});

test('a pod without an address is matched by pod selectors, never by an ipBlock, and the trace says so', (t) => {
  const objects = [
    pod('p', 'a', { labels: { app: 'a' } }),
    pod('p', 'b', { labels: { app: 'b' } }),
    networkPolicy('p', 'a-egress', { podSelector: { matchLabels: { app: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }, { to: [{ podSelector: { matchLabels: { app: 'b' } } }], ports: [{ port: 80 }] }] }),
  ];
  const model = PolicyModel.fromObjects(objects, { source: 'test' });
  t.true(model.placeholdersClear);
  const to80 = trace(model, { from: 'p/a', to: 'p/b', port: { protocol: 'tcp', port: 80 } });
  t.is(to80.verdict, 'allowed');
  t.deepEqual(to80.from, { pod: 'p/a' }, 'no address shown: the placeholder is not one');
  t.deepEqual(to80.paths[0].egress.allowedBy.map((m) => m.rule), [2]);
  const to81 = trace(model, { from: 'p/a', to: 'p/b', port: { protocol: 'tcp', port: 81 } });
  t.is(to81.verdict, 'denied', 'ipBlock 0.0.0.0/0 does not match a pod whose address is unknown');
  t.deepEqual(to81.paths[0].egress.notes, ['p/b has no address in the objects: no ipBlock matches it']);
  t.true(trace(model, { from: 'p/a', to: '1.2.3.4', port: { protocol: 'tcp', port: 81 } }).paths[0].allowed, 'a real address outside the cluster is');
});

test('when the ipBlocks cover every address, a verdict on an address-less pod is said to be a guess', (t) => {
  const world = networkPolicy('p', 'world', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: [{ port: 443 }] }] });
  const model = PolicyModel.fromObjects([pod('p', 'a'), pod('p', 'b'), world], { source: 'test' });
  t.false(model.placeholdersClear);
  const r = trace(model, { from: 'p/a', to: 'p/b', port: { protocol: 'tcp', port: 443 } });
  t.regex(r.paths[0].egress.notes[0], /the ipBlock verdict is a guess/);
  // What-if policies given up front are kept clear of too; given later, the model notices.
  const later = PolicyModel.fromObjects([pod('p', 'a'), pod('p', 'b')], { source: 'test' });
  t.true(later.placeholdersClear);
  t.false(later.withPolicies([world]).placeholdersClear);
});
