/**
 * weft-macvlan DEL and CHECK: DEL succeeds whatever is left (and always returns the addresses),
 * CHECK passes on a fresh attachment and names the first thing that drifted (code 100).
 */
import test from 'ava';
import { withNetlink } from '../../kernel/netlink';
import { deleteNamedNetns } from '../../kernel/netns';
import { tempNetns } from '../helpers/netns';
import { allocated, config, node, pod, request, V4, withPrev } from './macvlan-fixture';

test('DEL of an attachment never added succeeds', async (t) => {
  const n = await node(t);
  await t.notThrowsAsync(n.plugin.del(request(config(n), tempNetns(t, 'never'), 'ctr-never')));
  await t.notThrowsAsync(n.plugin.del(request(config(n), '/var/run/netns/weft-t-gone', 'ctr-gone')));
  await t.notThrowsAsync(n.plugin.del(request(config(n), '', 'ctr-empty')));
});

test('DEL removes the device and the allocation, and succeeds again', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n), 'a');
  t.deepEqual(allocated(n), ['10.96.50.2', 'fd96:50::2']);
  await n.plugin.del(withPrev(a.req, a.result));
  await withNetlink(a.netns, async (nl) => t.is(await nl.links.find('eth0'), undefined));
  t.deepEqual(allocated(n), []);
  await t.notThrowsAsync(n.plugin.del(withPrev(a.req, a.result)));
});

test('DEL releases the allocation when the namespace is gone or not given', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n), 'a');
  const b = await pod(t, n, config(n), 'b');
  deleteNamedNetns(a.netns);
  await n.plugin.del(withPrev(a.req, a.result));
  await n.plugin.del({ ...b.req, netns: '' });
  t.deepEqual(allocated(n), []);
});

test('DEL leaves a device of another kind under the name alone, but releases the allocation', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n), 'a');
  await withNetlink(a.netns, async (nl) => {
    await nl.links.delete('eth0');
    await nl.links.createVeth({ name: 'eth0', peer: { name: 'x0' } });
  });
  await n.plugin.del(withPrev(a.req, a.result));
  await withNetlink(a.netns, async (nl) => t.is((await nl.links.get('eth0')).kind, 'veth'));
  t.deepEqual(allocated(n), []);
});

test('CHECK needs prevResult', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n), 'a');
  t.like(await t.throwsAsync(n.plugin.check(a.req)), { code: 7, message: 'CHECK needs prevResult, the result of the ADD' });
});

test('CHECK passes on a fresh attachment and names each kind of drift with code 100', async (t) => {
  const n = await node(t);
  const a = await pod(t, n, config(n, {}, [V4], { routes: [{ dst: '198.51.100.0/24' }] }), 'a');
  const check = (conf = a.req.config, result = a.result) => n.plugin.check(withPrev({ ...a.req, config: conf }, result));
  await t.notThrowsAsync(check());

  // The configuration asks for something the device is not.
  t.like(await t.throwsAsync(check({ ...a.req.config, mode: 'private' })), { code: 100, message: 'interface eth0 is in macvlan mode bridge, the config says private' });
  await withNetlink(n.netns, (nl) => nl.links.createVeth({ name: 'up1', up: true, peer: { name: 'up1-peer' } }));
  t.like(await t.throwsAsync(check({ ...a.req.config, master: 'up1' })), { code: 100, message: 'interface eth0 is not on master up1' });
  t.like(await t.throwsAsync(check({ ...a.req.config, master: 'nope0' })), { code: 100, message: `master interface nope0 not found in ${n.netns}` });
  const [iface] = a.result.interfaces ?? [];
  t.like(await t.throwsAsync(check(a.req.config, { ...a.result, interfaces: [{ ...iface, mac: '02:00:00:00:00:01' }] })), {
    code: 100,
    message: `interface eth0 has MAC ${iface.mac}, prevResult says 02:00:00:00:00:01`,
  });
  t.like(await t.throwsAsync(check(a.req.config, { ...a.result, interfaces: [{ ...iface, sandbox: '/elsewhere' }] })), {
    code: 100,
    message: `prevResult lists no interface eth0 in ${a.netns}`,
  });

  // The kernel lost something the ADD made.
  await withNetlink(a.netns, (nl) => nl.routes.delete({ dst: '198.51.100.0/24', gateway: '10.96.50.1' }));
  t.like(await t.throwsAsync(check()), { code: 100, message: 'interface eth0 lacks route 198.51.100.0/24 via 10.96.50.1' });
  await withNetlink(a.netns, (nl) => nl.addresses.delete('eth0', '10.96.50.2/24'));
  t.like(await t.throwsAsync(check()), { code: 100, message: 'interface eth0 lacks address 10.96.50.2/24' });
  await withNetlink(a.netns, async (nl) => {
    await nl.links.delete('eth0');
    await nl.links.createVeth({ name: 'eth0', peer: { name: 'x0' } });
  });
  t.like(await t.throwsAsync(check()), { code: 100, message: 'interface eth0 is a veth, not a macvlan' });
  await withNetlink(a.netns, (nl) => nl.links.delete('eth0'));
  t.like(await t.throwsAsync(check()), { code: 100, message: `interface eth0 not found in ${a.netns}` });
});
