import test from 'ava';
import { type Address, formatAddress, parseAddress } from '../../ipam/address';
import { canonicalRange, rangeToString, reservedReason } from '../../ipam/range';
import { type RangeSet, candidates, rangeSetToString, validateRangeSet } from '../../ipam/rangeset';

const ip = (text: string): Address => parseAddress(text)!;

/** The first `limit` candidates as text. */
function walk(set: RangeSet, lastReserved?: string, limit = 1000): string[] {
  const out: string[] = [];
  for (const c of candidates(set, lastReserved ? ip(lastReserved) : undefined)) {
    out.push(formatAddress(c.address));
    if (out.length >= limit) break;
  }
  return out;
}

test('defaults: gateway .1, range from .1 to the last address before the IPv4 broadcast', (t) => {
  const r = canonicalRange({ subnet: '10.0.0.0/24' });
  t.is(rangeToString(r), '10.0.0.1-10.0.0.254');
  t.is(formatAddress(r.gateway), '10.0.0.1');
  const v6 = canonicalRange({ subnet: 'fd00::/120' });
  t.is(rangeToString(v6), 'fd00::1-fd00::ff', 'IPv6 has no broadcast address');
});

test('range errors use host-local\'s wording', (t) => {
  const message = (spec: object) => t.throws(() => canonicalRange(spec))?.message;
  t.is(message({ subnet: '10.0.0.0/31' }), 'Network 10.0.0.0/31 too small to allocate from');
  t.is(message({ subnet: 'fd00::/127' }), 'Network fd00::/127 too small to allocate from');
  t.is(message({ subnet: '10.0.0.5/24' }), 'Network has host bits set. For a subnet mask of length 24 the network address is 10.0.0.0');
  t.is(message({ subnet: '10.0.0.0/24', rangeStart: '10.0.1.5' }), 'RangeStart 10.0.1.5 not in network 10.0.0.0/24');
  t.is(message({ subnet: '10.0.0.0/24', rangeEnd: 'fd00::5' }), 'RangeEnd fd00::5 not in network 10.0.0.0/24');
  t.is(message({ subnet: '10.0.0.0/24', rangeStart: '10.0.0.50', rangeEnd: '10.0.0.40' }), 'RangeStart 10.0.0.50 is after RangeEnd 10.0.0.40');
  t.is(message({ subnet: '10.0.0.0/24', gateway: 'fd00::1' }), 'gateway fd00::1 is not in the address family of 10.0.0.0/24');
  t.is(message({}), 'missing subnet');
  t.is(message({ subnet: '10.0.0.0' }), 'invalid CIDR address: 10.0.0.0');
  t.is(message({ subnet: '10.0.0.0/24', gateway: 'x' }), 'invalid gateway "x": not an IP address');
});

test('range sets: one family, no overlap', (t) => {
  const a = canonicalRange({ subnet: '10.0.0.0/24' });
  const b = canonicalRange({ subnet: '10.0.0.0/24', rangeStart: '10.0.0.200' });
  const v6 = canonicalRange({ subnet: 'fd00::/64' });
  t.is(t.throws(() => validateRangeSet([a, v6]))?.message, 'mixed address families');
  t.is(t.throws(() => validateRangeSet([a, b]))?.message, 'subnets 10.0.0.1-10.0.0.254 and 10.0.0.200-10.0.0.254 overlap');
  t.is(t.throws(() => validateRangeSet([]))?.message, 'empty range set');
  t.notThrows(() => validateRangeSet([a, canonicalRange({ subnet: '10.0.1.0/24' })]));
  t.is(rangeSetToString([a, canonicalRange({ subnet: '10.0.1.0/30' })]), '10.0.0.1-10.0.0.254,10.0.1.1-10.0.1.2');
});

test('IPv4 walk from the start skips the gateway', (t) => {
  const set = [canonicalRange({ subnet: '10.0.0.0/29' })];
  t.deepEqual(walk(set), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
});

test('gateway, network and broadcast are never candidates, even inside an explicit range', (t) => {
  const r = canonicalRange({ subnet: '10.0.0.0/29', rangeStart: '10.0.0.0', rangeEnd: '10.0.0.7', gateway: '10.0.0.6' });
  t.deepEqual(walk([r]), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
  t.is(reservedReason(r, ip('10.0.0.0')), "subnet's network address");
  t.is(reservedReason(r, ip('10.0.0.7')), "subnet's broadcast address");
  t.is(reservedReason(r, ip('10.0.0.6')), "subnet's gateway");
  t.is(reservedReason(r, ip('10.0.0.5')), undefined);
  const v6 = canonicalRange({ subnet: 'fd00::/126', rangeStart: 'fd00::' });
  t.deepEqual(walk([v6]), ['fd00::2', 'fd00::3'], 'the IPv6 network (subnet-router anycast) address is skipped, the last one is not');
});

test('round-robin: starts after the last reserved address and ends with it', (t) => {
  const set = [canonicalRange({ subnet: '10.0.0.0/29' })];
  t.deepEqual(walk(set, '10.0.0.4'), ['10.0.0.5', '10.0.0.6', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
  t.deepEqual(walk(set, '10.0.0.6'), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
});

test('round-robin crosses from one range of the set to the next and wraps around', (t) => {
  const set = [canonicalRange({ subnet: '10.0.0.0/30' }), canonicalRange({ subnet: '10.0.1.0/30' })];
  t.deepEqual(walk(set), ['10.0.0.2', '10.0.1.2']);
  t.deepEqual(walk(set, '10.0.0.2'), ['10.0.1.2', '10.0.0.2']);
  const wide = [canonicalRange({ subnet: '10.0.0.0/29', rangeStart: '10.0.0.4' }), canonicalRange({ subnet: '10.0.1.0/29', rangeEnd: '10.0.1.3' })];
  t.deepEqual(walk(wide, '10.0.1.2'), ['10.0.1.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.1.2']);
});

test('a last reserved address outside the set (config changed) restarts from the first range', (t) => {
  const set = [canonicalRange({ subnet: '10.0.0.0/29' })];
  t.deepEqual(walk(set, '10.9.9.9', 2), ['10.0.0.2', '10.0.0.3']);
  t.deepEqual(walk(set, 'fd00::5', 2), ['10.0.0.2', '10.0.0.3']);
});

test('IPv6: a /64 is walked lazily, round-robin works the same', (t) => {
  const set = [canonicalRange({ subnet: 'fd00:10:244:1::/64' })];
  t.deepEqual(walk(set, undefined, 3), ['fd00:10:244:1::2', 'fd00:10:244:1::3', 'fd00:10:244:1::4']);
  t.deepEqual(walk(set, 'fd00:10:244:1::ffff', 2), ['fd00:10:244:1::1:0', 'fd00:10:244:1::1:1']);
  t.deepEqual(walk(set, 'fd00:10:244:1:ffff:ffff:ffff:fffe', 3), ['fd00:10:244:1:ffff:ffff:ffff:ffff', 'fd00:10:244:1::2', 'fd00:10:244:1::3']);
});
