/**
 * The compiler against the reference evaluator on random clusters: namespaces with and without
 * objects, pods with labels, addresses (IPv4 and IPv6, some shared by hostNetwork and finished
 * pods), named ports that differ per pod, pods without objects; policies with random selectors
 * and expressions, ipBlocks with excepts, numeric and named ports, endPorts, policyTypes, and now
 * and then an invalid one. For many packets to and from this node's pods, the class lookup a
 * backend does (policy/lookup.ts) must agree with the direct evaluation (policy/evaluate.ts).
 * Also: the structure a backend relies on (sorted, disjoint, minimal), and the same result for
 * the same cluster listed in another order.
 *
 * Seeded: a failure names its seed. POLICY_SEED=<n> (POLICY_BIG_SEED=<n> for the big ones) runs
 * that one cluster only; POLICY_CLUSTERS=<n> changes how many small ones are generated.
 */
import test from 'ava';
import type { DirectionPolicy, NodePolicy, PortRange } from '../../agent/dataplane/policy-state';
import { canonicalIpText, parseCidrBlock, parseIp, rangeToCidrs, type CidrBlock } from '../../policy/address';
import { compileNodePolicy } from '../../policy/compile';
import { PolicyEvaluator } from '../../policy/evaluate';
import type { PolicyInput } from '../../policy/input';
import { DirectionLookup } from '../../policy/lookup';
import { addressesOf, NODE, PROBE_PORTS, prng, randomCluster } from '../helpers/random-cluster';

// ---- structure a backend relies on ----

function checkPorts(ports: 'all' | PortRange[]): string | undefined {
  if (ports === 'all') return undefined;
  if (ports.length === 0) return 'empty port list';
  const order = { tcp: 0, udp: 1, sctp: 2 };
  for (let i = 1; i < ports.length; i++) {
    const a = ports[i - 1];
    const b = ports[i];
    if (order[a.protocol] > order[b.protocol] || (a.protocol === b.protocol && b.first <= a.last + 1)) return `ranges not sorted/merged: ${JSON.stringify(ports)}`;
  }
  return ports.find((r) => r.first > r.last || r.first < 0 || r.last > 65535) ? 'bad range' : undefined;
}

function structureProblems(d: DirectionPolicy): string[] {
  const out: string[] = [];
  const ipOrder = (a: string, b: string) => {
    const x = parseIp(a)!;
    const y = parseIp(b)!;
    return x.family - y.family || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0);
  };
  const sortedUnique = (xs: string[], cmp: (a: string, b: string) => number) => xs.every((x, i) => i === 0 || cmp(xs[i - 1], x) < 0);
  if (!sortedUnique(d.isolated, ipOrder)) out.push('isolated not sorted');
  if (!sortedUnique(d.classes.map((c) => c.key), (a, b) => (a < b ? -1 : a > b ? 1 : 0))) out.push('class keys not sorted or not unique');
  const isolated = new Set(d.isolated);
  const all: { block: CidrBlock; key: string }[] = [];
  for (const allowances of [d.anyPeer, ...d.classes.map((c) => c.allow)]) {
    if (!sortedUnique(allowances.map((a) => a.localIp), ipOrder)) out.push('allowances not sorted by local address');
    for (const a of allowances) {
      if (!isolated.has(a.localIp)) out.push(`allowance for ${a.localIp}, which is not isolated`);
      const p = checkPorts(a.ports);
      if (p) out.push(p);
      if (a.policies.length === 0 || !sortedUnique(a.policies, (x, y) => (x < y ? -1 : x > y ? 1 : 0))) out.push('policies empty or not sorted');
    }
  }
  for (const c of d.classes) {
    if (c.allow.length === 0) out.push(`class ${c.key} allows nothing`);
    const blocks = c.cidrs.map((text) => {
      const b = parseCidrBlock(text);
      if (!b || `${text}` !== `${rangeToCidrs({ family: b.family, first: b.first, last: b.last })[0]}`) out.push(`not a canonical CIDR: ${text}`);
      return b!;
    });
    // Minimal: the class's CIDRs, merged into maximal ranges, cut again give the same list.
    const ranges: { family: 4 | 6; first: bigint; last: bigint }[] = [];
    for (const b of blocks) {
      const last = ranges[ranges.length - 1];
      if (last && last.family === b.family && last.last + 1n === b.first) last.last = b.last;
      else ranges.push({ family: b.family, first: b.first, last: b.last });
    }
    if (JSON.stringify(ranges.flatMap(rangeToCidrs)) !== JSON.stringify(c.cidrs)) out.push(`class ${c.key}: CIDRs not sorted or not minimal: ${c.cidrs.join(' ')}`);
    for (const block of blocks) all.push({ block, key: c.key });
  }
  all.sort((a, b) => a.block.family - b.block.family || (a.block.first < b.block.first ? -1 : a.block.first > b.block.first ? 1 : 0));
  for (let i = 1; i < all.length; i++) {
    const a = all[i - 1];
    const b = all[i];
    if (a.block.family === b.block.family && b.block.first <= a.block.last) out.push(`CIDRs of classes ${a.key} and ${b.key} overlap`);
  }
  return out;
}

// ---- the comparison ----

function compareCluster(seed: number, big = false): { checks: number; failures: string[] } {
  const rng = prng(seed);
  const input = randomCluster(rng, big);
  const compiled = compileNodePolicy(input, NODE);
  const evaluator = new PolicyEvaluator(input);
  const failures: string[] = [];
  const fail = (message: string) => failures.length < 5 && failures.push(`seed ${seed}: ${message}`);

  for (const direction of ['ingress', 'egress'] as const) for (const p of structureProblems(compiled[direction])) fail(`${direction}: ${p}`);
  if (JSON.stringify(compiled.problems) !== JSON.stringify(evaluator.problems)) fail('problems differ between compiler and evaluator');
  const shuffled: PolicyInput = { namespaces: rng.shuffle(input.namespaces), pods: rng.shuffle(input.pods), policies: rng.shuffle(input.policies) };
  if (JSON.stringify(compileNodePolicy(shuffled, NODE)) !== JSON.stringify(compiled)) fail('the same cluster in another order compiles differently');

  const lookups = { ingress: new DirectionLookup(compiled.ingress), egress: new DirectionLookup(compiled.egress) };
  const local = input.pods.filter((p) => p.nodeName === NODE && !p.hostNetwork && (p.labels === null || !['Succeeded', 'Failed'].includes(p.phase ?? ''))).flatMap((p) => p.ips.map((ip) => canonicalIpText(ip)!));
  const peers = addressesOf(input, rng);
  let checks = 0;
  for (const localIp of local) {
    for (const peerIp of big ? rng.shuffle(peers).slice(0, 25) : peers) {
      if (parseIp(peerIp)!.family !== parseIp(localIp)!.family) continue; // no such packet
      for (let k = 0; k < 3; k++) {
        const protocol = rng.pick(['tcp', 'tcp', 'udp', 'sctp', 'icmp']);
        const port = protocol === 'icmp' ? undefined : rng.chance(0.85) ? rng.pick(PROBE_PORTS) : rng.int(1, 65535);
        for (const direction of ['ingress', 'egress'] as const) {
          const fromClasses = lookups[direction].lookup(localIp, peerIp, protocol, port);
          const reference = evaluator.direction(direction, parseIp(localIp)!, parseIp(peerIp)!, protocol, port);
          checks++;
          if (fromClasses.isolated !== reference.isolated || fromClasses.allowed !== reference.allowed) {
            fail(
              `${direction} local ${localIp} peer ${peerIp} ${protocol}/${port}: classes say isolated=${fromClasses.isolated} allowed=${fromClasses.allowed} ` +
                `(class ${fromClasses.classKey ?? 'none'}), the evaluator says isolated=${reference.isolated} allowed=${reference.allowed} (${reference.reason})`,
            );
          } else if (reference.allowed && reference.isolated) {
            // An allowance names every policy contributing to it (for any port): at least those
            // whose rules admit this packet, at most those selecting the pod.
            const admitting = reference.rules.map((r) => r.policy);
            if (!admitting.every((p) => fromClasses.policies.includes(p)) || !fromClasses.policies.every((p) => reference.policies.includes(p))) {
              fail(`${direction} local ${localIp} peer ${peerIp} ${protocol}/${port}: allowed by ${fromClasses.policies.join()} per classes, by ${admitting.join()} of ${reference.policies.join()} per the evaluator`);
            }
          }
        }
      }
    }
  }
  return { checks, failures };
}

function dump(seed: number, big: boolean, policy: NodePolicy): string {
  return JSON.stringify({ input: randomCluster(prng(seed), big), compiled: policy }, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 1);
}

test('class lookup agrees with the reference evaluator on random clusters', (t) => {
  const only = process.env.POLICY_SEED;
  const seeds = only ? [Number(only)] : Array.from({ length: Number(process.env.POLICY_CLUSTERS ?? 300) }, (_, i) => 1000 + i);
  let checks = 0;
  let isolatedSeen = 0;
  const failures: string[] = [];
  for (const seed of seeds) {
    const result = compareCluster(seed);
    checks += result.checks;
    failures.push(...result.failures);
    if (compileNodePolicy(randomCluster(prng(seed)), NODE).ingress.classes.length > 0) isolatedSeen++;
    if (failures.length >= 10) break;
  }
  if (failures.length > 0 && only) t.log(dump(Number(only), false, compileNodePolicy(randomCluster(prng(Number(only))), NODE)));
  t.deepEqual(failures, [], `reproduce one with POLICY_SEED=<seed>`);
  t.log(`${seeds.length} clusters, ${checks} packets compared; ${isolatedSeen} clusters had ingress classes`);
  // The generator must exercise the interesting cases, or agreement means little.
  if (!only) {
    t.true(checks > 100_000);
    t.true(isolatedSeen > seeds.length / 3);
  }
});

test('the same on big namespaces (the label index path)', (t) => {
  const only = process.env.POLICY_BIG_SEED;
  const seeds = only ? [Number(only)] : Array.from({ length: 12 }, (_, i) => 5000 + i);
  let checks = 0;
  const failures: string[] = [];
  for (const seed of seeds) {
    const result = compareCluster(seed, true);
    checks += result.checks;
    failures.push(...result.failures);
    if (failures.length >= 10) break;
  }
  if (failures.length > 0 && only) t.log(dump(Number(only), true, compileNodePolicy(randomCluster(prng(Number(only)), true), NODE)));
  t.deepEqual(failures, [], 'reproduce one with POLICY_BIG_SEED=<seed>');
  t.log(`${seeds.length} big clusters, ${checks} packets compared`);
  if (!only) t.true(checks > 20_000);
});
