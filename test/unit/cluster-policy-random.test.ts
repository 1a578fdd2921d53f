/**
 * The ClusterNetworkPolicy tiers as compiled for a node, composed as the kernel composes them
 * (policy/cluster-policy/model-verdict.ts: Admin, then NetworkPolicy if it isolates, then
 * Baseline, then allowed), against the reference evaluator (policy/evaluate.ts) on random
 * clusters: the NetworkPolicy clusters of policy-random.test.ts, plus nodes (labels, InternalIP
 * and ExternalIP addresses, one of them inside the pods' range) and ClusterNetworkPolicies of
 * both tiers with every feature: namespaces and pods subjects, namespaces, pods, networks and
 * nodes peers, fail-closed peers, Accept/Deny/Pass, equal priorities, port numbers, ranges and
 * named ports, rules without protocols, and now and then an invalid object. For many packets to
 * and from this node's pods, both directions: the same verdict, the same deciding stage and rule.
 * Also the structure a backend relies on, and the same result for the same cluster in another order.
 *
 * Seeded: a failure names its seed. CNP_SEED=<n> (CNP_BIG_SEED=<n> for the big ones) runs that
 * one cluster only; CNP_CLUSTERS=<n> changes how many small ones are generated.
 */
import test, { type ExecutionContext } from 'ava';
import type { NodePolicy, TierDirection, TierPolicy } from '../../agent/dataplane/policy-state';
import type { KubeObject } from '../../agent/objects';
import { canonicalIpText, compareIpText, parseCidrBlock, parseIp } from '../../policy/address';
import { clusterMatchText } from '../../policy/cluster-policy/evaluate';
import { NodePolicyLookup } from '../../policy/cluster-policy/model-verdict';
import { compileNodePolicy } from '../../policy/compile';
import { PolicyEvaluator } from '../../policy/evaluate';
import type { PolicyInput, PolicyNode } from '../../policy/input';
import { addressesOf, LABELS, NODE, NODE_IPS, NS_LABELS, PORT_NAMES, PORT_NUMBERS, PROBE_PORTS, prng, randomCluster, randomSelector, v4, v6, type Rng } from '../helpers/random-cluster';

const NODE_LABELS: Record<string, string[]> = { zone: ['a', 'b'], role: ['worker', 'edge'] };

/** n1 and n2 (the pods' nodes, hostNetwork pods use their InternalIPs) and n3, whose address is in the pod range. */
function randomNodes(rng: Rng): PolicyNode[] {
  const labels = () => Object.fromEntries(rng.subset(Object.keys(NODE_LABELS)).map((k) => [k, rng.pick(NODE_LABELS[k])]));
  return [
    { name: 'n1', labels: labels(), addresses: [NODE_IPS.n1, ...(rng.chance(0.5) ? ['203.0.113.1'] : []), ...(rng.chance(0.3) ? ['fd00:ff::1'] : [])] },
    { name: 'n2', labels: labels(), addresses: [NODE_IPS.n2, ...(rng.chance(0.5) ? ['203.0.113.2'] : [])] },
    ...(rng.chance(0.5) ? [{ name: 'n3', labels: labels(), addresses: [v4(rng.int(0, 31))] }] : []),
  ];
}

function randomCidr(rng: Rng): string {
  if (rng.chance(0.7)) {
    if (rng.chance(0.08)) return '0.0.0.0/0';
    return `${rng.chance(0.15) ? rng.pick(['192.168.0.0', '203.0.113.0']) : v4(rng.int(0, 31))}/${rng.pick([24, 27, 28, 29, 30, 31, 32])}`;
  }
  return rng.chance(0.1) ? '::/0' : `${v6(rng.int(0, 31))}/${rng.pick([120, 123, 125, 126, 127, 128])}`;
}

function randomClusterPeer(rng: Rng, egress: boolean, named: boolean): Record<string, unknown> {
  const r = rng.next();
  if (r < 0.04) return egress && rng.chance(0.5) ? { domainNames: ['example.com'] } : { futurePeer: {} }; // fails closed
  if (r < 0.3 || (named && r < 0.5)) return { namespaces: randomSelector(rng, NS_LABELS) };
  if (r < 0.6 || named) return { pods: { ...(rng.chance(0.6) ? { namespaceSelector: randomSelector(rng, NS_LABELS) } : {}), podSelector: randomSelector(rng, LABELS) } };
  if (!egress) return { namespaces: randomSelector(rng, NS_LABELS) };
  if (r < 0.85) {
    // A set: the CRD refuses duplicates (host bits are cleared, so two texts may still be one network).
    return { networks: [...new Set(Array.from({ length: rng.int(1, 3) }, () => randomCidr(rng)))] };
  }
  return { nodes: randomSelector(rng, NODE_LABELS) };
}

function randomProtocol(rng: Rng, named: boolean): Record<string, unknown> {
  if (named) return { destinationNamedPort: rng.pick([...PORT_NAMES, 'nope']) };
  const protocol = rng.pick(['tcp', 'tcp', 'udp', 'sctp']);
  if (rng.chance(0.6)) return { [protocol]: { destinationPort: { number: rng.chance(0.8) ? rng.pick(PORT_NUMBERS) : rng.int(1, 65535) } } };
  const start = rng.chance(0.7) ? rng.pick(PORT_NUMBERS) - rng.int(0, 3) : rng.int(1, 65000);
  return { [protocol]: { destinationPort: { range: { start, end: start + rng.int(1, 120) } } } };
}

function randomClusterRules(rng: Rng, egress: boolean): Record<string, unknown>[] | undefined {
  if (rng.chance(0.3)) return undefined;
  return Array.from({ length: rng.int(1, 3) }, () => {
    const named = rng.chance(0.2);
    const rule: Record<string, unknown> = {
      action: rng.pick(['Accept', 'Deny', 'Pass']),
      [egress ? 'to' : 'from']: Array.from({ length: rng.int(1, 3) }, () => randomClusterPeer(rng, egress, named)),
    };
    if (rng.chance(0.3)) rule.name = `r${rng.int(0, 9)}`;
    if (rng.chance(0.6)) rule.protocols = Array.from({ length: rng.int(1, 3) }, (_, i) => randomProtocol(rng, named && i === 0));
    return rule;
  });
}

function randomClusterPolicy(rng: Rng, i: number): KubeObject {
  const subject = rng.chance(0.4)
    ? { namespaces: randomSelector(rng, NS_LABELS) }
    : { pods: { ...(rng.chance(0.5) ? { namespaceSelector: randomSelector(rng, NS_LABELS) } : {}), podSelector: rng.chance(0.25) ? {} : randomSelector(rng, LABELS) } };
  const spec: Record<string, unknown> = { tier: rng.chance(0.55) ? 'Admin' : 'Baseline', priority: rng.pick([0, 1, 1, 2, 10]), subject };
  const ingress = randomClusterRules(rng, false);
  const egress = randomClusterRules(rng, true);
  if (ingress) spec.ingress = ingress;
  if (egress) spec.egress = egress;
  // Invalid now and then: refused by the API server, so no part of the verdicts.
  if (rng.chance(0.04)) spec.ingress = [{ action: 'Accept', from: [{ namespaces: {} }], protocols: [{ tcp: {} }] }];
  return { apiVersion: 'policy.networking.k8s.io/v1alpha2', kind: 'ClusterNetworkPolicy', metadata: { name: `c${i}` }, spec };
}

function randomInput(seed: number, big = false): PolicyInput {
  const rng = prng(seed);
  const input = randomCluster(rng, big);
  const nodes = randomNodes(rng);
  const clusterPolicies = Array.from({ length: rng.int(1, 6) }, (_, i) => randomClusterPolicy(rng, i));
  // Fewer NetworkPolicies now and then, so that the Baseline tier is reached often.
  return { ...input, policies: rng.chance(0.4) ? [] : input.policies, nodes, clusterPolicies };
}

// ---- structure a backend relies on ----

function tierProblems(name: string, d: TierDirection): string[] {
  const out: string[] = [];
  const sorted = (xs: string[], cmp: (a: string, b: string) => number) => xs.every((x, i) => i === 0 || cmp(xs[i - 1], x) < 0);
  if (!sorted(d.subjects, compareIpText)) out.push(`${name}: subjects not sorted`);
  if (!sorted(d.classes.map((c) => c.key), (a, b) => (a < b ? -1 : a > b ? 1 : 0))) out.push(`${name}: class keys not sorted or not unique`);
  const subjects = new Set(d.subjects);
  const blocks: { family: number; first: bigint; last: bigint; key: string }[] = [];
  for (const c of d.classes) {
    if (c.decide.length === 0) out.push(`${name}: class ${c.key} decides nothing`);
    if (!sorted(c.decide.map((x) => x.localIp), compareIpText)) out.push(`${name}: decisions of ${c.key} not sorted`);
    for (const x of c.decide) {
      if (!subjects.has(x.localIp)) out.push(`${name}: a decision for ${x.localIp}, which is no subject`);
      if (x.other === 'pass' && x.ports.length === 0) out.push(`${name}: an all-pass decision for ${x.localIp}`);
      const order = { tcp: 0, udp: 1, sctp: 2 };
      x.ports.forEach((r, i) => {
        if (r.verdict === x.other) out.push(`${name}: a range with the verdict of other`);
        if (r.first > r.last || r.first < 0 || r.last > 65535) out.push(`${name}: bad range`);
        const p = x.ports[i - 1];
        if (p && (order[p.protocol] > order[r.protocol] || (p.protocol === r.protocol && p.last >= r.first))) out.push(`${name}: ranges not sorted or overlapping`);
      });
    }
    for (const cidr of c.cidrs) {
      const b = parseCidrBlock(cidr)!;
      blocks.push({ family: b.family, first: b.first, last: b.last, key: c.key });
    }
  }
  blocks.sort((a, b) => a.family - b.family || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  for (let i = 1; i < blocks.length; i++) {
    if (blocks[i - 1].family === blocks[i].family && blocks[i].first <= blocks[i - 1].last) out.push(`${name}: CIDRs of classes ${blocks[i - 1].key} and ${blocks[i].key} overlap`);
  }
  return out;
}

// ---- the comparison ----

function compareCluster(seed: number, big = false): { checks: number; failures: string[]; decided: Record<string, number> } {
  const rng = prng(seed ^ 0x5eed);
  const input = randomInput(seed, big);
  const compiled = compileNodePolicy(input, NODE);
  const evaluator = new PolicyEvaluator(input);
  const failures: string[] = [];
  const decided: Record<string, number> = {};
  const fail = (message: string) => failures.length < 5 && failures.push(`seed ${seed}: ${message}`);

  for (const tier of ['admin', 'baseline'] as const) {
    const t: TierPolicy | undefined = compiled[tier];
    if (t) for (const d of ['ingress', 'egress'] as const) for (const p of tierProblems(`${tier} ${d}`, t[d])) fail(p);
  }
  if (JSON.stringify(compiled.clusterProblems ?? []) !== JSON.stringify(evaluator.clusterProblems)) fail('cluster problems differ between compiler and evaluator');
  const shuffled: PolicyInput = { ...input, pods: rng.shuffle(input.pods), clusterPolicies: rng.shuffle(input.clusterPolicies!), nodes: rng.shuffle(input.nodes!) };
  if (JSON.stringify(compileNodePolicy(shuffled, NODE)) !== JSON.stringify(compiled)) fail('the same cluster in another order compiles differently');

  const model = new NodePolicyLookup(compiled);
  const local = [...new Set(input.pods.filter((p) => p.nodeName === NODE && !p.hostNetwork && (p.labels === null || !['Succeeded', 'Failed'].includes(p.phase ?? ''))).flatMap((p) => p.ips.map((ip) => canonicalIpText(ip)!)))];
  // Subjects: exactly the local addresses some policy of the tier selects for the direction
  // (for the Baseline tier, of those NetworkPolicy does not isolate: it decides for the others).
  for (const tier of ['Admin', 'Baseline'] as const) {
    for (const d of ['ingress', 'egress'] as const) {
      const reaches = (ip: string) => tier === 'Admin' || !evaluator.direction(d, parseIp(ip)!, parseIp(ip)!, 'tcp', 80, false).isolated;
      const want = local.filter((ip) => reaches(ip) && evaluator.clusterPoliciesSelecting(d, parseIp(ip)!).some((p) => p.tier === tier)).sort(compareIpText);
      const have = compiled[tier === 'Admin' ? 'admin' : 'baseline']?.[d].subjects ?? [];
      if (JSON.stringify(want) !== JSON.stringify(have)) fail(`${tier} ${d} subjects: ${have.join(' ')}, the evaluator selects ${want.join(' ')}`);
    }
  }
  const peers = [...addressesOf(input, rng), '203.0.113.1', '203.0.113.2', 'fd00:ff::1', ...input.nodes!.flatMap((n) => n.addresses)];
  let checks = 0;
  for (const localIp of local) {
    for (const peerIp of big ? rng.shuffle([...new Set(peers)]).slice(0, 25) : new Set(peers)) {
      if (parseIp(peerIp)!.family !== parseIp(localIp)!.family) continue; // no such packet
      for (let k = 0; k < 3; k++) {
        const protocol = rng.pick(['tcp', 'tcp', 'udp', 'sctp', 'icmp']);
        const port = protocol === 'icmp' ? undefined : rng.chance(0.85) ? rng.pick(PROBE_PORTS) : rng.int(1, 65535);
        for (const direction of ['ingress', 'egress'] as const) {
          const got = model.verdict(direction, localIp, peerIp, protocol, port);
          const want = evaluator.direction(direction, parseIp(localIp)!, parseIp(peerIp)!, protocol, port);
          const match = want.decidedBy === 'admin' ? want.admin : want.decidedBy === 'baseline' ? want.baseline : undefined;
          const wantRule = match && clusterMatchText({ ...match, ties: [] }, direction);
          // The model's rule words: "Admin c1 ingress rule 2 (r3)"; the evaluator's: "Admin priority 1 c1 ingress rule 2 (r3): Deny".
          const gotRule = got.rule && match ? `${match.tier} priority ${match.priority} ${got.rule.slice(match.tier.length + 1)}: ${match.action}` : got.rule;
          // A port range whose verdict is the one `other` has is not listed: its rule's name is lost
          // to the rule deciding `other` (the same verdict: the kernel does the same either way).
          const absorbed = match !== undefined && got.rule !== undefined && evaluator.clusterPolicies.find((p) => p.name === match.policy)?.[direction].find((r) => r.index === match.rule)?.ports !== null;
          checks++;
          decided[want.decidedBy] = (decided[want.decidedBy] ?? 0) + 1;
          if (got.allowed !== want.allowed || got.decidedBy !== want.decidedBy || (gotRule !== wantRule && !absorbed)) {
            fail(
              `${direction} local ${localIp} peer ${peerIp} ${protocol}/${port}: the model says ${got.allowed ? 'allowed' : 'denied'} by ${got.decidedBy} (${got.rule ?? '-'}), ` +
                `the evaluator ${want.allowed ? 'allowed' : 'denied'} by ${want.decidedBy} (${want.reason})`,
            );
          }
        }
      }
    }
  }
  return { checks, failures, decided };
}

function dump(seed: number, policy: NodePolicy, big = false): string {
  return JSON.stringify({ input: randomInput(seed, big), compiled: policy }, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 1);
}

/** The seeds' clusters compared, up to the first ten failures; with `only`, one seed and its dump on failure. */
function compareSeeds(t: ExecutionContext, seeds: readonly number[], big: boolean, only: string | undefined): { checks: number; failures: string[]; decided: Record<string, number> } {
  const total = { checks: 0, failures: [] as string[], decided: {} as Record<string, number> };
  for (const seed of only ? [Number(only)] : seeds) {
    if (total.failures.length >= 10) break;
    const result = compareCluster(seed, big);
    total.checks += result.checks;
    total.failures.push(...result.failures);
    for (const [k, n] of Object.entries(result.decided)) total.decided[k] = (total.decided[k] ?? 0) + n;
  }
  if (total.failures.length > 0 && only) t.log(dump(Number(only), compileNodePolicy(randomInput(Number(only), big), NODE), big));
  return total;
}

test('the compiled tiers, composed as the kernel composes them, agree with the reference evaluator on random clusters', (t) => {
  const only = process.env.CNP_SEED;
  const seeds = Array.from({ length: Number(process.env.CNP_CLUSTERS ?? 300) }, (_, i) => 7000 + i);
  const { checks, failures, decided } = compareSeeds(t, seeds, false, only);
  t.deepEqual(failures, [], 'reproduce one with CNP_SEED=<seed>');
  t.log(`${only ? 1 : seeds.length} clusters, ${checks} packets compared; decided by ${Object.entries(decided).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  // Every stage must decide often enough, or agreement means little.
  if (!only) {
    t.true(checks > 100_000);
    for (const stage of ['admin', 'networkPolicy', 'baseline', 'default']) t.true((decided[stage] ?? 0) > checks / 50, `${stage} decides in at least 2% of the packets`);
  }
});

test('the same on big namespaces (the label index path)', (t) => {
  const only = process.env.CNP_BIG_SEED;
  const { checks, failures } = compareSeeds(t, Array.from({ length: 12 }, (_, i) => 9000 + i), true, only);
  t.deepEqual(failures, [], 'reproduce one with CNP_BIG_SEED=<seed>');
  t.log(`${only ? 1 : 12} big clusters, ${checks} packets compared`);
  if (!only) t.true(checks > 20_000);
});
