/**
 * class-elements.ts: the (local, port, peer) elements of class allowances in the orientation
 * that takes fewer elements. What must hold: for every local address of the domain, every port
 * and every peer, the elements of either orientation match exactly when the peer is in the
 * class and the local address is among those allowed on that port; addresses outside the
 * domain are free. Checked on hand-made cases and on random domains, classes and allowances.
 */
import test from 'ava';
import { classPeers, CrossedElements, EXPANDED_NET_MAX, type Crossed } from '../../agent/backend/iptables/class-elements';
import { addr, inNet } from '../helpers/address-match';

/** Whether the elements match (local, port, peer), as the two rules look them up (indexed: the random test asks often). */
function matches(out: Crossed, local: string, port: string, peer: string): boolean {
  let index = indexes.get(out);
  if (!index || index.size !== out.byLocal.length + out.byPeer.length) {
    const byLocal = new Map<string, string[]>();
    const byPeer = new Map<string, string[]>();
    const put = (m: Map<string, string[]>, k: string, n: string) => m.set(k, [...(m.get(k) ?? []), n]);
    for (const e of out.byLocal) {
      const [l, p, n] = e.split(',');
      put(byLocal, `${valueOf(l)} ${p}`, n);
    }
    for (const e of out.byPeer) {
      const [a, p, n] = e.split(',');
      put(byPeer, `${valueOf(a)} ${p}`, n);
    }
    index = { size: out.byLocal.length + out.byPeer.length, byLocal, byPeer };
    indexes.set(out, index);
  }
  return (index.byLocal.get(`${valueOf(local)} ${port}`) ?? []).some((n) => inNetKept(peer, n)) || (index.byPeer.get(`${valueOf(peer)} ${port}`) ?? []).some((n) => inNetKept(local, n));
}

/** inNet, kept: the random test asks about the same few addresses and networks many times. */
const inNetMemo = new Map<string, boolean>();
function inNetKept(address: string, net: string): boolean {
  const key = `${address} ${net}`;
  let out = inNetMemo.get(key);
  if (out === undefined) {
    out = inNet(address, net);
    inNetMemo.set(key, out);
  }
  return out;
}
const values = new Map<string, bigint>();
const valueOf = (a: string): bigint => {
  let v = values.get(a);
  if (v === undefined) {
    v = addr(a).value;
    values.set(a, v);
  }
  return v;
};

const indexes = new WeakMap<Crossed, { size: number; byLocal: Map<string, string[]>; byPeer: Map<string, string[]> }>();

const fresh = (): Crossed => ({ byLocal: [], byPeer: [] });

test('classPeers: host routes and small CIDRs are expanded to addresses, wide ones are not', (t) => {
  t.deepEqual(classPeers(['10.0.0.1/32', '10.0.0.2/31', 'fd00::/127'], 4), { nets: ['10.0.0.1', '10.0.0.2/31'], addresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] });
  t.deepEqual(classPeers(['10.0.0.1/32', '10.0.0.2/31', 'fd00::/127'], 6), { nets: ['fd00::/127'], addresses: ['fd00::', 'fd00::1'] });
  const wide = classPeers(['10.0.0.1/32', '10.1.0.0/16'], 4);
  t.deepEqual(wide.nets, ['10.0.0.1', '10.1.0.0/16']);
  t.is(wide.addresses, undefined, `a CIDR of more than ${EXPANDED_NET_MAX} addresses keeps the class by local`);
  t.deepEqual(classPeers(['0.0.0.0/0'], 4).nets, ['0.0.0.0/1', '128.0.0.0/1'], '/0 in halves');
});

test('a class every isolated pod may reach on a port: one element per peer address, by peer', (t) => {
  const domain = Array.from({ length: 50 }, (_, i) => `10.244.0.${i + 2}`);
  const peers = classPeers(Array.from({ length: 30 }, (_, i) => `10.244.${1 + (i % 5)}.${10 + i}/32`), 4);
  const out = fresh();
  new CrossedElements(4, domain).add(peers, 'tcp:5432', domain, out);
  t.is(out.byLocal.length, 0);
  t.is(out.byPeer.length, 30, 'one network per peer: the half of the address space that holds the node');
  t.true(out.byPeer.includes('10.244.1.10,tcp:5432,0.0.0.0/1'));
});

test('the local networks leave out exactly the domain addresses not allowed, in the fewest aligned blocks', (t) => {
  const domain = ['10.244.0.2', '10.244.0.3', '10.244.0.4', '10.244.0.9', '10.244.0.200'];
  const crossed = new CrossedElements(4, domain);
  const out = fresh();
  // 10.244.0.4 is isolated and not allowed: no network may hold it; any other address may be held.
  const allowed = ['10.244.0.2', '10.244.0.3', '10.244.0.9', '10.244.0.200'];
  crossed.add(classPeers(['10.1.0.1', '10.1.0.2', '10.1.0.3'], 4), 'tcp:80', allowed, out);
  t.is(out.byLocal.length, 0, '3 peers x 3 networks < 4 locals x 3 peers');
  t.deepEqual([...new Set(out.byPeer.map((e) => e.split(',')[2]))], ['10.244.0.0/30', '10.244.0.8/29', '10.244.0.128/25']);
  for (const local of domain) {
    for (const peer of ['10.1.0.1', '10.1.0.3', '10.1.0.9']) t.is(matches(out, local, 'tcp:80', peer), local !== '10.244.0.4' && peer !== '10.1.0.9', `${local} <- ${peer}`);
  }
  // One peer: 3 networks beat 4 locals, still; the same cover is reused.
  const one = fresh();
  crossed.add(classPeers(['10.1.0.1'], 4), 'tcp:81', allowed, one);
  t.deepEqual(one.byPeer, ['10.1.0.1,tcp:81,10.244.0.0/30', '10.1.0.1,tcp:81,10.244.0.8/29', '10.1.0.1,tcp:81,10.244.0.128/25']);
  // Two locals, 2 networks for one peer: a tie stays by local.
  const tie = fresh();
  crossed.add(classPeers(['10.1.0.1'], 4), 'tcp:82', ['10.244.0.9', '10.244.0.2'], tie);
  t.deepEqual(tie, { byLocal: ['10.244.0.9,tcp:82,10.1.0.1', '10.244.0.2,tcp:82,10.1.0.1'], byPeer: [] });
});

test('wide classes (ipBlocks) and locals outside the domain', (t) => {
  const crossed = new CrossedElements(4, ['10.244.0.2', '10.244.0.3']);
  const out = fresh();
  crossed.add(classPeers(['0.0.0.0/0'], 4), 'udp:53', ['10.244.0.2', '10.244.0.3', '10.244.0.77'], out);
  t.deepEqual(out.byLocal.sort(), ['10.244.0.2,udp:53,0.0.0.0/1', '10.244.0.2,udp:53,128.0.0.0/1', '10.244.0.3,udp:53,0.0.0.0/1', '10.244.0.3,udp:53,128.0.0.0/1'], 'an address outside the domain adds nothing');
  t.deepEqual(out.byPeer, []);
});

/** A tiny deterministic generator, so that a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('random domains, classes and allowances: both orientations decide every (local, port, peer) exactly', (t) => {
  const seen = { byLocal: 0, byPeer: 0 };
  for (let seed = 1; seed <= 120; seed++) {
    const r = rng(seed);
    const v6 = r() < 0.3;
    const f = v6 ? 6 : 4;
    const local = (i: number) => (v6 ? `fd00:10:244::${i.toString(16)}` : `10.244.0.${i}`);
    const peer = (i: number) => (v6 ? `fd00:20::${i.toString(16)}` : `10.20.0.${i}`);
    // Addresses 1..60: some are in the domain (isolated), some are allowed, some are neither.
    const all = Array.from({ length: 60 }, (_, i) => local(i + 1));
    const domain = all.filter(() => r() < 0.6);
    const crossed = new CrossedElements(f, domain);
    const classes = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, c) => {
      const base = c * 40;
      const cidrs = Array.from({ length: 1 + Math.floor(r() * 12) }, (_, k) => (r() < 0.2 ? `${peer(base + k * 2)}/${v6 ? 127 : 31}` : peer(base + k * 2)));
      if (r() < 0.15) cidrs.push(v6 ? `fd00:${30 + c}::/64` : `10.${30 + c}.0.0/16`);
      const allowed = new Map<string, string[]>();
      for (const port of ['tcp:80', 'udp:53']) if (r() < 0.8) allowed.set(port, all.filter(() => r() < (r() < 0.5 ? 0.9 : 0.2)));
      return { cidrs, allowed };
    });
    const out = fresh();
    for (const c of classes) for (const [port, locals] of c.allowed) crossed.add(classPeers(c.cidrs, f), port, locals, out);
    if (out.byLocal.length > 0) seen.byLocal++;
    if (out.byPeer.length > 0) seen.byPeer++;
    const peers = [...classes.flatMap((c) => c.cidrs.map((x) => x.split('/')[0])), peer(39), peer(200), v6 ? 'fd00:30::5' : '10.30.4.5'];
    for (const l of domain) {
      for (const port of ['tcp:80', 'udp:53', 'tcp:81']) {
        for (const p of peers) {
          const cls = classes.find((c) => c.cidrs.some((n) => inNetKept(p, n)));
          const want = cls !== undefined && (cls.allowed.get(port)?.includes(l) ?? false);
          if (matches(out, l, port, p) !== want) {
            t.fail(`seed ${seed}: ${l} ${port} ${p}: elements ${!want}, semantics ${want}`);
            return;
          }
        }
      }
    }
  }
  t.true(seen.byLocal > 10 && seen.byPeer > 10, JSON.stringify(seen));
});
