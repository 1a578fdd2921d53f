/**
 * The input's pods and namespaces in the form policy semantics needs them: which pods are
 * pod-network endpoints (hostNetwork pods and finished pods are not: their addresses are only
 * matched by ipBlocks), their parsed addresses, and their named ports.
 */
import type { PolicyProtocol } from '../agent/dataplane/policy-state';
import { formatIp, parseIp, type Family } from './address';
import type { PolicyInput, PolicyPod } from './input';
import { memoByIdentity } from './memo';

export interface PodAddress {
  family: Family;
  value: bigint;
  /** Canonical text. */
  text: string;
}

export interface PodRecord {
  /** "namespace/name". */
  id: string;
  namespace: string;
  name: string;
  /** null: the Pod object is not known (isolated, nothing allowed, matches no selector). */
  labels: Readonly<Record<string, string>> | null;
  nodeName: string | undefined;
  /** Carries pod-network addresses that policy applies to (a known or unknown pod, not hostNetwork, not finished). */
  endpoint: boolean;
  addresses: PodAddress[];
  /** Named container ports: `${name}/${protocol}` to the port numbers, sorted. */
  namedPorts: ReadonlyMap<string, number[]>;
  /** The keys of namedPorts, for scanning without an iterator. */
  namedPortKeys: readonly string[];
}

const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);
const PROTOCOLS: Readonly<Record<string, PolicyProtocol>> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

export const namedPortKey = (name: string, protocol: PolicyProtocol): string => `${name}/${protocol}`;

function namedPortsOf(pod: PolicyPod): Map<string, number[]> {
  const out = new Map<string, number[]>();
  if (pod.labels === null) return out;
  for (const p of pod.containerPorts) {
    if (!p.name) continue;
    const protocol = PROTOCOLS[p.protocol ?? 'TCP'];
    if (!protocol || !Number.isInteger(p.containerPort) || p.containerPort < 1 || p.containerPort > 65535) continue;
    const key = namedPortKey(p.name, protocol);
    const ports = out.get(key);
    if (!ports) out.set(key, [p.containerPort]);
    else if (!ports.includes(p.containerPort)) ports.push(p.containerPort), ports.sort((a, b) => a - b);
  }
  return out;
}

/** Input pods are plain immutable records: each is distilled once, however often it is compiled. */
export const podRecordOf: (pod: PolicyPod) => PodRecord = memoByIdentity((pod: PolicyPod) => distil(pod));

function distil(pod: PolicyPod): PodRecord {
  const addresses = new Map<string, PodAddress>();
  for (const ip of pod.ips) {
    const a = parseIp(ip);
    if (!a) continue;
    const text = formatIp(a.family, a.value);
    addresses.set(text, { family: a.family, value: a.value, text });
  }
  const namedPorts = namedPortsOf(pod);
  const finished = pod.phase !== undefined && FINISHED_PHASES.has(pod.phase);
  return {
    id: `${pod.namespace}/${pod.name}`,
    namespace: pod.namespace,
    name: pod.name,
    labels: pod.labels,
    nodeName: pod.nodeName,
    // Unknown pods are endpoints too: they are isolated, which is what makes them safe.
    endpoint: pod.labels === null || (pod.hostNetwork !== true && !finished),
    addresses: [...addresses.values()],
    namedPorts,
    namedPortKeys: [...namedPorts.keys()],
  };
}

/**
 * Namespace labels by name: the Namespace objects', and null (unknown: matched only by the
 * empty namespaceSelector) for namespaces that pods are in but no object describes.
 */
export function namespaceLabels(input: PolicyInput): Map<string, Readonly<Record<string, string>> | null> {
  const out = new Map<string, Readonly<Record<string, string>> | null>();
  for (const ns of input.namespaces) out.set(ns.name, ns.labels);
  for (const pod of input.pods) if (!out.has(pod.namespace)) out.set(pod.namespace, null);
  return out;
}
