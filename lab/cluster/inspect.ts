/**
 * Read-only views of a lab for `lab get` and `lab exec`: pods, nodes and services as rows, and
 * the namespace a command runs in. These take no lock: they only read files that are written
 * atomically.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import type { KubeObject } from '../../agent/objects';
import { inNetns } from '../../kernel/netns';
import { agentAlive } from './agents';
import { SERVICE_NAME_LABEL } from './endpoints';
import { readObjects } from './manifests';
import { labPaths, validateLabName } from './names';
import { serverAlive } from './pods';
import { loadState, podKey, type LabState, type PodRecord } from './state';

export interface PodRow {
  namespace: string;
  name: string;
  node: string;
  ips: string[];
  labels: Record<string, string>;
  tcp: number[];
  udp: number[];
  netns: string;
  serverAlive: boolean;
}

export interface NodeRow {
  name: string;
  netns: string;
  underlayIPs: string[];
  podCIDRs: string[];
  pods: number;
  agentPid?: number;
  agentAlive: boolean;
  agentSocket?: string;
  agentLog?: string;
}

export interface ServiceRow {
  namespace: string;
  name: string;
  type: string;
  clusterIP: string;
  ports: string[];
  selector: Record<string, string>;
  /** Ready endpoint addresses in the Service's EndpointSlices. */
  endpoints: string[];
}

export function openLab(name: string, root: string): { state: LabState; manifests: string } {
  validateLabName(name);
  const paths = labPaths(root, name);
  return { state: loadState(paths, name), manifests: paths.manifests };
}

export function podRows(state: LabState): PodRow[] {
  return state.pods.map((p) => ({
    namespace: p.namespace,
    name: p.name,
    node: p.node,
    ips: p.ips,
    labels: p.object.metadata.labels ?? {},
    tcp: p.serves.tcp,
    udp: p.serves.udp,
    netns: p.netns,
    serverAlive: serverAlive(p),
  }));
}

export function nodeRows(state: LabState): NodeRow[] {
  return state.nodes.map((n) => ({
    name: n.name,
    netns: n.netns,
    underlayIPs: [n.underlay.v4, n.underlay.v6],
    podCIDRs: [n.podCIDRs.v4, n.podCIDRs.v6],
    pods: state.pods.filter((p) => p.node === n.name).length,
    ...(n.agent ? { agentPid: n.agent.pid, agentSocket: n.agent.socket, agentLog: n.agent.log } : {}),
    agentAlive: agentAlive(n.agent),
  }));
}

/** "name:port[:nodePort][->targetPort]/PROTOCOL", kubectl's PORT(S) with the name and target. */
function portText(p: Record<string, unknown>): string {
  const target = p.targetPort !== undefined && p.targetPort !== p.port ? `->${String(p.targetPort)}` : '';
  const nodePort = typeof p.nodePort === 'number' ? `:${p.nodePort}` : '';
  return `${p.name ? `${String(p.name)}:` : ''}${String(p.port)}${nodePort}${target}/${String(p.protocol ?? 'TCP')}`;
}

export function serviceRows(manifests: string): ServiceRow[] {
  const objects = [...readObjects(manifests).values()];
  const slices = objects.filter((o) => o.kind === 'EndpointSlice');
  return objects
    .filter((o) => o.kind === 'Service')
    .map((svc: KubeObject) => {
      const spec = svc.spec ?? {};
      const mine = slices.filter((s) => s.metadata.namespace === svc.metadata.namespace && s.metadata.labels?.[SERVICE_NAME_LABEL] === svc.metadata.name);
      const endpoints = mine.flatMap((s) =>
        ((s.endpoints ?? []) as { addresses?: string[]; conditions?: { ready?: boolean } }[]).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses ?? []),
      );
      return {
        namespace: svc.metadata.namespace ?? 'default',
        name: svc.metadata.name,
        type: String(spec.type ?? 'ClusterIP'),
        clusterIP: String(spec.clusterIP ?? ''),
        ports: (Array.isArray(spec.ports) ? (spec.ports as Record<string, unknown>[]) : []).map(portText),
        selector: (spec.selector as Record<string, string> | undefined) ?? {},
        endpoints,
      };
    });
}

/** `NS/NAME` or `NAME` (namespace default). */
export function findPod(state: LabState, ref: string): PodRecord {
  const key = ref.includes('/') ? ref : `default/${ref}`;
  const pod = state.pods.find((p) => podKey(p) === key);
  if (!pod) throw new Error(`pod ${key} not found in lab ${state.name} (lab get pods lists them)`);
  return pod;
}

/** Runs a command inside a namespace with this terminal; resolves with its exit code. */
export async function execIn(netns: string, argv: string[]): Promise<number> {
  if (argv.length === 0) throw new Error('no command given (lab exec ... -- CMD ARGS)');
  const child = inNetns(netns, () => spawn(argv[0], argv.slice(1), { stdio: 'inherit' }));
  const [code, signal] = (await Promise.race([
    once(child, 'exit'),
    once(child, 'error').then(([err]) => {
      throw new Error(`cannot run ${argv[0]}: ${(err as Error).message}`);
    }),
  ])) as [number | null, NodeJS.Signals | null];
  if (code !== null) return code;
  // Killed by a signal: the shell convention.
  return 128 + (signal ? os.constants.signals[signal] : 1);
}
