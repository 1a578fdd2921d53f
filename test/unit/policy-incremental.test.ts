/**
 * The node's compiler follows pod changes (policy/compile.ts NodePolicyCompiler: the cluster
 * index, grants, peer classes and allowances updated where the change reaches) and must give
 * what a compile from scratch gives, after every change: on random clusters (policy-random's,
 * with a few ClusterNetworkPolicies, which are compiled on the index the compiler keeps), random
 * sequences of pods added, removed and changed (labels, addresses, named ports, node, hostNetwork,
 * phase, the Pod object known or not), reordered, several at once, and now and then a change of
 * a namespace or a policy (the compiler starts over) or a pod listed twice.
 *
 * Seeded: a failure names its seed and step. INCREMENTAL_SEED=<n> runs that one sequence only.
 */
import test from 'ava';
import type { KubeObject } from '../../agent/objects';
import { compileNodePolicy, listChanges, NodePolicyCompiler } from '../../policy/compile';
import type { ContainerPort, PolicyInput, PolicyPod } from '../../policy/input';
import { LABELS, NODE, NODE_IPS, NS_LABELS, PORT_NAMES, PORT_NUMBERS, prng, randomCluster, randomSelector, v4, v6, type Rng } from '../helpers/random-cluster';

/** A few ClusterNetworkPolicies of simple shapes: pod and namespace peers, a network, named and numbered ports. */
function someClusterPolicies(rng: Rng): KubeObject[] {
  if (rng.chance(0.5)) return [];
  return Array.from({ length: rng.int(1, 3) }, (_, i) => {
    const pods = () => ({ pods: { namespaceSelector: randomSelector(rng, NS_LABELS), podSelector: randomSelector(rng, LABELS) } });
    const port = rng.chance(0.5) ? { destinationNamedPort: rng.pick(PORT_NAMES) } : { tcp: { destinationPort: { number: rng.pick(PORT_NUMBERS) } } };
    return {
      apiVersion: 'policy.networking.k8s.io/v1alpha2',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: `c${i}` },
      spec: {
        tier: rng.pick(['Admin', 'Baseline']),
        priority: rng.int(0, 3),
        subject: rng.chance(0.5) ? { namespaces: randomSelector(rng, NS_LABELS) } : pods(),
        ingress: [{ action: rng.pick(['Accept', 'Deny', 'Pass']), from: [pods(), { namespaces: randomSelector(rng, NS_LABELS) }], protocols: [port] }],
        egress: [{ action: rng.pick(['Accept', 'Deny', 'Pass']), to: [pods(), { networks: [`${v4(rng.int(0, 31))}/${rng.pick([28, 30, 32])}`] }] }],
      },
    };
  });
}

function randomPorts(rng: Rng): ContainerPort[] {
  return Array.from({ length: rng.int(0, 3) }, () => ({
    ...(rng.chance(0.8) ? { name: rng.pick(PORT_NAMES) } : {}),
    containerPort: rng.pick(PORT_NUMBERS),
    ...(rng.chance(0.5) ? { protocol: rng.pick(['TCP', 'UDP']) } : {}),
  }));
}

function randomLabels(rng: Rng): Record<string, string> {
  return Object.fromEntries(rng.subset(Object.keys(LABELS)).map((k) => [k, rng.pick(LABELS[k])]));
}

/** Addresses from the same small pools as the cluster's, so that new ones meet ipBlocks and old addresses. */
function randomIps(rng: Rng): string[] {
  return [v4(rng.int(0, 40)), ...(rng.chance(0.3) ? [v6(rng.int(0, 40))] : [])];
}

/** One change to a pod: a new object (the compiler tells changes by identity). */
function changed(rng: Rng, pod: PolicyPod): PolicyPod {
  const r = rng.int(0, 8);
  if (r === 0) return { ...pod, labels: randomLabels(rng) };
  if (r === 1) return { ...pod, ips: randomIps(rng) };
  if (r === 2) return { ...pod, containerPorts: randomPorts(rng) };
  if (r === 3) return { ...pod, nodeName: pod.nodeName === NODE ? 'n2' : NODE };
  if (r === 4) return pod.hostNetwork ? { ...pod, hostNetwork: false, ips: randomIps(rng) } : { ...pod, hostNetwork: true, ips: [NODE_IPS[pod.nodeName ?? 'n2'] ?? NODE_IPS.n2] };
  if (r === 5) return { ...pod, phase: rng.pick(['Running', 'Succeeded', 'Failed', 'Pending']) };
  if (r === 6) return { ...pod, labels: pod.labels === null ? randomLabels(rng) : null };
  if (r === 7) return { ...pod }; // the same pod, a new object
  return { ...pod, labels: { ...(pod.labels ?? {}), app: rng.pick(LABELS.app) }, ips: randomIps(rng) };
}

/** The next input: pods changed, added, removed, reordered; sometimes a namespace or a policy. */
function step(rng: Rng, input: PolicyInput, serial: () => number): PolicyInput {
  let pods = [...input.pods];
  for (let n = rng.int(1, 3); n > 0; n--) {
    const r = rng.next();
    if (r < 0.5 && pods.length > 0) {
      const i = rng.int(0, pods.length - 1);
      pods[i] = changed(rng, pods[i]);
    } else if (r < 0.7) {
      const nodeName = rng.chance(0.5) ? NODE : 'n2';
      const namespace = rng.pick([...new Set([...input.namespaces.map((ns) => ns.name), ...input.pods.map((p) => p.namespace)])]);
      pods.push({ namespace, name: `new${serial()}`, labels: rng.chance(0.9) ? randomLabels(rng) : null, ips: randomIps(rng), nodeName, containerPorts: randomPorts(rng) });
    } else if (r < 0.85 && pods.length > 0) pods.splice(rng.int(0, pods.length - 1), 1);
    else if (r < 0.92) pods = rng.shuffle(pods);
    else if (r < 0.95 && pods.length > 0) pods.push(rng.pick(pods)); // the same pod twice
  }
  const out: PolicyInput = { ...input, pods };
  if (rng.chance(0.05) && input.namespaces.length > 0) {
    const i = rng.int(0, input.namespaces.length - 1);
    out.namespaces = input.namespaces.map((ns, j) => (j === i ? { ...ns, labels: Object.fromEntries(rng.subset(Object.keys(NS_LABELS)).map((k) => [k, rng.pick(NS_LABELS[k])])) } : ns));
  }
  if (rng.chance(0.05) && input.policies.length > 0) out.policies = input.policies.slice(1);
  return out;
}

/** A sequence from one seed: the first mismatch, as text, or undefined. */
function runSequence(seed: number, steps: number, big: boolean): string | undefined {
  const rng = prng(seed);
  const cluster = randomCluster(rng, big);
  let input: PolicyInput = { ...cluster, clusterPolicies: someClusterPolicies(rng) };
  let n = 0;
  const compiler = new NodePolicyCompiler(NODE);
  for (let i = 0; i <= steps; i++) {
    if (i > 0) input = step(rng, input, () => n++);
    const kept = JSON.stringify(compiler.compile(input));
    const fresh = JSON.stringify(compileNodePolicy(input, NODE));
    if (kept !== fresh) return `seed ${seed}${big ? ' (big)' : ''}, step ${i}: the compiler that followed the changes differs from a fresh compile`;
  }
  return undefined;
}

const only = process.env.INCREMENTAL_SEED;

test('after every pod change, the compiler that followed the changes compiles what a fresh compile does', (t) => {
  const seeds = only ? [Number(only)] : Array.from({ length: 200 }, (_, i) => i + 1);
  const failures = seeds.map((seed) => runSequence(seed, 30, false)).filter((f): f is string => f !== undefined);
  t.deepEqual(failures, []);
});

test('the same on big clusters (label index, many points, many changes at once)', (t) => {
  const seeds = only ? [] : Array.from({ length: 8 }, (_, i) => 1000 + i);
  const failures = seeds.map((seed) => runSequence(seed, 30, true)).filter((f): f is string => f !== undefined);
  t.deepEqual(failures, []);
});

test('an ipBlock peer that comes to name a port: the pods in its range with that port resolve it, and stop when it no longer does', (t) => {
  const egress = (name: string, app: string, port: number | string): KubeObject => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: 'a' },
    spec: { podSelector: { matchLabels: { app } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.1.0.0/24' } }], ports: [{ port }] }] },
  });
  const pod = (name: string, labels: Record<string, string>, ip: string, nodeName: string, containerPorts: ContainerPort[] = []): PolicyPod => ({ namespace: 'a', name, labels, ips: [ip], nodeName, containerPorts });
  // Only "two" changes from one compile to the next (the compiler follows pod changes only).
  const namespaces = [{ name: 'a', labels: {} }];
  const one = pod('one', { app: 'one' }, '10.0.0.1', NODE);
  const server = pod('server', { app: 'server' }, '10.1.0.5', 'n2', [{ name: 'http', containerPort: 8080 }]);
  // The same ipBlock: one peer, named by "by-number" always, by "by-name" while "two" is "named".
  const policies = [egress('by-number', 'one', 443), egress('by-name', 'named', 'http')];
  const input = (clientApp: string): PolicyInput => ({ namespaces, pods: [one, pod('two', { app: clientApp }, '10.0.0.2', NODE), server], policies });
  const compiler = new NodePolicyCompiler(NODE);
  for (const app of ['other', 'named', 'other', 'named']) {
    const kept = compiler.compile(input(app));
    t.deepEqual(kept, compileNodePolicy(input(app), NODE), app);
    const http = kept.egress.classes.some((c) => c.cidrs.includes('10.1.0.5/32') && c.allow.some((a) => a.localIp === '10.0.0.2' && a.ports !== 'all' && a.ports.some((r) => r.first === 8080)));
    t.is(http, app === 'named', `${app}: the server's http port allowed to "two"`);
  }
});

test('listChanges: what left and what came, by identity, whatever moved', (t) => {
  const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name }));
  const changes = (prev: object[], next: object[]) => listChanges(prev, new Set(prev), next, 10);
  t.deepEqual(changes([a, b, c], [a, b, c]), { removed: [], added: [] });
  t.deepEqual(changes([a, b, c], [a, c]), { removed: [b], added: [] });
  t.deepEqual(changes([a, b, c], [a, d, c]), { removed: [b], added: [d] });
  t.deepEqual(changes([a, b, c], [a, b, c, d]), { removed: [], added: [d] });
  t.deepEqual(changes([a, b, c, d], [d, c, b, a]), { removed: [], added: [] });
  t.deepEqual(changes([a, b, c], [c, e, a]), { removed: [b], added: [e] });
  // Twice in the new list: no answer (the caller starts over).
  t.is(changes([a, b, c], [a, b, c, a]), undefined);
  t.is(changes([a, b], [a, a]), undefined);
  // More changes than the limit: no answer.
  t.is(listChanges([a, b, c, d, e], new Set([a, b, c, d, e]), [], 3), undefined);
});
