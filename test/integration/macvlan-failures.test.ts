/**
 * weft-macvlan failed ADDs: each must leave node, pod and IPAM store exactly as it found them
 * (stricter than the reference, which leaves the macvlan behind when IPAM fails).
 */
import test from 'ava';
import { withNetlink } from '../../kernel/netlink';
import { tempNetns } from '../helpers/netns';
import { allocated, config, failingAdd, node, pod, request, V4 } from './macvlan-fixture';

test('config errors found before anything is made: bad mode, missing master, mtu above the master', async (t) => {
  const n = await node(t);
  const podNs = tempNetns(t, 'p');
  const add = (extra: Record<string, unknown>, expected: RegExp) => failingAdd(t, n, request(config(n, extra), podNs, 'ctr-f'), expected);
  t.is((await add({ mode: 'loud' }, /unknown macvlan mode "loud"/)).code, 7);
  t.is((await add({ master: 'nope0' }, /master interface nope0 not found in \/.*node/)).code, 7);
  t.is((await add({ mtu: 9000 }, /mtu 9000 is larger than the MTU 1500 of master up0/)).code, 7);
});

test('no master and no default route: a clear error', async (t) => {
  const n = await node(t);
  await withNetlink(n.netns, (nl) => nl.routes.delete({ dst: 'default', gateway: '192.0.2.1' }));
  const err = await failingAdd(t, n, request(config(n, { master: undefined }), tempNetns(t, 'p'), 'ctr-f'), /no master given and no default route in .*node/);
  t.is(err.code, 7);
});

test('IPAM exhaustion after the device exists: device removed, nothing allocated', async (t) => {
  const n = await node(t);
  // A /30 has one usable address besides the gateway; the first pod takes it.
  const tiny = [[{ subnet: '10.96.51.0/30' }]];
  await pod(t, n, config(n, {}, tiny), 'first');
  t.deepEqual(allocated(n), ['10.96.51.2']);
  await failingAdd(t, n, request(config(n, {}, tiny), tempNetns(t, 'p'), 'ctr-f'), /no IP addresses available/);
});

test('a failure after addresses were put on the device: addresses, device and allocation all go', async (t) => {
  const n = await node(t);
  // The kernel refuses a route through a gateway that is not on any of the pod's subnets.
  const unreachable = { routes: [{ dst: '198.51.100.0/24', gw: '203.0.113.1' }] };
  await failingAdd(t, n, request(config(n, {}, [V4], unreachable), tempNetns(t, 'p'), 'ctr-f'), /198\.51\.100\.0\/24/);
});

test('a name clash in the pod: the existing device is left as it was', async (t) => {
  const n = await node(t);
  const podNs = tempNetns(t, 'p');
  await withNetlink(podNs, (nl) => nl.links.createVeth({ name: 'eth0', peer: { name: 'x0' } }));
  const err = await failingAdd(t, n, request(config(n), podNs, 'ctr-f'), /container interface eth0 already exists/);
  t.is(err.code, 4);
});

test('passthru allows one device per master: the second ADD fails cleanly', async (t) => {
  const n = await node(t);
  await pod(t, n, config(n, { mode: 'passthru' }), 'a');
  t.deepEqual(allocated(n), ['10.96.50.2', 'fd96:50::2']);
  await failingAdd(t, n, request(config(n, { mode: 'passthru' }), tempNetns(t, 'b'), 'ctr-b'), /macvlan/);
});

test('a pod namespace that does not exist: nothing made, code 4', async (t) => {
  const n = await node(t);
  const err = await t.throwsAsync(n.plugin.add(request(config(n), '/var/run/netns/weft-t-does-not-exist', 'ctr-f')));
  t.like(err, { code: 4, message: 'network namespace /var/run/netns/weft-t-does-not-exist does not exist' });
  t.deepEqual(allocated(n), []);
});
