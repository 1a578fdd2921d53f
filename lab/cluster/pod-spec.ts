/**
 * What the lab needs from a Pod's spec, checked as the API server would (so that a bad Pod is
 * refused before anything is created): containers with names, container ports with valid
 * numbers, protocols and IANA service names, unique port names. Pure.
 */
import type { KubeObject } from '../../agent/objects';
import type { ContainerPort } from './kube';
import type { ServedPorts } from './state';

/** IANA_SVC_NAME: at most 15 characters, lower-case letters, digits and '-', at least one letter, no '--'. */
const PORT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const CONTAINER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface PodNetworkSpec {
  ports: ContainerPort[];
  nodeName?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function podNetworkSpec(obj: KubeObject): PodNetworkSpec {
  const where = `Pod ${obj.metadata.namespace}/${obj.metadata.name}`;
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  const spec = obj.spec ?? fail('spec.containers: Required value');
  if (spec.hostNetwork === true) fail('spec.hostNetwork: the lab attaches every pod to the pod network (hostNetwork is not supported)');
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) fail('spec.containers: Required value');
  const ports: ContainerPort[] = [];
  const names = new Set<string>();
  const containerNames = new Set<string>();
  (containers as unknown[]).forEach((c, i) => {
    if (!isRecord(c)) fail(`spec.containers[${i}] must be an object`);
    const container = c as Record<string, unknown>;
    if (typeof container.name !== 'string' || !CONTAINER_NAME.test(container.name) || container.name.length > 63) fail(`spec.containers[${i}].name: Invalid value ${JSON.stringify(container.name)}`);
    if (containerNames.has(container.name as string)) fail(`spec.containers[${i}].name: Duplicate value ${JSON.stringify(container.name)}`);
    containerNames.add(container.name as string);
    if (container.ports === undefined) return;
    if (!Array.isArray(container.ports)) fail(`spec.containers[${i}].ports must be a list`);
    (container.ports as unknown[]).forEach((raw, j) => {
      const at = `spec.containers[${i}].ports[${j}]`;
      if (!isRecord(raw)) fail(`${at} must be an object`);
      const p = raw as Record<string, unknown>;
      const n = p.containerPort;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) fail(`${at}.containerPort: Invalid value ${JSON.stringify(n)}: must be between 1 and 65535`);
      const protocol = p.protocol ?? 'TCP';
      if (protocol === 'SCTP') fail(`${at}.protocol: the lab's pods serve TCP and UDP only`);
      if (protocol !== 'TCP' && protocol !== 'UDP') fail(`${at}.protocol: Unsupported value ${JSON.stringify(protocol)}: supported values: "SCTP", "TCP", "UDP"`);
      const port: ContainerPort = { containerPort: n as number, protocol: protocol as 'TCP' | 'UDP' };
      if (p.name !== undefined) {
        const name = p.name;
        if (typeof name !== 'string' || name.length > 15 || !PORT_NAME.test(name) || !/[a-z]/.test(name) || name.includes('--')) {
          fail(`${at}.name: Invalid value ${JSON.stringify(name)}: must be an IANA_SVC_NAME (at most 15 characters, a-z, 0-9 and '-', at least one letter)`);
        }
        if (names.has(name as string)) fail(`${at}.name: Duplicate value ${JSON.stringify(name)}`);
        names.add(name as string);
        port.name = name as string;
      }
      if (ports.some((q) => q.containerPort === port.containerPort && q.protocol === port.protocol)) {
        fail(`${at}: Duplicate value ${port.containerPort}/${port.protocol}`);
      }
      ports.push(port);
    });
  });
  const nodeName = spec.nodeName;
  if (nodeName !== undefined && typeof nodeName !== 'string') fail('spec.nodeName must be a string');
  return { ports, ...(nodeName ? { nodeName: nodeName as string } : {}) };
}

/**
 * The ports the pod's server listens on: exactly those it declares; a pod that declares none
 * serves the lab's default ports on TCP and UDP, as a container listening on undeclared ports
 * would (container ports are informational in Kubernetes).
 */
export function servedPorts(ports: ContainerPort[], defaults: number[]): ServedPorts {
  if (ports.length === 0) return { tcp: [...defaults], udp: [...defaults] };
  const of = (protocol: string) => [...new Set(ports.filter((p) => p.protocol === protocol).map((p) => p.containerPort))].sort((a, b) => a - b);
  return { tcp: of('TCP'), udp: of('UDP') };
}
