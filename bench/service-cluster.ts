/**
 * A synthetic cluster for the service benchmarks: `services` Services of one TCP port each
 * (cluster IPs from 10.96.0.16 on, every tenth a NodePort), each with an EndpointSlice of
 * `endpoints` ready endpoints spread over 50 nodes (the benchmark's node is node-0), and the
 * Node objects. Deterministic, so that runs compare.
 */
import type { KubeObject } from '../agent/objects';

export const BENCH_NODE = 'node-0';
const NODES = 50;
export const BENCH_NODE_IP = '192.0.2.10';

export interface ServiceClusterOptions {
  services: number;
  endpoints: number;
}

export function clusterIpOf(i: number): string {
  const offset = 16 + i;
  return `10.96.${offset >> 8}.${offset & 255}`;
}

/** The address of endpoint `e` of service `i`: unique per (i, e), from 10.128.0.1 on (the proxy does not care which node's range it is in). */
export function endpointIpOf(i: number, e: number): string {
  const n = i * 10 + e + 1;
  return `10.${128 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

export function nodeOfEndpoint(i: number, e: number): string {
  return `node-${(i * 10 + e) % NODES}`;
}

export function serviceObject(i: number): KubeObject {
  const nodePort = i % 10 === 0 && i / 10 < 2768 ? { type: 'NodePort' } : {};
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc-${i}`, namespace: `ns-${i % 100}` },
    spec: {
      ...nodePort,
      clusterIP: clusterIpOf(i),
      clusterIPs: [clusterIpOf(i)],
      ipFamilies: ['IPv4'],
      selector: { app: `svc-${i}` },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', ...(nodePort.type ? { nodePort: 30000 + i / 10 } : {}) }],
    },
  };
}

export function sliceObject(i: number, endpoints: { ip: string; node: string }[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-abcde`, namespace: `ns-${i % 100}`, labels: { 'kubernetes.io/service-name': `svc-${i}`, 'endpointslice.kubernetes.io/managed-by': 'bench' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], nodeName: e.node, conditions: { ready: true, serving: true, terminating: false } })),
  };
}

export function nodeObjects(): KubeObject[] {
  return Array.from({ length: NODES }, (_, n) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${n}` },
    spec: { podCIDR: `10.244.${n}.0/24`, podCIDRs: [`10.244.${n}.0/24`] },
    status: { addresses: [{ type: 'InternalIP', address: n === 0 ? BENCH_NODE_IP : `192.0.2.${10 + n}` }] },
  }));
}

export function serviceCluster(o: ServiceClusterOptions): { services: KubeObject[]; slices: KubeObject[]; nodes: KubeObject[] } {
  const services: KubeObject[] = [];
  const slices: KubeObject[] = [];
  for (let i = 0; i < o.services; i++) {
    services.push(serviceObject(i));
    slices.push(sliceObject(i, Array.from({ length: o.endpoints }, (_, e) => ({ ip: endpointIpOf(i, e), node: nodeOfEndpoint(i, e) }))));
  }
  return { services, slices, nodes: nodeObjects() };
}
