import test from 'ava';
import { chainFromJson, NftParseError, parseNftJson, setFromJson, tableFromJson } from '../../kernel/nft/parse-json';
import { extractCounter, parseNftText } from '../../kernel/nft/parse-text';

// Captured from nft 1.0.6 (`nft -j list table inet w`, trimmed to the interesting objects).
const JSON_LISTING = JSON.stringify({
  nftables: [
    { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
    { table: { family: 'inet', name: 'w', handle: 1 } },
    {
      set: {
        family: 'inet', name: 's', table: 'w', type: ['ipv4_addr', 'inet_service'], handle: 2, comment: 'sc', flags: ['interval', 'timeout'], timeout: 30,
        elem: [
          { elem: { val: { concat: [{ prefix: { addr: '10.0.0.0', len: 8 } }, 80] }, timeout: 10, expires: 9, comment: 'e' } },
          { elem: { val: { concat: [{ range: ['11.1.0.1', '11.1.0.9'] }, { range: [80, 90] }] }, expires: 29 } },
        ],
      },
    },
    { set: { family: 'inet', name: 's2', table: 'w', type: 'ipv4_addr', handle: 3, flags: ['interval'], elem: [{ prefix: { addr: '10.0.0.0', len: 8 } }, { range: ['172.16.0.1', '172.16.0.7'] }, '192.168.1.1'] } },
    { set: { family: 'inet', name: 's4', table: 'w', type: 'ipv4_addr', handle: 5, elem: [{ elem: { val: '1.2.3.4', counter: { packets: 3, bytes: 180 } } }], stmt: [{ counter: null }] } },
    {
      map: {
        family: 'inet', name: 'm', table: 'w', type: 'ipv4_addr', handle: 6, map: 'verdict',
        elem: [
          [{ elem: { val: '10.0.0.1', comment: 'me' } }, { jump: { target: 'c2' } }],
          ['10.0.0.2', { drop: null }],
          ['10.0.0.3', { goto: { target: 'c2' } }],
        ],
      },
    },
    { map: { family: 'inet', name: 'm2', table: 'w', type: ['ipv4_addr', 'inet_service'], handle: 7, map: 'ipv4_addr . inet_service', elem: [[{ concat: ['10.0.0.1', 80] }, { concat: ['10.0.0.2', 8080] }]] } },
    { chain: { family: 'inet', table: 'w', name: 'c2', handle: 1 } },
    { chain: { family: 'inet', table: 'w', name: 'c1', handle: 3, type: 'filter', hook: 'input', prio: -10, policy: 'accept' } },
    { rule: { family: 'inet', table: 'w', chain: 'c2', handle: 8, comment: 'r', expr: [{ counter: { packets: 5, bytes: 7 } }] } },
  ],
});

const TEXT_LISTING = `table inet w { # handle 1
	comment "tc"
	set s { # handle 2
		type ipv4_addr . inet_service
		flags interval,timeout
		timeout 30s
		comment "sc"
		elements = { 10.0.0.0/8 . 80 timeout 10s expires 9s792ms comment "e",
			     11.1.0.1-11.1.0.9 . 80-90 expires 29s792ms }
	}

	map m { # handle 6
		type ipv4_addr : verdict
		elements = { 10.0.0.1 comment "me" : jump c2, 10.0.0.2 : drop,
			     10.0.0.3 : goto c2 }
	}

	chain c2 { # handle 1
		comment "chain # { comment"
		counter packets 5 bytes 7 comment "r" # handle 8
		ip daddr { 1.1.1.1, 2.2.2.2 } tcp dport != 22 counter packets 0 bytes 0 accept # handle 10
		iifname "x#y" ip saddr 10.0.0.1 drop comment "a # handle 3" # handle 11
	}

	chain c1 { # handle 3
		type filter hook input priority filter - 10; policy accept;
	}
}
`;

test('JSON listing: objects by kind, schema checked', (t) => {
  const objects = parseNftJson(JSON_LISTING);
  t.deepEqual(
    objects.map((o) => o.kind),
    ['table', 'set', 'set', 'set', 'map', 'map', 'chain', 'chain', 'rule'],
  );
  t.throws(() => parseNftJson('not json'), { instanceOf: NftParseError });
  t.throws(() => parseNftJson('{"x": []}'), { instanceOf: NftParseError });
  t.throws(() => parseNftJson('{"nftables": [{"metainfo": {"json_schema_version": 2}}]}'), { instanceOf: NftParseError, message: /version 2/ });
  t.deepEqual(parseNftJson('{"nftables": [{"metainfo": {"json_schema_version": 1}}]}'), []);
});

test('JSON listing: table and chains', (t) => {
  const objects = parseNftJson(JSON_LISTING);
  t.deepEqual(tableFromJson(objects[0].body), { family: 'inet', name: 'w', handle: 1 });
  const chains = objects.filter((o) => o.kind === 'chain').map((o) => chainFromJson(o.body));
  t.deepEqual(chains, [
    { name: 'c2', handle: 1 },
    { name: 'c1', handle: 3, type: 'filter', hook: 'input', priority: -10, policy: 'accept' },
  ]);
});

test('JSON listing: sets with concatenations, prefixes, ranges, timeouts, counters', (t) => {
  const sets = parseNftJson(JSON_LISTING).filter((o) => o.kind === 'set').map((o) => setFromJson(o.body));
  t.deepEqual(sets[0], {
    name: 's',
    handle: 2,
    type: 'ipv4_addr . inet_service',
    flags: ['interval', 'timeout'],
    timeout: 30,
    comment: 'sc',
    elements: [
      { key: ['10.0.0.0/8', '80'], timeout: 10, expires: 9, comment: 'e' },
      { key: ['11.1.0.1-11.1.0.9', '80-90'], expires: 29 },
    ],
  });
  t.deepEqual(sets[1].elements, [{ key: ['10.0.0.0/8'] }, { key: ['172.16.0.1-172.16.0.7'] }, { key: ['192.168.1.1'] }]);
  t.deepEqual(sets[2].elements, [{ key: ['1.2.3.4'], counter: { packets: 3, bytes: 180 } }]);
  t.deepEqual(sets[2].flags, []);
});

test('JSON listing: maps with verdicts and concatenated values', (t) => {
  const maps = parseNftJson(JSON_LISTING).filter((o) => o.kind === 'map').map((o) => setFromJson(o.body));
  t.is(maps[0].type, 'ipv4_addr : verdict');
  t.deepEqual(maps[0].elements, [
    { key: ['10.0.0.1'], value: ['jump c2'], comment: 'me' },
    { key: ['10.0.0.2'], value: ['drop'] },
    { key: ['10.0.0.3'], value: ['goto c2'] },
  ]);
  t.is(maps[1].type, 'ipv4_addr . inet_service : ipv4_addr . inet_service');
  t.deepEqual(maps[1].elements, [{ key: ['10.0.0.1', '80'], value: ['10.0.0.2', '8080'] }]);
});

test('text listing: rules with handles, comments and counters; table and chain comments', (t) => {
  const listing = parseNftText(TEXT_LISTING);
  t.is(listing.tableComment, 'tc');
  t.deepEqual([...listing.chainComments], [['c2', 'chain # { comment']]);
  t.deepEqual(listing.rules, [
    { chain: 'c2', handle: 8, rule: 'counter', comment: 'r', counter: { packets: 5, bytes: 7 } },
    { chain: 'c2', handle: 10, rule: 'ip daddr { 1.1.1.1, 2.2.2.2 } tcp dport != 22 counter accept', counter: { packets: 0, bytes: 0 } },
    { chain: 'c2', handle: 11, rule: 'iifname "x#y" ip saddr 10.0.0.1 drop', comment: 'a # handle 3' },
  ]);
});

test('text listing: set and map blocks are not mistaken for chains', (t) => {
  const listing = parseNftText(TEXT_LISTING);
  t.false(listing.rules.some((r) => r.chain === 's' || r.chain === 'm'));
  t.deepEqual(parseNftText(''), { chainComments: new Map(), rules: [] });
});

test('counters are taken out of rule text, leaving the bare statement', (t) => {
  t.deepEqual(extractCounter('ip daddr 1.2.3.4 counter packets 12 bytes 3456 drop'), { rule: 'ip daddr 1.2.3.4 counter drop', counter: { packets: 12, bytes: 3456 } });
  t.deepEqual(extractCounter('accept'), { rule: 'accept' });
  t.deepEqual(extractCounter('counter packets 1 bytes 2 jump x counter packets 3 bytes 4'), {
    rule: 'counter jump x counter',
    counter: { packets: 1, bytes: 2 },
  });
});
