/**
 * Random clusters for the policy compilers' property tests (policy-random, cluster-policy-random):
 * namespaces with and without objects, pods with labels, addresses (IPv4 and IPv6, some shared
 * by hostNetwork and finished pods), named ports that differ per pod, pods without objects, and
 * NetworkPolicies with random selectors and expressions, ipBlocks with excepts, numeric and
 * named ports, endPorts, policyTypes, and now and then an invalid one. Seeded: the same seed
 * gives the same cluster everywhere.
 */
import type { KubeObject } from '../../agent/objects';
import type { ContainerPort, PolicyInput, PolicyPod } from '../../policy/input';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number) {
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
export type Rng = ReturnType<typeof prng>;

export const NODE = 'n1';
export const NODE_IPS: Record<string, string> = { n1: '192.168.0.1', n2: '192.168.0.2' };
export const LABELS: Record<string, string[]> = { app: ['web', 'db', 'api'], tier: ['fe', 'be'], v: ['1', '2'] };
export const NS_LABELS: Record<string, string[]> = { team: ['red', 'blue'], env: ['prod', 'dev'] };
export const PORT_NAMES = ['http', 'metrics', 'dns'];
export const PORT_NUMBERS = [53, 80, 81, 8080, 9090];

// Addresses come from small pools so that ipBlocks, excepts and pods overlap a lot.
export const v4 = (i: number) => `10.0.0.${i}`;
export const v6 = (i: number) => `fd00::${i.toString(16)}`;

export function randomSelector(rng: Rng, pool: Record<string, string[]>): Record<string, unknown> {
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
export function randomCluster(rng: Rng, big = false): PolicyInput {
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

// ---- addresses and ports to probe ----

export const PROBE_PORTS = [0, 1, 53, 54, 79, 80, 81, 82, 100, 8080, 8081, 8100, 9090, 65535];

export function addressesOf(input: PolicyInput, rng: Rng): string[] {
  const out = new Set<string>(['8.8.8.8', '10.0.1.5', '10.0.0.255', '192.168.0.3', 'fd00::1:5', '2001:db8::1', '::', '0.0.0.0', '255.255.255.255']);
  for (const pod of input.pods) for (const ip of pod.ips) out.add(ip);
  for (const nodeIp of Object.values(NODE_IPS)) out.add(nodeIp);
  for (let i = 0; i < 12; i++) out.add(rng.chance(0.7) ? v4(rng.int(0, 40)) : v6(rng.int(0, 40)));
  return [...out];
}
