/** Address arithmetic of peer classes: parsing, canonical text, CIDR blocks, ranges to fewest CIDRs. */
import test from 'ava';
import net from 'node:net';
import { canonicalIpText, compareIpText, formatIp, isCanonicalIpv6, parseCidrBlock, parseIp, rangeToCidrs, subtractRanges, type Family } from '../../policy/address';

test('addresses: both families, canonical text as the kernel lists it, junk refused', (t) => {
  t.deepEqual(parseIp('10.1.2.3'), { family: 4, value: 0x0a010203n });
  t.deepEqual(parseIp('255.255.255.255'), { family: 4, value: 0xffffffffn });
  t.deepEqual(parseIp('::1'), { family: 6, value: 1n });
  t.is(canonicalIpText('FD00:0:0::0A'), 'fd00::a');
  t.is(canonicalIpText('fd00::0'), 'fd00::');
  t.is(canonicalIpText('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  t.is(canonicalIpText('0.0.0.0'), '0.0.0.0');
  for (const junk of ['010.0.0.1', '1.2.3', '1.2.3.256', '', 'fe80::1%eth0', '10.0.0.1/32', 'x']) t.is(parseIp(junk), undefined, junk);
  // Without a colon, parseIp answers alone (node:net is not asked): it must agree with node:net.
  for (const text of ['1.2.3.4', '01.2.3.4', '1.2.3.04', '0.0.0.0', '255.255.255.255', '256.0.0.1', '1.2.3', '1..2.3', '1.2.3.4 ', '10.0.0.1\n', 'ns/pod', '1.2.3.4.5']) {
    t.is(parseIp(text)?.family, net.isIP(text) === 4 ? 4 : undefined, JSON.stringify(text));
  }
  t.deepEqual(['fd00::1', '10.0.0.10', '10.0.0.9', '::'].sort(compareIpText), ['10.0.0.9', '10.0.0.10', '::', 'fd00::1'], 'IPv4 first, then by value');
});

test('canonical IPv6 text is told without a parse, and only canonical text is', (t) => {
  // Values with runs of zero groups of every length and place, as printed and as people write them.
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const variants = (groups: string[]): string[] => [
    groups.join(':'),
    groups.map((g) => g.toUpperCase()).join(':'),
    groups.map((g) => g.padStart(4, '0')).join(':'),
    ...[1, 2, 3, 4, 5, 6].map((at) => `${groups.slice(0, at).join(':')}::${groups.slice(at + 2).join(':')}`),
  ];
  let canonical = 0;
  for (let i = 0; i < 3000; i++) {
    const groups = Array.from({ length: 8 }, () => (next() % 3 === 0 ? 0 : next() % 4 === 0 ? next() % 16 : next() % 65536).toString(16));
    const value = BigInt(`0x${groups.map((g) => g.padStart(4, '0')).join('')}`);
    const printed = formatIp(6, value);
    t.true(isCanonicalIpv6(printed), printed);
    for (const text of [printed, ...variants(groups)]) {
      const parsed = parseIp(text);
      const slow = parsed ? formatIp(parsed.family, parsed.value) : undefined;
      if (isCanonicalIpv6(text)) {
        canonical++;
        t.is(slow, text, `${text} said canonical`);
      }
      t.is(canonicalIpText(text), slow, text);
    }
  }
  t.true(canonical > 3000, 'some written forms are canonical too');
  for (const text of ['::', '::1', '1::', 'fd00::a', '1:0:0:2::', '1::2:0:0:3']) t.true(isCanonicalIpv6(text), text);
  for (const text of ['::0', '0::1', '1:0::2', '1::0:2', '1:0:0:1:0:0:0:1', '1::2::3', 'fd00::A', 'fd00::0a', '::ffff:1.2.3.4', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7::8']) t.false(isCanonicalIpv6(text), text);
});

test('CIDR blocks: host bits dropped, ranges, both families', (t) => {
  t.deepEqual(parseCidrBlock('10.1.2.3/16'), { family: 4, prefix: 16, first: 0x0a010000n, last: 0x0a01ffffn });
  t.deepEqual(parseCidrBlock('0.0.0.0/0'), { family: 4, prefix: 0, first: 0n, last: 0xffffffffn });
  t.deepEqual(parseCidrBlock('fd00::1/127'), { family: 6, prefix: 127, first: 0xfd00n << 112n, last: (0xfd00n << 112n) + 1n });
  for (const junk of ['10.0.0.0/33', '10.0.0.0', '10.0.0.0/', '10.0.0.0/-1', 'fd00::/129', 'x/8']) t.is(parseCidrBlock(junk), undefined, junk);
});

test('subtractRanges: holes anywhere, overlapping, at the edges, covering everything', (t) => {
  const r = (first: number, last: number) => ({ first: BigInt(first), last: BigInt(last) });
  t.deepEqual(subtractRanges(r(0, 99), []), [r(0, 99)]);
  t.deepEqual(subtractRanges(r(0, 99), [r(10, 19), r(15, 29), r(50, 50)]), [r(0, 9), r(30, 49), r(51, 99)]);
  t.deepEqual(subtractRanges(r(0, 99), [r(0, 9), r(90, 99)]), [r(10, 89)]);
  t.deepEqual(subtractRanges(r(0, 99), [r(0, 99)]), []);
  t.deepEqual(subtractRanges(r(0, 99), [r(40, 49), r(0, 9)]), [r(10, 39), r(50, 99)], 'holes in any order');
});

/** The fewest aligned blocks covering exactly [first, last], by exhaustive search (small spaces only). */
function fewestBlocks(first: number, last: number, bits: number): number {
  const memo = new Map<number, number>();
  const from = (a: number): number => {
    if (a > last) return 0;
    let best = memo.get(a);
    if (best !== undefined) return best;
    best = Infinity;
    for (let size = 0; size <= bits; size++) {
      const n = 2 ** size;
      if (a % n !== 0 || a + n - 1 > last) continue;
      best = Math.min(best, 1 + from(a + n));
    }
    memo.set(a, best);
    return best;
  };
  return from(first);
}

function covered(cidrs: string[]): { family: Family; first: bigint; last: bigint }[] {
  return cidrs.map((c) => parseCidrBlock(c)!);
}

test('rangeToCidrs: exactly the range, aligned, in order, and as few as possible (every range of a small space)', (t) => {
  // Every range inside 10.0.0.0/26 and inside fd00::/122: coverage is exact and the count is the optimum.
  for (const family of [4, 6] as const) {
    const base = family === 4 ? 0x0a000000n : 0xfd00n << 112n;
    let checked = 0;
    for (let first = 0; first < 64; first++) {
      for (let last = first; last < 64; last++) {
        const cidrs = rangeToCidrs({ family, first: base + BigInt(first), last: base + BigInt(last) });
        const blocks = covered(cidrs);
        let next = base + BigInt(first);
        for (const b of blocks) {
          if (b.first !== next) return t.fail(`${cidrs.join(' ')} does not continue at ${next}`);
          next = b.last + 1n;
        }
        if (next !== base + BigInt(last) + 1n) return t.fail(`${cidrs.join(' ')} does not end at ${last}`);
        if (cidrs.length !== fewestBlocks(first, last, 6)) return t.fail(`${first}-${last}: ${cidrs.length} CIDRs, ${fewestBlocks(first, last, 6)} would do`);
        checked++;
      }
    }
    t.is(checked, 2080);
  }
});

test('rangeToCidrs: whole spaces and the extremes', (t) => {
  t.deepEqual(rangeToCidrs({ family: 4, first: 0n, last: 0xffffffffn }), ['0.0.0.0/0']);
  t.deepEqual(rangeToCidrs({ family: 4, first: 0xffffffffn, last: 0xffffffffn }), ['255.255.255.255/32']);
  t.deepEqual(rangeToCidrs({ family: 4, first: 0x80000000n, last: 0xffffffffn }), ['128.0.0.0/1']);
  t.is(rangeToCidrs({ family: 4, first: 1n, last: 0xfffffffen }).length, 62);
  t.deepEqual(rangeToCidrs({ family: 6, first: 0n, last: (1n << 128n) - 1n }), ['::/0']);
  t.is(rangeToCidrs({ family: 6, first: 1n, last: (1n << 128n) - 2n }).length, 254);
  t.deepEqual(rangeToCidrs({ family: 6, first: (1n << 128n) - 1n, last: (1n << 128n) - 1n }), ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128']);
  t.deepEqual(rangeToCidrs({ family: 4, first: 0x0a000001n, last: 0x0a00000an }), ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/30', '10.0.0.8/31', '10.0.0.10/32']);
});
