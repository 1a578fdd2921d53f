/**
 * ClusterNetworkPolicies for the synthetic cluster of policy-cluster.ts, a mix as a platform team
 * would write them over its namespaces (labelled team-0..19, env prod/staging/dev):
 *
 *  Admin (60): cluster-wide DNS and monitoring access (a named port), the metadata address
 *   denied (networks), the nodes' kubelet and node ports denied (nodes); per team a guard (20:
 *   its own namespaces passed to their NetworkPolicies, dev namespaces denied a port range); per
 *   team databases opened to its backends on a named port and closed to the rest (15, pods
 *   subjects); per team frontends' egress (21: a /16 denied, prod APIs accepted on a number and
 *   a named port).
 *  Baseline (40): per team a default (20: other teams denied in, own team accepted out, the
 *   rest of the world denied out); per app and version a default (20: its own app on the
 *   metrics port, the rest denied).
 *
 * 100 in all (`count` takes the first ones: Admin first). Every one is valid as the CRD
 * checks them (test/unit/bench-cluster-policy-mix.test.ts). `nodes` peers need Node objects:
 * nodeObjects() gives the synthetic cluster's.
 */
import type { KubeObject } from '../agent/objects';

const TEAMS = 20;
const APPS = ['web', 'api', 'db', 'cache', 'worker'];

function cnp(name: string, tier: 'Admin' | 'Baseline', priority: number, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'policy.networking.k8s.io/v1alpha2', kind: 'ClusterNetworkPolicy', metadata: { name }, spec: { tier, priority, ...spec } };
}

const team = (t: number) => ({ matchLabels: { team: `team-${t}` } });
const tcp = (port: number) => ({ tcp: { destinationPort: { number: port } } });
const udp = (port: number) => ({ udp: { destinationPort: { number: port } } });
const named = (name: string) => ({ destinationNamedPort: name });

/** A team guard, with the first ingress rule's action as given (what the benchmark's change flips). */
export function teamGuard(t: number, sameTeam: 'Pass' | 'Deny' = 'Pass'): KubeObject {
  return cnp(`team-${t}-guard`, 'Admin', 10 + t, {
    subject: { namespaces: team(t) },
    ingress: [
      { name: 'same-team', action: sameTeam, from: [{ namespaces: team(t) }] },
      { name: 'dev-off-apis', action: 'Deny', from: [{ namespaces: { matchLabels: { env: 'dev' } } }], protocols: [{ tcp: { destinationPort: { range: { start: 8000, end: 8100 } } } }] },
    ],
    egress: [{ name: 'same-team', action: 'Pass', to: [{ namespaces: team(t) }] }],
  });
}

function admin(): KubeObject[] {
  const out: KubeObject[] = [
    cnp('allow-dns', 'Admin', 0, {
      subject: { namespaces: {} },
      egress: [{ name: 'dns', action: 'Accept', to: [{ pods: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } } }], protocols: [udp(53), tcp(53)] }],
    }),
    cnp('allow-monitoring', 'Admin', 1, {
      subject: { namespaces: {} },
      ingress: [{ name: 'scrape', action: 'Accept', from: [{ namespaces: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], protocols: [named('metrics')] }],
    }),
    cnp('deny-metadata', 'Admin', 2, { subject: { namespaces: {} }, egress: [{ name: 'metadata', action: 'Deny', to: [{ networks: ['169.254.169.254/32', 'fd00:ec2::254/128'] }] }] }),
    cnp('deny-node-ports', 'Admin', 3, {
      subject: { namespaces: {} },
      egress: [{ name: 'kubelet-and-node-ports', action: 'Deny', to: [{ nodes: {} }], protocols: [tcp(10250), { tcp: { destinationPort: { range: { start: 30000, end: 32767 } } } }] }],
    }),
  ];
  for (let t = 0; t < TEAMS; t++) out.push(teamGuard(t));
  for (let t = 0; t < 15; t++) {
    out.push(
      cnp(`team-${t}-databases`, 'Admin', 40 + t, {
        subject: { pods: { namespaceSelector: { matchLabels: { team: `team-${t}`, env: 'prod' } }, podSelector: { matchLabels: { app: 'db' } } } },
        ingress: [
          { name: 'own-backends', action: 'Accept', from: [{ pods: { namespaceSelector: team(t), podSelector: { matchLabels: { tier: 'backend' } } } }], protocols: [named('postgres')] },
          { name: 'nobody-else', action: 'Deny', from: [{ namespaces: {} }] },
        ],
      }),
    );
  }
  for (let k = 0; k < 21; k++) {
    out.push(
      cnp(`frontends-egress-${k}`, 'Admin', 100 + k, {
        subject: { pods: { namespaceSelector: team(k % TEAMS), podSelector: { matchLabels: { tier: 'frontend' } } } },
        egress: [
          { name: 'private-range', action: 'Deny', to: [{ networks: [`10.${k}.0.0/16`] }] },
          { name: 'prod-apis', action: 'Accept', to: [{ pods: { namespaceSelector: { matchLabels: { env: 'prod' } }, podSelector: { matchLabels: { app: 'api' } } } }], protocols: [tcp(8000), named('grpc')] },
        ],
      }),
    );
  }
  return out;
}

function baseline(): KubeObject[] {
  const out: KubeObject[] = [];
  for (let t = 0; t < TEAMS; t++) {
    out.push(
      cnp(`team-${t}-default`, 'Baseline', t, {
        subject: { namespaces: team(t) },
        ingress: [{ name: 'other-teams', action: 'Deny', from: [{ namespaces: { matchExpressions: [{ key: 'team', operator: 'NotIn', values: [`team-${t}`] }] } }] }],
        egress: [
          { name: 'own-team', action: 'Accept', to: [{ namespaces: team(t) }] },
          { name: 'world', action: 'Deny', to: [{ networks: ['0.0.0.0/0', '::/0'] }] },
        ],
      }),
    );
  }
  for (let k = 0; k < 20; k++) {
    const app = APPS[k % APPS.length];
    const version = k % 2 ? 'v1' : 'v2';
    out.push(
      cnp(`app-${app}-${version}-${k}-default`, 'Baseline', 50 + k, {
        subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app, version } } } },
        ingress: [
          { name: 'own-app-metrics', action: 'Accept', from: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { app } } } }], protocols: [tcp(9090)] },
          { name: 'rest', action: 'Deny', from: [{ namespaces: {} }] },
        ],
      }),
    );
  }
  return out;
}

/** The synthetic cluster's nodes (policy-cluster.ts names them node-0...), an InternalIP each. */
export function nodeObjects(count = 50): KubeObject[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${i}`, labels: { 'kubernetes.io/hostname': `node-${i}`, 'kubernetes.io/os': 'linux' } },
    status: { addresses: [{ type: 'InternalIP', address: `192.168.${Math.floor(i / 250)}.${(i % 250) + 1}` }] },
  }));
}

export function clusterPolicyMix(count = 100): KubeObject[] {
  return [...admin(), ...baseline()].slice(0, count);
}
