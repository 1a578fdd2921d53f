import test from 'ava';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRtNetlink } from 'netlink';
import { deleteNamedNetns, inNetns, listNamedNetns, netnsExists, netnsId, NetnsError } from '../../kernel/netns';
import { tempNetns } from '../helpers/netns';

const currentNetnsId = () => fs.statSync('/proc/thread-self/ns/net', { bigint: true }).ino;

test('inNetns runs code inside the namespace and comes back', (t) => {
  const ns = tempNetns(t);
  const before = currentNetnsId();
  const inside = inNetns(ns, () => currentNetnsId());
  t.is(inside, netnsId(ns));
  t.not(inside, before);
  t.is(currentNetnsId(), before);
});

test('inNetns restores the original namespace when the code throws', (t) => {
  const ns = tempNetns(t);
  const before = currentNetnsId();
  t.throws(() => inNetns(ns, () => { throw new Error('inside'); }), { message: 'inside' });
  t.is(currentNetnsId(), before);
});

test('inNetns refuses async code instead of running it in the wrong namespace', (t) => {
  const ns = tempNetns(t);
  const before = currentNetnsId();
  t.throws(() => inNetns(ns, async () => 1), { instanceOf: TypeError });
  t.is(currentNetnsId(), before);
});

test('a netlink socket opened inside stays bound to the namespace', async (t) => {
  const ns = tempNetns(t);
  const sock = inNetns(ns, () => createRtNetlink());
  try {
    const links = await sock.getLinks();
    // A fresh namespace has only its loopback.
    t.deepEqual(links.map((l) => l.attrs.ifname), ['lo']);
  } finally {
    sock.socket.close();
  }
});

test('a process spawned inside runs in the namespace', (t) => {
  const ns = tempNetns(t);
  const out = inNetns(ns, () => spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }));
  t.is(out.stdout.trim(), `net:[${netnsId(ns)}]`);
});

test('a missing path and a file that is no namespace give typed errors', (t) => {
  const missing = t.throws(() => inNetns('/var/run/netns/weft-t-does-not-exist', () => 1), { instanceOf: NetnsError });
  t.is(missing?.code, 'ENOENT');
  const wrong = t.throws(() => inNetns('/etc/hostname', () => 1), { instanceOf: NetnsError });
  t.is(wrong?.code, 'EINVAL');
  t.false(netnsExists('/var/run/netns/weft-t-does-not-exist'));
});

test('named namespaces are created and removed', (t) => {
  const ns = tempNetns(t, 'life');
  const name = ns.split('/').pop() as string;
  t.true(listNamedNetns().includes(name));
  t.true(netnsExists(ns));
  deleteNamedNetns(ns);
  t.false(fs.existsSync(ns));
  t.false(listNamedNetns().includes(name));
  t.notThrows(() => deleteNamedNetns(ns), 'deleting twice is fine');
});
