/**
 * The nftables rendering of ClusterNetworkPolicy tiers (render-cluster-policy.ts, placed by
 * render-policy.ts): where each stage sits in the base chains, the verdict map elements a
 * decision becomes (accept, a drop through the stage's drop chain, return for pass), the pod to
 * its own node chain, stable names, and what a change rewrites (against FakeNft). Hand-built
 * NodePolicies: the compiler has tests of its own, the kernel's behaviour has integration tests.
 */
import test from 'ava';
import { NftablesBackend } from '../../agent/backend/nftables/backend';
import type { DesiredTable } from '../../agent/backend/nftables/desired';
import { renderNodeTable } from '../../agent/backend/nftables/render';
import { tierClassChainName } from '../../agent/backend/nftables/render-cluster-policy';
import type { NodeState } from '../../agent/dataplane/node-state';
import { EMPTY_DIRECTION, EMPTY_TIER_DIRECTION, type NodePolicy, type TierClass } from '../../agent/dataplane/policy-state';
import { CLUSTER_DROP_LOG_PREFIX } from '../../agent/drops/log-rules';
import { FakeNft } from '../../kernel/nft';

const A = '10.244.0.11';
const B = '10.244.0.12';
const B6 = 'fd00:10:244::12';

/** Peers 10.0.0.0/24 and B: for A, TCP 80 passes, 81-90 and UDP 53 are denied, the rest accepted. */
const REMOTE_CLASS: TierClass = {
  key: 'k-remote',
  cidrs: ['10.0.0.0/24', `${B}/32`],
  decide: [
    {
      localIp: A,
      other: 'accept',
      otherRule: 'Admin open ingress rule 3',
      ports: [
        { protocol: 'tcp', first: 80, last: 80, verdict: 'pass', rule: 'Admin open ingress rule 1' },
        { protocol: 'tcp', first: 81, last: 90, verdict: 'drop', rule: 'Admin open ingress rule 2' },
        { protocol: 'udp', first: 53, last: 53, verdict: 'drop', rule: 'Admin open ingress rule 2' },
      ],
    },
  ],
};

function policy(extra: Partial<NodePolicy> = {}): NodePolicy {
  return {
    ingress: { isolated: [B], anyPeer: [], classes: [] },
    egress: EMPTY_DIRECTION,
    admin: { ingress: { subjects: [A], classes: [REMOTE_CLASS] }, egress: EMPTY_TIER_DIRECTION },
    baseline: {
      ingress: EMPTY_TIER_DIRECTION,
      egress: { subjects: [A, B6], classes: [{ key: 'k-nodes', cidrs: ['192.168.0.1/32', '2001:db8::1/128'], decide: [{ localIp: A, other: 'drop', ports: [] }, { localIp: B6, other: 'pass', ports: [{ protocol: 'tcp', first: 443, last: 443, verdict: 'accept' }] }] }] },
    },
    problems: [],
    ...extra,
  };
}

const state = (p: NodePolicy): NodeState => ({ nodeName: 'n1', localPods: [{ namespace: 'x', name: 'a', ips: [A] }, { namespace: 'x', name: 'b', ips: [B, B6] }], policy: p });

const chain = (table: DesiredTable, name: string) => table.chains.find((c) => c.name === name);
const set = (table: DesiredTable, name: string) => table.sets.find((s) => s.name === name);

test('each base chain: replies, neighbour discovery, the Admin stage, NetworkPolicy, the Baseline stage', (t) => {
  const table = renderNodeTable(state(policy()));
  t.deepEqual(chain(table, 'policy-ingress')?.rules.map((r) => r.rule), [
    'ct state established,related accept',
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept',
    'ip daddr @cnp-admin-in-subjects-v4 ip saddr vmap @cnp-admin-in-hosts-v4',
    'ip daddr @cnp-admin-in-subjects-v4 ip saddr vmap @cnp-admin-in-ranges-v4',
    'ip daddr @pol-in-isolated-v4 jump pol-in-v4',
  ]);
  t.deepEqual(chain(table, 'policy-egress')?.rules.map((r) => r.rule), [
    'ct state established,related accept',
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept',
    'ip saddr @cnp-baseline-out-subjects-v4 ip daddr vmap @cnp-baseline-out-hosts-v4',
    'ip6 saddr @cnp-baseline-out-subjects-v6 ip6 daddr vmap @cnp-baseline-out-hosts-v6',
  ], 'a tier alone hooks the chain in');
  t.deepEqual(set(table, 'cnp-admin-in-ranges-v4')?.elements, [{ key: ['10.0.0.0/24'], value: [`jump ${tierClassChainName('admin', 'in', 'k-remote')}`] }]);
  t.deepEqual(set(table, 'cnp-admin-in-hosts-v4')?.elements, [{ key: [B], value: [`jump ${tierClassChainName('admin', 'in', 'k-remote')}`] }]);
});

test("a class chain: the port verdict map, then the subject's verdict for everything else; pass is return, a drop goes through the stage's drop chain", (t) => {
  const table = renderNodeTable(state(policy()));
  const name = tierClassChainName('admin', 'in', 'k-remote');
  t.regex(name, /^cnp-admin-in-c[0-9a-f]{10}$/);
  t.deepEqual(chain(table, name)?.rules.map((r) => r.rule), [`ip daddr . meta l4proto . th dport vmap @${name}-ports-v4`, `ip daddr vmap @${name}-other-v4`]);
  t.deepEqual(set(table, `${name}-ports-v4`)?.elements, [
    { key: [A, 'tcp', '80'], value: ['return'], comment: 'Admin open ingress rule 1' },
    { key: [A, 'tcp', '81-90'], value: ['goto cnp-admin-in-drop'], comment: 'Admin open ingress rule 2' },
    { key: [A, 'udp', '53'], value: ['goto cnp-admin-in-drop'], comment: 'Admin open ingress rule 2' },
  ]);
  t.like(set(table, `${name}-ports-v4`), { kind: 'map', type: 'ipv4_addr . inet_proto . inet_service : verdict', flags: ['interval'], counter: true });
  t.deepEqual(set(table, `${name}-other-v4`)?.elements, [{ key: [A], value: ['accept'], comment: 'Admin open ingress rule 3' }]);
  t.deepEqual(chain(table, 'cnp-admin-in-drop')?.rules.map((r) => r.rule), [`limit rate 100/second log prefix "${CLUSTER_DROP_LOG_PREFIX.admin.ingress}" group 22342`, 'counter drop']);
  // A subject whose `other` is pass has no element there: it falls through the chain, back to the base chain.
  const baseline = tierClassChainName('baseline', 'out', 'k-nodes');
  t.deepEqual(set(table, `${baseline}-other-v6`), undefined);
  t.deepEqual(set(table, `${baseline}-ports-v6`)?.elements, [{ key: [B6, 'tcp', '443'], value: ['accept'] }]);
});

test("egress stages also hold from a pod to its own node (input), where NetworkPolicy's isolated pods are exempt before the Baseline stage", (t) => {
  const table = renderNodeTable(state(policy({ egress: { isolated: [B6], anyPeer: [], classes: [] } })));
  const input = chain(table, 'cluster-egress-node');
  t.deepEqual(input?.base, { type: 'filter', hook: 'input', priority: 'filter', policy: 'accept' });
  t.deepEqual(input?.rules.map((r) => r.rule), [
    'ct state established,related accept',
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept',
    'ip6 saddr @cnp-out-np-isolated-v6 accept',
    'ip saddr @cnp-baseline-out-subjects-v4 ip daddr vmap @cnp-baseline-out-hosts-v4',
    'ip6 saddr @cnp-baseline-out-subjects-v6 ip6 daddr vmap @cnp-baseline-out-hosts-v6',
  ]);
  t.deepEqual(set(table, 'cnp-out-np-isolated-v6')?.elements, [{ key: [B6] }]);
  const noEgressTier = renderNodeTable(state(policy({ baseline: undefined })));
  t.is(chain(noEgressTier, 'cluster-egress-node'), undefined, 'no egress tier: nothing hooked at input');
});

test('without tiers: no tier object at all', (t) => {
  const table = renderNodeTable(state(policy({ admin: undefined, baseline: undefined })));
  t.deepEqual([...table.chains, ...table.sets].map((o) => o.name).filter((n) => n.startsWith('cnp-') || n === 'cluster-egress-node'), []);
});

test('applied: a second apply changes nothing; a changed decision rewrites only its elements; tiers removed leave nothing', async (t) => {
  const fake = new FakeNft();
  const backend = new NftablesBackend(fake, 'weft');
  t.true((await backend.apply(state(policy()))).changes > 0);
  t.is((await backend.apply(state(policy()), { fromKernel: true })).changes, 0);
  const changed: TierClass = { ...REMOTE_CLASS, decide: [{ ...REMOTE_CLASS.decide[0], ports: REMOTE_CLASS.decide[0].ports.slice(1) }] };
  const next = policy({ admin: { ingress: { subjects: [A], classes: [changed] }, egress: EMPTY_TIER_DIRECTION } });
  await backend.apply(state(next));
  t.deepEqual(fake.history[fake.history.length - 1].trim().split('\n'), [`delete element inet weft ${tierClassChainName('admin', 'in', 'k-remote')}-ports-v4 { 10.244.0.11 . tcp . 80 }`]);
  await backend.apply(state(policy({ admin: undefined, baseline: undefined })));
  const left = await fake.listObjects({ family: 'inet', name: 'weft' });
  t.deepEqual([...left!.chains, ...left!.sets, ...left!.maps].map((o) => o.name).filter((n) => n.startsWith('cnp-') || n === 'cluster-egress-node'), []);
});

test('an unchanged class renders to the very sets committed last time (the diff passes them), a new one afresh', (t) => {
  const one = renderNodeTable(state(policy()));
  const two = renderNodeTable(state(policy()));
  const name = `${tierClassChainName('admin', 'in', 'k-remote')}-ports-v4`;
  t.is(set(two, name), set(one, name));
  const other = renderNodeTable(state(policy({ admin: { ingress: { subjects: [A], classes: [{ ...REMOTE_CLASS }] }, egress: EMPTY_TIER_DIRECTION } })));
  t.not(set(other, name), set(one, name));
  t.deepEqual(set(other, name)?.elements, set(one, name)?.elements);
});

test('rule names are free text: element comments keep printable ASCII without quotes, at most 120 characters', (t) => {
  const named: TierClass = { ...REMOTE_CLASS, decide: [{ localIp: A, other: 'drop', otherRule: `Admin p ingress rule 1 (say "no" — ${'x'.repeat(200)})`, ports: [] }] };
  const table = renderNodeTable(state(policy({ admin: { ingress: { subjects: [A], classes: [named] }, egress: EMPTY_TIER_DIRECTION } })));
  const comment = set(table, `${tierClassChainName('admin', 'in', 'k-remote')}-other-v4`)?.elements[0].comment;
  t.is(comment, `Admin p ingress rule 1 (say ?no? ? ${'x'.repeat(120 - 35)}`);
});
