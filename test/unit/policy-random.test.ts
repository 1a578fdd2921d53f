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
import type { KubeObject } from '../../agent/objects';
import { canonicalIpText, parseCidrBlock, parseIp, rangeToCidrs, type CidrBlock } from '../../policy/address';
import { compileNodePolicy } from '../../policy/compile';
import { PolicyEvaluator } from '../../policy/evaluate';
import type { ContainerPort, PolicyInput, PolicyPod } from '../../policy/input';
import { DirectionLookup } from '../../policy/lookup';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const chance = (p: number) => next() < p;
  const subset = <T>(xs: readonly T[], max = xs.length): T[] => xs.filter(() => chance(0.5)).slice(0, max);
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
  return { next, int, pick, chance, subset, shuffle };
}
type Rng = ReturnType<typeof prng>;

const NODE = 'n1';
const NODE_IPS: Record<string, string> = { n1: '192.168.0.1', n2: '192.168.0.2' };
const LABELS: Record<string, string[]> = { app: ['web', 'db', 'api'], tier: ['fe', 'be'], v: ['1', '2'] };
const NS_LABELS: Record<string, string[]> = { team: ['red', 'blue'], env: ['prod', 'dev'] };
const PORT_NAMES = ['http', 'metrics', 'dns'];
const PORT_NUMBERS = [53, 80, 81, 8080, 9090];

// Addresses come from small pools so that ipBlocks, excepts and pods overlap a lot.
const v4 = (i: number) => `10.0.0.${i}`;
const v6 = (i: number) => `fd00::${i.toString(16)}`;

function randomSelector(rng: Rng, pool: Record<string, string[]>): Record<string, unknown> {
  if (rng.chance(0.3)) return {};
  const out: Record<string, unknown> = {};
  const keys = Object.keys(pool);
  if (rng.chance(0.6)) out.matchLabels = Object.fromEntries(rng.subset(keys, 2).map((k) => [k, rng.pick(pool[k])]));
  if (rng.chance(0.5)) {
    out.matchExpressions = Array.from({ length: rng.int(1, 2) }, () => {
      const key = rng.chance(0.9) ? rng.pick(keys) : 'absent';
      const operator = rng.pick(['In', 'NotIn', 'Exists', 'DoesNotExist']);
      const values = operator === 'In' || operator === 'NotIn' ? rng.subset(pool[key] ?? ['x'], 2).concat(rng.chance(0.3) ? ['other'] : []) : [];
      return { key, operator, values: values.length ? values : ['x'] };
    }).map((e) => (e.operator === 'Exists' || e.operator === 'DoesNotExist' ? { key: e.key, operator: e.operator } : e));
  }
  return out;
}

function randomIpBlock(rng: Rng): Record<string, unknown> {
  if (rng.chance(0.75)) {
    if (rng.chance(0.1)) return { cidr: '0.0.0.0/0', except: rng.chance(0.5) ? ['10.0.0.0/27'] : [] };
    const prefix = rng.pick([24, 26, 27, 28, 29, 30, 31, 32]);
    const base = rng.int(0, 31);
    const except: string[] = [];
    for (let i = rng.int(0, 2); i > 0 && prefix < 32; i--) {
      const ep = rng.int(prefix + 1, 32);
      const size = 2 ** (32 - prefix);
      const start = (base & ~(size - 1)) >>> 0;
      except.push(`${v4((start + rng.int(0, Math.min(size, 256) - 1)) & 255)}/${ep}`);
    }
    return { cidr: `${v4(base)}/${prefix}`, ...(except.length || rng.chance(0.5) ? { except } : {}) };
  }
  const prefix = rng.pick([0, 120, 123, 125, 126, 127, 128]);
  const base = rng.int(0, 31);
  const except = prefix < 128 && prefix > 0 && rng.chance(0.5) ? [`${v6(base)}/${rng.int(prefix + 1, 128)}`] : [];
  return { cidr: prefix === 0 ? '::/0' : `${v6(base)}/${prefix}`, except };
}

function randomPeer(rng: Rng): Record<string, unknown> {
  const r = rng.next();
  if (r < 0.3) return { podSelector: randomSelector(rng, LABELS) };
  if (r < 0.55) return { namespaceSelector: randomSelector(rng, NS_LABELS) };
  if (r < 0.75) return { namespaceSelector: randomSelector(rng, NS_LABELS), podSelector: randomSelector(rng, LABELS) };
  return { ipBlock: randomIpBlock(rng) };
}

function randomPort(rng: Rng): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (rng.chance(0.6)) out.protocol = rng.pick(['TCP', 'UDP', 'SCTP']);
  const r = rng.next();
  if (r < 0.45) {
    out.port = rng.chance(0.8) ? rng.pick(PORT_NUMBERS) : rng.int(1, 65535);
    if (rng.chance(0.3)) out.endPort = Math.min(65535, (out.port as number) + rng.int(0, 100));
  } else if (r < 0.75) out.port = rng.pick([...PORT_NAMES, 'nope']);
  return out;
}

function randomRules(rng: Rng, peerField: 'from' | 'to'): Record<string, unknown>[] | undefined {
  if (rng.chance(0.2)) return undefined;
  if (rng.chance(0.1)) return [];
  return Array.from({ length: rng.int(1, 3) }, () => {
    const rule: Record<string, unknown> = {};
    const peers = rng.next();
    if (peers < 0.65) rule[peerField] = Array.from({ length: rng.int(1, 3) }, () => randomPeer(rng));
    else if (peers < 0.75) rule[peerField] = [];
    const ports = rng.next();
    if (ports < 0.6) rule.ports = Array.from({ length: rng.int(1, 3) }, () => randomPort(rng));
    else if (ports < 0.7) rule.ports = [];
    return rule;
  });
}

/** Breaks a valid spec in one of the ways the API server refuses. */
function spoil(rng: Rng, spec: Record<string, unknown>): void {
  const r = rng.int(0, 5);
  if (r === 0) spec.podSelector = { matchExpressions: [{ key: 'app', operator: 'Equals', values: ['web'] }] };
  else if (r === 1) spec.ingress = [{ from: [{ ipBlock: { cidr: '10.0.0.0/28', except: ['10.0.0.16/30'] } }] }];
  else if (r === 2) spec.egress = [{ ports: [{ port: 90, endPort: 80 }] }];
  else if (r === 3) spec.ingress = [{ ports: [{ protocol: 'ICMP', port: 1 }] }];
  else if (r === 4) spec.egress = [{ ports: [{ port: 'http', endPort: 90 }] }];
  else spec.ingress = [{ ports: [{ port: 0 }] }];
}

/**
 * A small cluster (a few namespaces, up to 16 pods), or a big one: one or two namespaces of
 * 90-150 pods, large enough for the compiler's label index (small namespaces are scanned).
 */
function randomCluster(rng: Rng, big = false): PolicyInput {
  const nsNames = Array.from({ length: big ? rng.int(1, 2) : rng.int(2, 4) }, (_, i) => `ns${i}`);
  const namespaces = nsNames
    .filter(() => rng.chance(0.85)) // some namespaces have no object (yet)
    .map((name) => {
      const labels: Record<string, string> = Object.fromEntries(rng.subset(Object.keys(NS_LABELS)).map((k) => [k, rng.pick(NS_LABELS[k])]));
      if (rng.chance(0.5)) labels['kubernetes.io/metadata.name'] = name;
      return { name, labels };
    });
  const free4 = rng.shuffle(Array.from({ length: big ? 256 : 32 }, (_, i) => i));
  const free6 = rng.shuffle(Array.from({ length: big ? 256 : 32 }, (_, i) => i));
  const pods: PolicyPod[] = [];
  for (let i = big ? rng.int(90, 150) : rng.int(5, 16); i > 0; i--) {
    const nodeName = rng.chance(0.55) ? 'n1' : 'n2';
    const kind = rng.next();
    const containerPorts: ContainerPort[] = Array.from({ length: rng.int(0, 3) }, () => ({
      ...(rng.chance(0.8) ? { name: rng.pick(PORT_NAMES) } : {}),
      containerPort: rng.pick(PORT_NUMBERS),
      ...(rng.chance(0.5) ? { protocol: rng.pick(['TCP', 'UDP']) } : {}),
    }));
    const base = {
      namespace: rng.pick(nsNames),
      name: `pod${i}`,
      labels: Object.fromEntries(rng.subset(Object.keys(LABELS)).map((k) => [k, rng.pick(LABELS[k])])),
      nodeName,
      containerPorts,
    };
    if (kind < 0.07) pods.push({ ...base, ips: [NODE_IPS[nodeName]], hostNetwork: true });
    else if (kind < 0.13) pods.push({ ...base, ips: [v4(rng.int(0, 31))], phase: rng.pick(['Succeeded', 'Failed']) }); // its address may be reused
    else {
      const ips = [v4(free4.pop()!), ...(rng.chance(0.3) ? [v6(free6.pop()!)] : [])];
      if (kind < 0.2) pods.push({ ...base, labels: null, ips, containerPorts: [] }); // registered, object not known
      else pods.push({ ...base, ips, ...(rng.chance(0.2) ? { phase: 'Running' } : {}) });
    }
  }
  const policies: KubeObject[] = [];
  for (let i = rng.int(1, 6); i > 0; i--) {
    const spec: Record<string, unknown> = { podSelector: randomSelector(rng, LABELS) };
    if (rng.chance(0.75)) spec.policyTypes = rng.shuffle(rng.subset(['Ingress', 'Egress'])).concat(rng.chance(0.2) ? ['Ingress'] : []).slice(0, 2);
    if ((spec.policyTypes as string[] | undefined)?.length === 0) delete spec.policyTypes;
    const ingress = randomRules(rng, 'from');
    const egress = randomRules(rng, 'to');
    if (ingress) spec.ingress = ingress;
    if (egress) spec.egress = egress;
    if (rng.chance(0.05)) spoil(rng, spec);
    policies.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: `p${i}`, namespace: rng.pick(nsNames) }, spec });
  }
  return { namespaces, pods, policies };
}

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

const PROBE_PORTS = [0, 1, 53, 54, 79, 80, 81, 82, 100, 8080, 8081, 8100, 9090, 65535];

function addressesOf(input: PolicyInput, rng: Rng): string[] {
  const out = new Set<string>(['8.8.8.8', '10.0.1.5', '10.0.0.255', '192.168.0.3', 'fd00::1:5', '2001:db8::1', '::', '0.0.0.0', '255.255.255.255']);
  for (const pod of input.pods) for (const ip of pod.ips) out.add(ip);
  for (const nodeIp of Object.values(NODE_IPS)) out.add(nodeIp);
  for (let i = 0; i < 12; i++) out.add(rng.chance(0.7) ? v4(rng.int(0, 40)) : v6(rng.int(0, 40)));
  return [...out];
}

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
