/**
 * NetworkPolicy compile time at cluster scale, pure CPU: 5,000 pods on 50 nodes (100 on this
 * node), 200 namespaces, 1,000 policies, compiled for one node as the agent does on every
 * change. The cluster is synthetic but shaped like a real one: deployments whose replicas share
 * labels and are spread over the nodes (so a selector's pods interleave with others' in the
 * address space), a fifth of the namespaces dual-stack, and per namespace a default deny, DNS
 * egress, monitoring ingress on a named port, app-to-app rules on named ports (which resolve to
 * different numbers in different namespaces), cross-namespace rules with both selectors and
 * matchExpressions, an endPort range and ipBlocks with excepts. Figures: median and p90 of 20
 * compiles (from the plain input, and from the object cache through the agent's adapter), and
 * the size of the result (classes, CIDRs, allowances).
 */
import { ObjectCache } from '../agent/cache';
import { compileNodePolicyFromCache } from '../agent/compile/policy';
import type { NodePolicy } from '../agent/dataplane/policy-state';
import type { LocalPod } from '../agent/dataplane/node-state';
import type { KubeObject } from '../agent/objects';
import { compileNodePolicy } from '../policy/compile';
import type { PolicyInput, PolicyPod } from '../policy/input';
import { fmt, summarize } from './stats';

const NAMESPACES = 200;
const NODES = 50;
const DEPLOYMENTS = ['web', 'api', 'db', 'cache', 'worker'];
const REPLICAS = 5;
const LOCAL_NODE = 'node-0';

function namespaceName(i: number): string {
  return i === 0 ? 'kube-system' : i === 1 ? 'monitoring' : `ns-${String(i).padStart(3, '0')}`;
}

function namespaceObject(i: number): KubeObject {
  const name = namespaceName(i);
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, team: `team-${i % 20}`, env: ['prod', 'staging', 'dev'][i % 3] } } };
}

function containerPorts(ns: number, app: string): Record<string, unknown>[] {
  const http = ns % 4 === 0 ? 80 : 8080; // the same name, different numbers in different namespaces
  const ports: Record<string, unknown>[] = [{ name: 'metrics', containerPort: 9090 }];
  if (app === 'web') ports.push({ name: 'http', containerPort: http });
  if (app === 'api') ports.push({ name: 'http', containerPort: 8000 }, { name: 'grpc', containerPort: 9000 });
  if (app === 'db') ports.push({ name: 'postgres', containerPort: 5432 });
  if (app === 'cache') ports.push({ name: 'redis', containerPort: 6379 });
  if (ns === 0 && app === 'web') return [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53 }];
  return ports;
}

function podObjects(): KubeObject[] {
  const pods: KubeObject[] = [];
  const perNode = new Array<number>(NODES).fill(0);
  let k = 0;
  for (let ns = 0; ns < NAMESPACES; ns++) {
    for (const app of DEPLOYMENTS) {
      for (let r = 0; r < REPLICAS; r++, k++) {
        const node = (k * 7) % NODES; // replicas spread over nodes
        const n = ++perNode[node];
        const ips = [`10.244.${node}.${n}`, ...(ns % 5 === 0 ? [`fd00:10:244:${node.toString(16)}::${n.toString(16)}`] : [])];
        const labels: Record<string, string> = { app, 'pod-template-hash': `${ns}-${app}`, tier: app === 'web' || app === 'api' ? 'frontend' : 'backend', version: r % 2 ? 'v1' : 'v2' };
        if (ns === 0 && app === 'web') labels['k8s-app'] = 'kube-dns';
        pods.push({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${app}-${r}`, namespace: namespaceName(ns), labels },
          spec: { nodeName: `node-${node}`, containers: [{ name: app, image: 'x', ports: containerPorts(ns, app) }] },
          status: { phase: 'Running', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
        });
      }
    }
  }
  return pods;
}

function policy(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec };
}

function policyObjects(): KubeObject[] {
  const out: KubeObject[] = [];
  for (let i = 0; i < NAMESPACES; i++) {
    const ns = namespaceName(i);
    out.push(policy(ns, 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }));
    out.push(policy(ns, 'allow-dns', {
      podSelector: {},
      egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }],
    }));
    out.push(policy(ns, 'allow-monitoring', {
      podSelector: {},
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 'metrics' }] }],
    }));
    out.push(policy(ns, 'frontend', {
      podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: { app: 'web' } } }, { namespaceSelector: { matchLabels: { team: `team-${i % 20}` } }, podSelector: { matchLabels: { tier: 'frontend' } } }], ports: [{ port: 'http' }, { port: 'grpc' }] },
        { from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] } }, { ipBlock: { cidr: '::/0', except: ['fd00::/8'] } }], ports: [{ port: 'http' }] },
      ],
      egress: [
        { to: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 'http' }] },
        { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ port: 443 }] },
        { to: [{ namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }] }, podSelector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['frontend'] }] } }], ports: [{ port: 5432 }, { port: 6379 }] },
      ],
    }));
    out.push(policy(ns, 'backend', {
      podSelector: { matchLabels: { tier: 'backend' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['frontend'] }, { key: 'version', operator: 'Exists' }] } }, { namespaceSelector: { matchLabels: { env: 'prod' } }, podSelector: { matchLabels: { app: 'worker' } } }], ports: [{ port: 'postgres' }, { port: 'redis' }, { port: 8000, endPort: 8100 }] }],
      egress: [{ to: [{ ipBlock: { cidr: `10.${i % 200}.0.0/16`, except: [`10.${i % 200}.1.0/24`] } }, { podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 'postgres' }, { protocol: 'UDP' }] }],
    }));
  }
  return out;
}

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
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => namespaceObject(i));
  const pods = podObjects();
  const policies = policyObjects();
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
  console.log(`\nNetworkPolicy compile: ${pods.length} pods (${localPods.length} on this node), ${NAMESPACES} namespaces, ${policies.length} policies, ${runs} runs`);
  for (const [label, t] of [['compile (plain input)    ', plain], ['compile (cache + adapter)', cached]] as const) {
    console.log(`  ${label}  median ${fmt(t.summary.median)} ms  p90 ${fmt(t.summary.p90)} ms  min ${fmt(t.summary.min)} ms  (CPU time median ${fmt(t.cpu.median)} ms)`);
  }
  console.log(`  first compile (JIT cold, no object distilled yet): ${fmt(first)} ms`);
  console.log(`  result: ${size.classes} classes, ${size.cidrs} CIDRs, ${size.allowances} allowances, isolated ingress/egress ${size.isolated}, ${plain.result.problems.length} problems`);
}

if (require.main === module) {
  benchPolicyCompile(Number(process.argv[2] ?? 20)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
