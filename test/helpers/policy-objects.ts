/**
 * Namespace, Pod and NetworkPolicy objects as manifests (or the API server) give them, and a
 * small cluster of them for the policy-explanation tests: two namespaces, pods with named
 * ports that differ per pod, a deny-all, namespaceSelector and podSelector peers, an ipBlock
 * with except, an egress policy, and Services with and without EndpointSlices.
 */
import type { KubeObject } from '../../agent/objects';
import { service, slice } from './proxy-objects';

export function namespace(name: string, labels: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export interface PodSpec {
  labels?: Record<string, string>;
  /** status.podIPs; none: the manifests give no address. */
  ips?: string[];
  /** [name, port, protocol]. */
  ports?: [string | undefined, number, string?][];
  hostNetwork?: boolean;
  nodeName?: string;
}

export function pod(ns: string, name: string, spec: PodSpec = {}): KubeObject {
  const ports = (spec.ports ?? []).map(([n, containerPort, protocol]) => ({ ...(n ? { name: n } : {}), containerPort, ...(protocol ? { protocol } : {}) }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: spec.labels ?? {} },
    spec: { containers: [{ name: 'c', image: 'x', ports }], ...(spec.hostNetwork ? { hostNetwork: true } : {}), ...(spec.nodeName ? { nodeName: spec.nodeName } : {}) },
    ...(spec.ips ? { status: { phase: 'Running', podIP: spec.ips[0], podIPs: spec.ips.map((ip) => ({ ip })) } } : {}),
  };
}

export function networkPolicy(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec };
}

const app = (value: string) => ({ matchLabels: { app: value } });

/**
 * x/a, x/b, y/a, y/b, y/c (+ x/host, hostNetwork). y/b names 8080 "web", y/c names 9090 "web".
 * y/deny-all isolates every y pod for ingress; y/allow-x lets namespace x reach app=b on 80;
 * y/allow-a-web lets y's app=a reach app=b on "web"; x/a-egress limits x/a to 10.0.0.0/8
 * except 10.1.0.0/16 on 443, and namespace y on "web" and 80.
 */
export function clusterObjects(): KubeObject[] {
  return [
    namespace('x', { ns: 'x' }),
    namespace('y', { ns: 'y' }),
    pod('x', 'a', { labels: { app: 'a' }, ips: ['10.244.0.1'], ports: [['http', 80]] }),
    pod('x', 'b', { labels: { app: 'b' }, ips: ['10.244.0.2'], ports: [['http', 80]] }),
    pod('x', 'host', { labels: { app: 'b' }, ips: ['192.168.0.10'], hostNetwork: true }),
    pod('y', 'a', { labels: { app: 'a', tier: 'back' }, ips: ['10.244.1.1'] }),
    pod('y', 'b', { labels: { app: 'b', tier: 'back' }, ips: ['10.244.1.2'], ports: [['web', 8080], ['http', 80]] }),
    pod('y', 'c', { labels: { app: 'b' }, ips: ['10.244.1.3'], ports: [['web', 9090]] }),
    networkPolicy('y', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] }),
    networkPolicy('y', 'allow-x', { podSelector: app('b'), ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }], ports: [{ port: 80 }] }] }),
    networkPolicy('y', 'allow-a-web', { podSelector: app('b'), ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: app('a') }], ports: [{ port: 'web' }] }] }),
    networkPolicy('x', 'a-egress', {
      podSelector: app('a'),
      policyTypes: ['Egress'],
      egress: [
        { to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ port: 443 }] },
        { to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 'web' }, { port: 80 }] },
      ],
    }),
    // Service port 80 to the pods' "web" port, with EndpointSlices (one endpoint not ready).
    service('web', { clusterIP: '10.96.0.10', selector: { app: 'b' }, ports: [{ name: 'web', port: 80, targetPort: 'web' }] }, undefined, 'y'),
    slice('web-1', 'web', { ports: [{ name: 'web', port: 8080, protocol: 'TCP' }], endpoints: [{ ip: '10.244.1.2', ready: true }, { ip: '10.244.1.9', ready: false }] }, 'y'),
    slice('web-2', 'web', { ports: [{ name: 'web', port: 9090, protocol: 'TCP' }], endpoints: [{ ip: '10.244.1.3', ready: true }] }, 'y'),
    // A Service without EndpointSlices: its endpoints come from its selector.
    service('back', { clusterIP: '10.96.0.11', selector: { tier: 'back' }, ports: [{ port: 80 }] }, undefined, 'y'),
  ];
}
