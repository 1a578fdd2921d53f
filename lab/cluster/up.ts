/**
 * `lab up`: the underlay switch, the nodes, one agent per node (waited for until its first sync
 * is in the kernel, as a kubelet waits for the network plugin to be ready), then the default
 * pods, scheduled round the nodes and attached through CNI. A failure removes whatever was
 * created, and the error says what failed (with the agent's log when an agent failed).
 */
import fs from 'node:fs';
import type { KubeObject } from '../../agent/objects';
import type { OverlayMode } from '../../overlay/mtu';
import { listNamedNetns } from '../../kernel/netns';
import { startAgent, waitAgentReady } from './agents';
import { bounded } from './bounded';
import { teardown } from './down';
import { defaultPodSpec, namespaceObject, nodeObject } from './kube';
import { acquireLabLock } from './lock';
import { writeObject } from './manifests';
import { checkSocketPaths, isLabNetns, labPaths, MAX_NODES, MAX_PODS_PER_NODE, validateLabName } from './names';
import { createNode, createUnderlay } from './nodes';
import { attachPod, writeConflist } from './pods';
import { saveState, sortPods, STATE_VERSION, type AgentBackend, type LabState, type NodeRecord } from './state';

export interface UpOptions {
  name: string;
  root: string;
  nodes: number;
  podsPerNode: number;
  /** Served on TCP and UDP by default pods and by pods that declare no ports. */
  ports: number[];
  /** How the agents route between nodes; vxlan by default. */
  overlay?: OverlayMode;
  /** How the agents write their rules; nftables by default. */
  backend?: AgentBackend;
  agentTimeoutMs?: number;
  /** Progress lines for people. */
  progress?: (line: string) => void;
}

export interface UpTimings {
  nodesMs: number;
  agentsMs: number;
  podsMs: number;
  totalMs: number;
}

export const DEFAULT_PORTS = [80, 81];
/** Pod attachments in flight at once (each starts a pod server process). */
export const ATTACH_CONCURRENCY = 4;

function checkOptions(o: UpOptions): void {
  validateLabName(o.name);
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_NODES) throw new Error(`--nodes must be from 1 to ${MAX_NODES}`);
  if (!Number.isInteger(o.podsPerNode) || o.podsPerNode < 0 || o.podsPerNode > MAX_PODS_PER_NODE) throw new Error(`--pods-per-node must be from 0 to ${MAX_PODS_PER_NODE}`);
  if (o.ports.length === 0 || o.ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new Error('--ports must be port numbers from 1 to 65535');
  if (o.backend !== undefined && o.backend !== 'nftables' && o.backend !== 'iptables') throw new Error('--backend must be nftables or iptables');
}

export function defaultPod(nodeIndex: number, i: number, ports: number[]): KubeObject {
  const name = `pod-${nodeIndex}-${i}`;
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: 'web', name } }, spec: defaultPodSpec(ports) };
}

export async function labUp(o: UpOptions): Promise<{ state: LabState; timings: UpTimings }> {
  checkOptions(o);
  const paths = labPaths(o.root, o.name);
  checkSocketPaths(paths.dir, o.nodes);
  const say = o.progress ?? (() => undefined);
  const lock = await acquireLabLock(paths.lock, o.name);
  let removeLock = false;
  try {
    if (fs.existsSync(paths.dir)) throw new Error(`lab ${o.name} already exists (${paths.dir}); remove it first with: weftctl lab down --name ${o.name}`);
    const leftovers = listNamedNetns().filter((n) => isLabNetns(o.name, n));
    if (leftovers.length > 0) throw new Error(`namespaces of an earlier lab ${o.name} are left (${leftovers.join(', ')}); remove them with: weftctl lab down --name ${o.name}`);
    const t0 = performance.now();
    fs.mkdirSync(paths.manifests, { recursive: true, mode: 0o755 });
    const state: LabState = {
      version: STATE_VERSION,
      name: o.name,
      phase: 'creating',
      createdAt: new Date().toISOString(),
      options: { nodes: o.nodes, podsPerNode: o.podsPerNode, ports: o.ports, overlay: o.overlay ?? 'vxlan', backend: o.backend ?? 'nftables' },
      underlayNetns: '',
      nodes: [],
      pods: [],
      nextPodNumber: 0,
    };
    saveState(paths, state);
    try {
      for (const ns of ['default', 'kube-system']) writeObject(paths.manifests, namespaceObject(ns));
      state.underlayNetns = await createUnderlay(o.name);
      state.nodes = await Promise.all(Array.from({ length: o.nodes }, (_, i) => createNode(o.name, i, state.underlayNetns)));
      for (const node of state.nodes) {
        writeObject(paths.manifests, nodeObject(node));
        writeConflist(paths.dir, node);
      }
      saveState(paths, state);
      const t1 = performance.now();
      say(`${o.nodes} node(s) created on underlay 192.0.2.0/24 (${(t1 - t0).toFixed(0)} ms)`);

      const agents = state.nodes.map((node) => startAgent(paths.dir, paths.manifests, node, o.overlay, o.backend));
      state.nodes.forEach((node, i) => (node.agent = agents[i].record));
      saveState(paths, state);
      await Promise.all(state.nodes.map((node, i) => waitAgentReady(node.name, agents[i], o.agentTimeoutMs)));
      const t2 = performance.now();
      say(`${o.nodes} weft-agent(s) ready (${(t2 - t1).toFixed(0)} ms)`);

      const wanted: { object: KubeObject; node: NodeRecord }[] = [];
      for (const node of state.nodes) for (let i = 0; i < o.podsPerNode; i++) wanted.push({ object: defaultPod(node.index, i, o.ports), node });
      await bounded(
        wanted.map((w) => async () => {
          const pod = await attachPod(paths.dir, state, { ...w, serves: { tcp: o.ports, udp: o.ports } });
          state.pods.push(pod);
          saveState(paths, state);
        }),
        ATTACH_CONCURRENCY,
      );
      sortPods(state);
      // In one burst, which every agent reads in one rescan: a write per pod would have each
      // agent rescan the directory once per pod while the node's CPU is busiest.
      for (const pod of state.pods) writeObject(paths.manifests, pod.object);
      const t3 = performance.now();
      say(`${state.pods.length} pod(s) attached and serving TCP/UDP ${o.ports.join(',')} (${(t3 - t2).toFixed(0)} ms)`);
      state.phase = 'ready';
      saveState(paths, state);
      return { state, timings: { nodesMs: t1 - t0, agentsMs: t2 - t1, podsMs: t3 - t2, totalMs: t3 - t0 } };
    } catch (err) {
      say(`lab up failed; removing what was created`);
      await teardown(o.name, paths).catch(() => undefined);
      removeLock = true;
      throw err;
    }
  } finally {
    lock.release({ removeFile: removeLock });
  }
}
