/** Per-policy counters summed from the counted elements the nftables renderer names. */
import test from 'ava';
import type { CountedElement } from '../../agent/backend/nftables/desired';
import { policyCounters } from '../../agent/backend/nftables/policy-counters';
import { renderNodeTable } from '../../agent/backend/nftables/render';
import type { TableObjects } from '../../kernel/nft';

const counted: CountedElement[] = [
  { set: 'a', key: ['10.0.0.1', 'tcp', '80'], direction: 'ingress', verdict: 'allowed', policies: ['ns/web', 'ns/both'] },
  { set: 'a', key: ['10.0.0.2', 'tcp', '80'], direction: 'ingress', verdict: 'allowed', policies: ['ns/web'] },
  { set: 'd', key: ['10.0.0.1'], direction: 'ingress', verdict: 'dropped', policies: ['ns/deny', 'ns/web'] },
  { set: 'e', key: ['10.0.0.1'], direction: 'egress', verdict: 'dropped', policies: ['ns/deny'] },
];

function listing(counts: Record<string, Record<string, number>>): TableObjects {
  const set = (name: string) => ({
    name,
    handle: 1,
    type: 'x',
    flags: [],
    counter: true,
    elements: Object.entries(counts[name] ?? {}).map(([key, packets]) => ({ key: key.split(' . '), counter: { packets, bytes: packets * 100 } })),
  });
  return { table: { family: 'inet', name: 'weft', handle: 1 }, chains: [], maps: [], ruleSummaries: [], sets: ['a', 'd', 'e'].map(set) };
}

test('sums each element into every policy it stands for, per direction and verdict; sorted by policy then direction', (t) => {
  const got = policyCounters(counted, listing({ a: { '10.0.0.1 . tcp . 80': 2, '10.0.0.2 . tcp . 80': 5 }, d: { '10.0.0.1': 7 }, e: { '10.0.0.1': 1 } }));
  t.deepEqual(
    got.map((c) => [c.policy, c.direction, c.allowed.packets, c.dropped.packets, c.dropped.bytes]),
    [
      ['ns/both', 'ingress', 2, 0, 0],
      ['ns/deny', 'egress', 0, 1, 100],
      ['ns/deny', 'ingress', 0, 7, 700],
      ['ns/web', 'ingress', 7, 7, 700],
    ],
  );
});

test('elements missing from the kernel (or a table not there) count zero; the policies still appear', (t) => {
  const got = policyCounters(counted, undefined);
  t.is(got.length, 4);
  t.true(got.every((c) => c.allowed.packets === 0 && c.dropped.packets === 0));
});

test('the renderer counts allowance elements and one drop element per isolated address, with their policies', (t) => {
  const table = renderNodeTable({
    nodeName: 'n',
    localPods: [{ namespace: 'x', name: 'p', ips: ['10.0.0.1'] }],
    policy: {
      ingress: {
        isolated: ['10.0.0.1'],
        isolatedBy: { '10.0.0.1': ['x/deny'] },
        anyPeer: [{ localIp: '10.0.0.1', ports: [{ protocol: 'udp', first: 53, last: 53 }], policies: ['x/dns'] }],
        classes: [{ key: 'k', cidrs: ['10.1.0.0/16'], allow: [{ localIp: '10.0.0.1', ports: 'all', policies: ['x/all'] }] }],
      },
      egress: { isolated: [], anyPeer: [], classes: [] },
      problems: [],
    },
  });
  t.deepEqual(
    table.counted?.map((c) => `${c.verdict} ${c.set} ${c.key.join(' . ')} ${c.policies.join(',')}`),
    ['allowed pol-in-any-ports-v4 10.0.0.1 . udp . 53 x/dns', `allowed ${table.counted?.[1].set} 10.0.0.1 x/all`, 'dropped pol-in-dropped-v4 10.0.0.1 x/deny'],
  );
  const counted = new Set(table.counted?.map((c) => c.set));
  t.true(table.sets.filter((s) => counted.has(s.name)).every((s) => s.counter === true), 'every counted set is declared with counters');
});
