/**
 * NetworkPolicy compile time at cluster scale, pure CPU: 5,000 pods on 50 nodes (100 on this
 * node), 200 namespaces, 1,000 policies (policy-cluster.ts), compiled for one node as the agent
 * does on every change. Figures: median and p90 of 20
 * compiles (from the plain input, and from the object cache through the agent's adapter), and
 * the size of the result (classes, CIDRs, allowances).
 */
import { ObjectCache } from '../agent/cache';
import { compileNodePolicyFromCache } from '../agent/compile/policy';
import type { NodePolicy } from '../agent/dataplane/policy-state';
import type { LocalPod } from '../agent/dataplane/node-state';
import { compileNodePolicy } from '../policy/compile';
import type { PolicyInput, PolicyPod } from '../policy/input';
import { syntheticCluster } from './policy-cluster';
import { step } from './progress';
import { benchNote, record } from './results';
import { fmt, summarize } from './stats';

const LOCAL_NODE = 'node-0';

function countOf(p: NodePolicy) {
  const dirs = [p.ingress, p.egress];
  return {
    classes: dirs.reduce((n, d) => n + d.classes.length, 0),
    cidrs: dirs.reduce((n, d) => n + d.classes.reduce((m, c) => m + c.cidrs.length, 0), 0),
    allowances: dirs.reduce((n, d) => n + d.anyPeer.length + d.classes.reduce((m, c) => m + c.allow.length, 0), 0),
    isolated: dirs.map((d) => d.isolated.length).join('/'),
  };
}

export async function benchPolicyCompile(runs = 20): Promise<void> {
  const { namespaces, pods, policies } = syntheticCluster();
  const cache = new ObjectCache();
  for (const object of [...namespaces, ...pods, ...policies]) cache.apply({ type: 'ADDED', object });
  const localPods: LocalPod[] = pods
    .filter((p) => p.spec?.nodeName === LOCAL_NODE)
    .map((p) => ({ namespace: p.metadata.namespace!, name: p.metadata.name, ips: (p.status!.podIPs as { ip: string }[]).map((x) => x.ip) }));
  const input: PolicyInput = {
    namespaces: namespaces.map((n) => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} })),
    pods: pods.map((p): PolicyPod => ({
      namespace: p.metadata.namespace!,
      name: p.metadata.name,
      labels: p.metadata.labels ?? {},
      ips: (p.status!.podIPs as { ip: string }[]).map((x) => x.ip),
      nodeName: p.spec!.nodeName as string,
      containerPorts: ((p.spec!.containers as { ports: { name: string; containerPort: number; protocol?: string }[] }[])[0].ports),
    })),
    policies,
  };

  // Wall time, and CPU time of this process (user + system; GC threads included), which other
  // load on the machine disturbs less than wall time. The two ways are interleaved so that
  // neither gets a quieter or a warmer moment; the first runs warm the JIT and are not counted.
  const ways = {
    plain: { fn: () => compileNodePolicy(input, LOCAL_NODE), wall: [] as number[], cpu: [] as number[], result: undefined as NodePolicy | undefined },
    cached: { fn: () => compileNodePolicyFromCache(cache, localPods, LOCAL_NODE), wall: [] as number[], cpu: [] as number[], result: undefined as NodePolicy | undefined },
  };
  let first = 0;
  step(`compile, plain and through the cache in turn, ${runs} + 3 warm-up runs`);
  for (let i = 0; i < runs + 3; i++) {
    for (const way of Object.values(ways)) {
      const started = performance.now();
      const startedCpu = process.cpuUsage();
      way.result = way.fn();
      const used = process.cpuUsage(startedCpu);
      if (i === 0 && way === ways.plain) first = performance.now() - started;
      if (i < 3) continue;
      way.wall.push(performance.now() - started);
      way.cpu.push((used.user + used.system) / 1000);
    }
  }
  const plain = { summary: summarize(ways.plain.wall), cpu: summarize(ways.plain.cpu), result: ways.plain.result! };
  const cached = { summary: summarize(ways.cached.wall), cpu: summarize(ways.cached.cpu), result: ways.cached.result! };
  const size = countOf(plain.result);
  console.log(`\nNetworkPolicy compile: ${pods.length} pods (${localPods.length} on this node), ${namespaces.length} namespaces, ${policies.length} policies, ${runs} runs`);
  for (const [label, t] of [['compile (plain input)    ', plain], ['compile (cache + adapter)', cached]] as const) {
    console.log(`  ${label}  median ${fmt(t.summary.median)} ms  p90 ${fmt(t.summary.p90)} ms  min ${fmt(t.summary.min)} ms  (CPU time median ${fmt(t.cpu.median)} ms)`);
  }
  for (const [way, name] of [['plain', 'plain input'], ['cached', 'cache + adapter']] as const) {
    record({ name: `compile (${name})`, unit: 'ms', samples: ways[way].wall });
    record({ name: `compile (${name}), CPU time`, unit: 'ms', samples: ways[way].cpu });
  }
  record({ name: 'first compile (JIT cold)', unit: 'ms', value: first, notes: 'one run' });
  console.log(`  first compile (JIT cold, no object distilled yet): ${fmt(first)} ms`);
  console.log(`  result: ${size.classes} classes, ${size.cidrs} CIDRs, ${size.allowances} allowances, isolated ingress/egress ${size.isolated}, ${plain.result.problems.length} problems`);
  benchNote(`${pods.length} pods (${localPods.length} on this node), ${namespaces.length} namespaces, ${policies.length} policies; result: ${size.classes} classes, ${size.cidrs} CIDRs, ${size.allowances} allowances, isolated ingress/egress ${size.isolated}`);
}

if (require.main === module) {
  benchPolicyCompile(Number(process.argv[2] ?? 20)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
