/**
 * ClusterNetworkPolicy tiers in what the agent answers weftctl, without a kernel: the rule
 * texts the compiler writes and the inspection reads back, per-policy counters of the tiers'
 * nftables elements, the deciding rule of a tier's drop, and a pod's tier objects in words
 * (nftables through FakeNft, iptables from its rendering as iptables-save and ipset save list it).
 * Objects compiled by the real compiler; the kernel's behaviour has integration tests
 * (weftctl-cnp.test.ts).
 */
import test from 'ava';
import { ObjectCache } from '../../agent/cache';
import { Inspection } from '../../agent/api/inspect-answers';
import { dropMessage } from '../../agent/api/inspect-answers';
import { NftablesBackend } from '../../agent/backend/nftables/backend';
import { policyCounters } from '../../agent/backend/nftables/policy-counters';
import { renderNodeTable } from '../../agent/backend/nftables/render';
import { IptablesNames } from '../../agent/backend/iptables/names';
import { renderIptables } from '../../agent/backend/iptables/render';
import { compileNodeState } from '../../agent/compile/node-state';
import type { DataPlaneBackend, NodeState } from '../../agent/dataplane/node-state';
import type { NodePolicy } from '../../agent/dataplane/policy-state';
import { iptablesPodEntries } from '../../agent/inspect/iptables-pod';
import { PodWords } from '../../agent/inspect/pod-words';
import type { KubeObject } from '../../agent/objects';
import { FakeNft, type TableObjects } from '../../kernel/nft';
import { parseSavedRule } from '../../kernel/iptables/parse-save';
import { renderWords } from '../../kernel/iptables/syntax';
import type { PacketHeaders } from '../../kernel/nflog';
import { parseTierRuleText, tierRuleText } from '../../policy/cluster-policy/rule-text';
import { PolicyModel } from '../../policy/explain/model';
import { clusterPolicy } from '../helpers/cluster-policy-model';

const A = '10.244.0.2';
const B = '10.244.1.2';
const C = '10.244.1.3';

const pod = (name: string, node: string, ip: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'x', labels: { name } },
  spec: { nodeName: node, containers: [{ name: 'c' }] },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
});

const podsNamed = (name: string) => ({ pods: { namespaceSelector: {}, podSelector: { matchLabels: { name } } } });

const OBJECTS: KubeObject[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { 'kubernetes.io/metadata.name': 'x' } } },
  pod('a', 'n1', A),
  pod('b', 'n2', B),
  pod('c', 'n2', C),
  // x/a admits TCP 80 from x/c, nothing from x/b (rule 2, every port), the rest passes.
  clusterPolicy('guard-a', 'Admin', 10, {
    subject: podsNamed('a'),
    ingress: [
      { name: 'web-from-c', action: 'Accept', from: [podsNamed('c')], protocols: [{ tcp: { destinationPort: { number: 80 } } }] },
      { name: 'not-b', action: 'Deny', from: [podsNamed('b')] },
    ],
  }),
  // x/a sends no UDP 53 to x/b, unless a NetworkPolicy says otherwise.
  clusterPolicy('quiet-a', 'Baseline', 5, { subject: podsNamed('a'), egress: [{ name: 'no-dns-to-b', action: 'Deny', to: [podsNamed('b')], protocols: [{ udp: { destinationPort: { number: 53 } } }] }] }),
];

function fixture(objects: KubeObject[] = OBJECTS) {
  const cache = new ObjectCache();
  for (const object of objects) cache.apply({ type: 'ADDED', object });
  const state = compileNodeState(cache, [], 'n1', { networkPolicy: true });
  return { cache, state, policy: state.policy! };
}

const model = (cache: ObjectCache) => PolicyModel.fromCache(cache, { source: 'test' });

const tcp = (source: string, destination: string, port: number): PacketHeaders => ({ family: 4, source, destination, protocol: 'tcp', sourcePort: 40000, destinationPort: port, tcpFlags: 'SYN', length: 60 });
const udp = (source: string, destination: string, port: number): PacketHeaders => ({ family: 4, source, destination, protocol: 'udp', sourcePort: 5000, destinationPort: port, length: 40 });

function inspection(cache: ObjectCache, backend: DataPlaneBackend, tiers: () => NodePolicy[]) {
  return new Inspection({ nodeName: 'n1', backend, cache, proxying: false, appliedServices: () => undefined, enforcingPolicy: true, tierPolicies: tiers });
}

/** A backend weft cannot inspect: what the drop namer needs is not the kernel's. */
const NO_BACKEND: DataPlaneBackend = { name: 'nftables', location: '-', apply: async () => ({ changes: 0, rules: 0 }) };

test('rule texts: what the compiler writes, read back; other texts are not rules', (t) => {
  const text = tierRuleText({ tier: 'Admin', name: 'deny-z' }, 'ingress', { index: 1, name: 'from (z) and more' });
  t.is(text, 'Admin deny-z ingress rule 2 (from (z) and more)');
  t.deepEqual(parseTierRuleText(text), { tier: 'Admin', policy: 'deny-z', direction: 'ingress', index: 1, ruleName: 'from (z) and more' });
  t.deepEqual(parseTierRuleText(tierRuleText({ tier: 'Baseline', name: 'b.c' }, 'egress', { index: 0 })), { tier: 'Baseline', policy: 'b.c', direction: 'egress', index: 0 });
  for (const other of ['Admin deny-z ingress rule 0', 'Admin deny-z ingress rule 2 (cut sho', 'Admin tier: Deny', 'admin x ingress rule 1', '']) t.is(parseTierRuleText(other), undefined, other);
  // The compiled model carries exactly these texts.
  const { policy } = fixture();
  const rules = [...(policy.admin?.ingress.classes ?? []), ...(policy.baseline?.egress.classes ?? [])].flatMap((c) => c.decide.flatMap((d) => [d.otherRule, ...d.ports.map((r) => r.rule)])).filter((r) => r !== undefined);
  t.deepEqual([...new Set(rules)].sort(), ['Admin guard-a ingress rule 1 (web-from-c)', 'Admin guard-a ingress rule 2 (not-b)', 'Baseline quiet-a egress rule 1 (no-dns-to-b)']);
});

test('nftables counters: each Accept and Deny element counts for its ClusterNetworkPolicy, per direction; Pass elements for none', (t) => {
  const { state } = fixture();
  const table = renderNodeTable(state);
  const tierCounted = (table.counted ?? []).filter((c) => c.policies.some((p) => p.startsWith('ClusterNetworkPolicy/')));
  t.deepEqual(tierCounted.map((c) => `${c.set} ${c.key.join(' . ')} ${c.direction} ${c.verdict} ${c.policies.join()}`).map((s) => s.replace(/-c[0-9a-f]{10}-/, '-cX-')).sort(), [
    `cnp-admin-in-cX-other-v4 ${A} ingress dropped ClusterNetworkPolicy/guard-a`,
    `cnp-admin-in-cX-ports-v4 ${A} . tcp . 80 ingress allowed ClusterNetworkPolicy/guard-a`,
    `cnp-baseline-out-cX-ports-v4 ${A} . udp . 53 egress dropped ClusterNetworkPolicy/quiet-a`,
  ]);
  // Counters as nft lists them: in maps.
  const maps = tierCounted.map((c, i) => ({ name: c.set, handle: i, type: 'x', flags: [], counter: true, elements: [{ key: c.key, counter: { packets: 3 + i, bytes: 100 } }] }));
  const listing: TableObjects = { table: { family: 'inet', name: 'weft', handle: 1 }, chains: [], sets: [], maps, ruleSummaries: [] };
  const sums = policyCounters(tierCounted, listing).map((c) => `${c.policy} ${c.direction} ${c.allowed.packets} ${c.dropped.packets}`);
  const packetsOf = (set: RegExp) => 3 + tierCounted.findIndex((c) => set.test(c.set));
  t.deepEqual(sums, [`ClusterNetworkPolicy/guard-a ingress ${packetsOf(/admin-in-.*-ports/)} ${packetsOf(/admin-in-.*-other/)}`, `ClusterNetworkPolicy/quiet-a egress 0 ${packetsOf(/baseline-out/)}`]);
});

test('a tier drop is named with its policy and rule from the applied tiers, in Kubernetes words; a NetworkPolicy drop has none', (t) => {
  const { cache, policy } = fixture();
  let applied: NodePolicy[] = [policy];
  const name = inspection(cache, NO_BACKEND, () => applied).dropNamer();
  t.deepEqual(name(tcp(B, A, 8080), 'ingress', 'admin'), { sourcePod: 'x/b', destinationPod: 'x/a', pod: 'x/a', policies: [], clusterPolicy: 'guard-a', rule: 'Admin priority 10 guard-a ingress rule 2 (not-b): Deny' });
  t.like(name(udp(A, B, 53), 'egress', 'baseline'), { pod: 'x/a', clusterPolicy: 'quiet-a', rule: 'Baseline priority 5 quiet-a egress rule 1 (no-dns-to-b): Deny' });
  // ICMP has no port: the rule for every other protocol decides.
  t.like(name({ family: 4, source: B, destination: A, protocol: 'icmp', icmpType: 8, length: 84 }, 'ingress', 'admin'), { rule: 'Admin priority 10 guard-a ingress rule 2 (not-b): Deny' });
  // What the applied tiers do not drop (accepted, or a tier since gone) names no rule.
  t.false('rule' in name(tcp(C, A, 80), 'ingress', 'admin'));
  applied = [];
  t.false('rule' in name(tcp(B, A, 8080), 'ingress', 'admin'));
  // The kernel may hold another state than the last applied (a sync under way, a drop read after
  // a sync): the first of them that drops the packet names the rule.
  const without = fixture(OBJECTS.filter((o) => o.metadata.name !== 'guard-a')).policy;
  applied = [without, policy];
  t.like(name(tcp(B, A, 8080), 'ingress', 'admin'), { clusterPolicy: 'guard-a', rule: 'Admin priority 10 guard-a ingress rule 2 (not-b): Deny' });
  t.deepEqual(name(tcp(B, A, 8080), 'ingress'), { sourcePod: 'x/b', destinationPod: 'x/a', pod: 'x/a', policies: [] });
  const message = dropMessage({ firstSeen: 1, lastSeen: 2, packets: 1, direction: 'ingress', family: 4, protocol: 'TCP', source: B, destination: A, policies: [], tier: 'admin', clusterPolicy: 'guard-a', rule: 'r' });
  t.like(message, { tier: 'Admin', clusterPolicy: 'guard-a', rule: 'r' });
  t.like(dropMessage({ firstSeen: 1, lastSeen: 2, packets: 1, direction: 'ingress', family: 4, protocol: 'TCP', source: B, destination: A, policies: ['x/np'] }), { tier: '', clusterPolicy: '', rule: '' });
});

test('nftables: a pod\'s tier objects in words, with the elements\' counters, and the chains they send it to', async (t) => {
  const { cache, state, policy } = fixture();
  const backend = new NftablesBackend(new FakeNft(), 'weft');
  await backend.apply(state);
  const answer = await inspection(cache, backend, () => [policy]).rules({ pod: 'x/a', service: '' });
  const entries = answer.objects[0].entries;
  const meaning = (location: RegExp, text: string) => entries.find((e) => location.test(e.location) && e.text === text);
  t.regex(meaning(/^set cnp-admin-in-subjects-v4$/, A)?.meaning ?? '', /^x\/a is a subject of the Admin tier for ingress: guard-a \(priority 10\)$/);
  const denied = meaning(/^map cnp-admin-in-c[0-9a-f]{10}-other-v4$/, `${A} : goto cnp-admin-in-drop`);
  t.regex(denied?.meaning ?? '', /^Admin priority 10 guard-a ingress rule 2 \(not-b\): Deny ingress of x\/a from source class [0-9a-f]{10} \(10\.244\.1\.2 \(x\/b\)\) on every other port and protocol$/);
  t.like(denied, { counted: true, packets: 0 });
  t.regex(meaning(/^map cnp-admin-in-c[0-9a-f]{10}-ports-v4$/, `${A} . tcp . 80 : accept`)?.meaning ?? '', /^Admin priority 10 guard-a ingress rule 1 \(web-from-c\): Accept ingress of x\/a from source class [0-9a-f]{10} \(10\.244\.1\.3 \(x\/c\)\) on TCP 80$/);
  t.regex(meaning(/^map cnp-baseline-out-c[0-9a-f]{10}-ports-v4$/, `${A} . udp . 53 : goto cnp-baseline-out-drop`)?.meaning ?? '', /^Baseline priority 5 quiet-a egress rule 1 \(no-dns-to-b\): Deny egress of x\/a to destination class [0-9a-f]{10} \(10\.244\.1\.2 \(x\/b\)\) on UDP 53$/);
  // The lookups of its subjects set and maps, and the drop chains its elements go to.
  for (const chain of ['policy-ingress', 'cnp-admin-in-drop', 'policy-egress', 'cnp-baseline-out-drop', 'cluster-egress-node']) t.true(entries.some((e) => e.location === `chain ${chain}` && e.shared), chain);
  t.true(entries.some((e) => e.location === 'chain cnp-admin-in-drop' && /log prefix "weft-drop admin ingress"/.test(e.text)));

  // x/b as a peer: in the Admin tier's class map of node n1, as n2's agent would show x/a's peers.
  const peer = await inspection(cache, backend, () => [policy]).rules({ pod: 'x/b', service: '' });
  t.regex(peer.objects[0].entries.find((e) => e.location === 'map cnp-admin-in-hosts-v4')?.meaning ?? '', /^x\/b as a source of ingress to this node's pods the Admin tier selects is in source class [0-9a-f]{10}$/);
});

test('iptables: a pod\'s tier sets and its own tier chain in words, rules deciding looked up in the applied tiers', (t) => {
  const { cache, state, policy } = fixture();
  const names = new IptablesNames('WEFT');
  const rendered = renderIptables(state, 'WEFT');
  const tables = (chains: typeof rendered.chains.ipv4) =>
    (['raw', 'filter', 'nat'] as const).map((table) => ({
      table,
      chains: chains.filter((c) => c.table === table).map((c) => ({ name: c.name, builtin: false })),
      rules: chains.filter((c) => c.table === table).flatMap((c) => c.rules.map((r) => parseSavedRule(c.name, renderWords(r), { packets: 7, bytes: 700 }))),
    }));
  const kernel = {
    names,
    families: [{ family: 'ipv4' as const, tables: tables(rendered.chains.ipv4) }],
    sets: rendered.sets.map((s) => ({ name: s.name, type: s.type, family: s.family, options: {}, flags: [], elements: s.elements, decoratedElements: 0 })),
  };
  const entries = iptablesPodEntries(kernel, new PodWords(model(cache), 'x/a', [A], [policy]));
  const of = (location: string, text: string) => entries.find((e) => e.location === location && e.text === text)?.meaning;
  t.is(of('ipset weft-ai-sub4', A), 'x/a is a subject the Admin tier decides ingress for: guard-a (priority 10)');
  t.is(of('ipset weft-ai-acc4', `${A},tcp:80,${C}`), 'Admin priority 10 guard-a ingress rule 1 (web-from-c): Accept ingress of x/a from 10.244.1.3 (x/c) on TCP 80');
  t.is(of('ipset weft-be-drp4', `${A},udp:53,${B}`), 'Baseline priority 5 quiet-a egress rule 1 (no-dns-to-b): Deny egress of x/a to 10.244.1.2 (x/b) on UDP 53');
  t.is(of('ipset weft-ai-oth4', A), `the Admin tier decides the rest of ingress of x/a in its own chain ${names.tierLocalChain('a', 'i', A)}`);
  const own = entries.find((e) => e.location === `iptables filter ${names.tierLocalChain('a', 'i', A)}` && e.text.includes('--match-set'));
  t.is(own?.meaning, 'Admin priority 10 guard-a ingress rule 2 (not-b): Deny ingress of x/a from 10.244.1.2 (x/b) on every other port and protocol');
  t.like(own, { counter: { packets: 7, bytes: 700 }, shared: false });
  // What no rule decides passes the tier (here nothing follows: allowed).
  t.is(entries.find((e) => e.location === `iptables filter ${names.tierLocalChain('a', 'i', A)}` && !e.text.includes('--match-set'))?.meaning, 'what no rule of the Admin tier decides for ingress of x/a passes the tier');
  t.is(entries.find((e) => e.location === 'iptables filter WEFT-ADMIN-INGRESS' && e.text === '-A WEFT-ADMIN-INGRESS -j RETURN')?.meaning, 'what the Admin tier does not decide for ingress passes it');
  // The tier chains and their drop chain, shared.
  for (const chain of ['WEFT-INGRESS-TIERS', 'WEFT-ADMIN-INGRESS', 'WEFT-ADMIN-INGRESS-DROP', 'WEFT-BASELINE-EGRESS-DROP']) t.true(entries.some((e) => e.location === `iptables filter ${chain}` && e.shared), chain);
  // Without the applied tiers (before the first sync), the verdict alone.
  const bare = iptablesPodEntries(kernel, new PodWords(model(cache), 'x/a', [A]));
  t.is(bare.find((e) => e.location === 'ipset weft-ai-acc4')?.meaning, 'Admin tier: Accept ingress of x/a from 10.244.1.3 (x/c) on TCP 80');
});

test('state without tiers: nothing of them in the answers', (t) => {
  const { state } = fixture(OBJECTS.filter((o) => o.kind !== 'ClusterNetworkPolicy'));
  const s: NodeState = state;
  t.is(s.policy?.admin, undefined);
  t.false((renderNodeTable(s).counted ?? []).some((c) => c.policies.some((p) => p.startsWith('ClusterNetworkPolicy/'))));
});
