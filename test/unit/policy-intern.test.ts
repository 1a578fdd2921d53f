/**
 * policy/intern.ts and the nftables renderer's memo: after a change, what did not change is the
 * very objects of the previous sync (compiled, rendered), so the diff skips it; what changed is
 * new, and the kernel ends up exactly as a fresh render says.
 */
import test from 'ava';
import type { NodePolicy } from '../../agent/dataplane/policy-state';
import type { KubeObject } from '../../agent/objects';
import { committedListing, diffTable } from '../../agent/backend/nftables/diff';
import { renderPolicy } from '../../agent/backend/nftables/render-policy';
import type { DesiredTable } from '../../agent/backend/nftables/desired';
import { compileNodePolicy } from '../../policy/compile';
import { PolicyInterner } from '../../policy/intern';
import type { PolicyInput, PolicyPod } from '../../policy/input';

const NODE = 'n1';
const TABLE = { family: 'inet' as const, name: 'weft' };

const pod = (name: string, labels: Record<string, string>, ip: string, nodeName = NODE): PolicyPod => ({ namespace: 'a', name, labels, ips: [ip], nodeName, containerPorts: [] });

const policy = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: 'a' }, spec });

function input(remoteRole: string, extraPod?: PolicyPod): PolicyInput {
  return {
    namespaces: [{ name: 'a', labels: { 'kubernetes.io/metadata.name': 'a' } }],
    pods: [
      pod('web', { role: 'web' }, '10.0.0.1'),
      pod('db', { role: 'db' }, '10.0.0.2'),
      pod('client', { role: remoteRole }, '10.0.1.1', 'n2'),
      pod('client2', { role: 'client' }, '10.0.1.2', 'n2'),
      ...(extraPod ? [extraPod] : []),
    ],
    policies: [
      policy('web', { podSelector: { matchLabels: { role: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 80 }] }] }),
      policy('db', { podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'web' } } }, { ipBlock: { cidr: '192.168.0.0/16' } }], ports: [{ port: 5432 }] }] }),
    ],
  };
}

function table(policyState: NodePolicy): DesiredTable {
  const rendered = renderPolicy(policyState);
  return { comment: 'test', sets: rendered.sets, chains: rendered.chains };
}

test('an unchanged compile is the previous objects; a change replaces only what it touches', (t) => {
  const interner = new PolicyInterner();
  const first = interner.intern(compileNodePolicy(input('client'), NODE));
  const again = interner.intern(compileNodePolicy(input('client'), NODE));
  t.is(again.ingress.classes, first.ingress.classes, 'the same classes array');
  t.is(again.ingress.isolated, first.ingress.isolated);

  // A remote client stops being a client: the web policy's peer class loses an address; the db
  // policy's classes (web pod, ipBlock) do not change.
  const changed = interner.intern(compileNodePolicy(input('other'), NODE));
  t.not(changed.ingress.classes, first.ingress.classes);
  const byKey = new Map(first.ingress.classes.map((c) => [c.key, c]));
  const kept = changed.ingress.classes.filter((c) => byKey.get(c.key) === c);
  const renewed = changed.ingress.classes.filter((c) => byKey.get(c.key) !== c);
  t.true(kept.length >= 2, 'the db classes are the previous objects');
  t.is(renewed.length, 1, 'only the web clients class is new');
  t.deepEqual(renewed[0].cidrs, ['10.0.1.2/32']);
  t.is(changed.ingress.isolated, first.ingress.isolated, 'isolation did not change');
});

test('rendering interned policy reuses the sets of unchanged classes, and the diff of a change is only that change', (t) => {
  const interner = new PolicyInterner();
  const before = interner.intern(compileNodePolicy(input('client'), NODE));
  const beforeTable = table(before);
  const same = table(interner.intern(compileNodePolicy(input('client'), NODE)));
  t.is(diffTable(TABLE, same, committedListing(TABLE, beforeTable), beforeTable).size, 0, 'nothing changed: an empty transaction');

  // A new remote client (not next to the others: touching addresses merge into a range): one
  // element in the hosts map (the clients class means the same, so its key and chain stay).
  const grown = interner.intern(compileNodePolicy(input('client', pod('client3', { role: 'client' }, '10.0.1.9', 'n2')), NODE));
  const grownTable = table(grown);
  const unchangedSets = grownTable.sets.filter((s) => beforeTable.sets.includes(s)).map((s) => s.name);
  t.true(unchangedSets.some((n) => /^pol-in-c\w+-ports-v4$/.test(n)), 'class port sets that did not change are the very objects');
  const text = diffTable(TABLE, grownTable, committedListing(TABLE, same), same).render();
  t.regex(text, /^add element inet weft pol-in-hosts-v4 \{ 10\.0\.1\.9 : jump pol-in-c\w+ \}\n$/);

  // The same end state as a fresh render diffed against the old listing, element by element.
  const fresh = table(compileNodePolicy(input('client', pod('client3', { role: 'client' }, '10.0.1.9', 'n2')), NODE));
  t.is(diffTable(TABLE, fresh, committedListing(TABLE, beforeTable)).render(), text);
});

test('single addresses go to the plain hosts map, ranges to the interval classes map', (t) => {
  const rendered = table(compileNodePolicy(input('client'), NODE));
  const hosts = rendered.sets.find((s) => s.name === 'pol-in-hosts-v4')!;
  const ranges = rendered.sets.find((s) => s.name === 'pol-in-classes-v4')!;
  t.falsy(hosts.flags?.includes('interval'));
  t.deepEqual(ranges.flags, ['interval']);
  t.true(hosts.elements.every((e) => !e.key[0].includes('/')));
  t.true(ranges.elements.every((e) => e.key[0].includes('/')));
  t.deepEqual(
    ranges.elements.map((e) => e.key[0]),
    ['192.168.0.0/16'],
  );
  const chain = rendered.chains.find((c) => c.name === 'pol-in-v4')!;
  const lookups = chain.rules.filter((r) => r.rule.includes('vmap')).map((r) => r.rule);
  t.deepEqual(lookups, ['ip saddr vmap @pol-in-hosts-v4', 'ip saddr vmap @pol-in-classes-v4']);
});
