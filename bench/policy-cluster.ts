/**
 * A synthetic cluster for the NetworkPolicy benchmarks, shaped like a real one: deployments
 * whose replicas share labels and are spread over the nodes (so a selector's pods interleave
 * with others' in the address space), a fifth of the namespaces dual-stack, and per namespace a
 * default deny, DNS egress, monitoring ingress on a named port, app-to-app rules on named ports
 * (which resolve to different numbers in different namespaces), cross-namespace rules with both
 * selectors and matchExpressions, an endPort range and ipBlocks with excepts.
 */
import type { KubeObject } from '../agent/objects';
import { canonicalIpText } from '../policy/address';

const DEPLOYMENTS = ['web', 'api', 'db', 'cache', 'worker'];
const REPLICAS = 5;

export interface SyntheticClusterOptions {
  /** 200 (the default): 5,000 pods and 1,000 policies, 5 policies and 25 pods per namespace. */
  namespaces?: number;
  /** 50 by default. */
  nodes?: number;
  /** Node names are this prefix and a number ("node-" by default). */
  nodePrefix?: string;
  /** The first two octets of pod IPv4 addresses ("10.244" by default): the node is the third. */
  v4Prefix?: string;
  /** The first three groups of pod IPv6 addresses ("fd00:10:244" by default). */
  v6Prefix?: string;
}

export interface SyntheticCluster {
  namespaces: KubeObject[];
  pods: KubeObject[];
  /** Five per namespace, in namespace order: the first 5k policies cover the first k namespaces. */
  policies: KubeObject[];
}

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

function podObjects(o: Required<SyntheticClusterOptions>): KubeObject[] {
  const pods: KubeObject[] = [];
  const perNode = new Array<number>(o.nodes).fill(0);
  let k = 0;
  for (let ns = 0; ns < o.namespaces; ns++) {
    for (const app of DEPLOYMENTS) {
      for (let r = 0; r < REPLICAS; r++, k++) {
        const node = (k * 7) % o.nodes; // replicas spread over nodes
        const n = ++perNode[node];
        // IPv6 as kubelet reports it (Go's net.IP.String: RFC 5952), as in every real cluster.
        const ips = [`${o.v4Prefix}.${node}.${n}`, ...(ns % 5 === 0 ? [canonicalIpText(`${o.v6Prefix}:${node.toString(16)}:0:0:0:${n.toString(16)}`)!] : [])];
        const labels: Record<string, string> = { app, 'pod-template-hash': `${ns}-${app}`, tier: app === 'web' || app === 'api' ? 'frontend' : 'backend', version: r % 2 ? 'v1' : 'v2' };
        if (ns === 0 && app === 'web') labels['k8s-app'] = 'kube-dns';
        pods.push({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${app}-${r}`, namespace: namespaceName(ns), labels },
          spec: { nodeName: `${o.nodePrefix}${node}`, containers: [{ name: app, image: 'x', ports: containerPorts(ns, app) }] },
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

function policyObjects(namespaces: number): KubeObject[] {
  const out: KubeObject[] = [];
  for (let i = 0; i < namespaces; i++) {
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

export function syntheticCluster(options: SyntheticClusterOptions = {}): SyntheticCluster {
  const o: Required<SyntheticClusterOptions> = { namespaces: 200, nodes: 50, nodePrefix: 'node-', v4Prefix: '10.244', v6Prefix: 'fd00:10:244', ...options };
  return {
    namespaces: Array.from({ length: o.namespaces }, (_, i) => namespaceObject(i)),
    pods: podObjects(o),
    policies: policyObjects(o.namespaces),
  };
}
