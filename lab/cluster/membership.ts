/**
 * `lab node add` and `lab node remove NODE`: nodes joining and leaving a running lab, as a
 * machine joins a cluster (kubelet registers its Node object, the node's weft-agent starts) and
 * leaves it (its pods are deleted, the Node object is deleted, the machine goes away). The
 * other nodes' agents are not touched: they learn of the change from the Node objects alone,
 * which is what this exists to show.
 */
import fs from 'node:fs';
import { deleteNamedNetns } from '../../kernel/netns';
import { agentMarkers, startAgent, waitAgentReady } from './agents';
import { syncEndpointSlices } from './apply';
import { bounded } from './bounded';
import { nodeObject } from './kube';
import { withLabLock } from './lock';
import { deleteObject, writeObject } from './manifests';
import { checkSocketPaths, labPaths, MAX_NODES, MAX_PODS_PER_NODE, nodePaths, validateLabName, type LabPaths } from './names';
import { createNode } from './nodes';
import { attachPod, detachPod, writeConflist } from './pods';
import { stopRecorded, sweepProcesses } from './processes';
import { loadState, saveState, sortPods, type LabState, type NodeRecord, type PodRecord } from './state';
import { ATTACH_CONCURRENCY, defaultPod } from './up';

export interface AddNodeOptions {
  name: string;
  root: string;
  /** Default pods (default/pod-<node>-<i>) to start on the new node. */
  pods?: number;
  agentTimeoutMs?: number;
}

export interface AddedNode {
  node: NodeRecord;
  pods: PodRecord[];
}

function readyState(paths: LabPaths, lab: string): LabState {
  const state = loadState(paths, lab);
  if (state.phase !== 'ready') throw new Error(`lab ${lab} is not ready (its lab up did not finish); run lab down and lab up again`);
  return state;
}

/** The lowest free node index: a node added after one was removed takes its place. */
function freeIndex(state: LabState): number {
  const used = new Set(state.nodes.map((n) => n.index));
  let index = 0;
  while (used.has(index)) index++;
  return index;
}

/** Removes a node's machine: its agent and every process in its namespace, the namespace, its directory. */
async function removeMachine(paths: LabPaths, node: NodeRecord): Promise<void> {
  if (node.agent) await stopRecorded([{ pid: node.agent.pid, markers: agentMarkers(node.agent) }]);
  await sweepProcesses([node.netns]);
  deleteNamedNetns(node.netns);
  fs.rmSync(nodePaths(paths.dir, node.name).dir, { recursive: true, force: true });
}

/**
 * Adds a node: its namespace on the underlay switch, its Node object, its agent (waited for
 * until ready) and `pods` default pods on it. A failure removes the node again.
 */
export async function labAddNode(o: AddNodeOptions): Promise<AddedNode> {
  validateLabName(o.name);
  const podCount = o.pods ?? 0;
  if (!Number.isInteger(podCount) || podCount < 0 || podCount > MAX_PODS_PER_NODE) throw new Error(`--pods must be from 0 to ${MAX_PODS_PER_NODE}`);
  const paths = labPaths(o.root, o.name);
  loadState(paths, o.name); // before the lock: a mistyped name leaves no lock file
  return withLabLock(paths.lock, o.name, async () => {
    const state = readyState(paths, o.name);
    if (state.nodes.length >= MAX_NODES) throw new Error(`lab ${o.name} has ${state.nodes.length} nodes, the most a lab can have`);
    const index = freeIndex(state);
    checkSocketPaths(paths.dir, index + 1);
    const node = await createNode(o.name, index, state.underlayNetns);
    const created: PodRecord[] = [];
    // In the state from here on (pods are scheduled on it), saved only once all of it worked.
    state.nodes.push(node);
    try {
      writeConflist(paths.dir, node);
      writeObject(paths.manifests, nodeObject(node));
      const agent = startAgent(paths.dir, paths.manifests, node, state.options.overlay, state.options.backend);
      node.agent = agent.record;
      await waitAgentReady(node.name, agent, o.agentTimeoutMs);
      await bounded(
        Array.from({ length: podCount }, (_, i) => async () => {
          const ports = state.options.ports;
          created.push(await attachPod(paths.dir, state, { object: defaultPod(index, i, ports), node, serves: { tcp: ports, udp: ports } }));
        }),
        ATTACH_CONCURRENCY,
      );
    } catch (err) {
      await bounded(created.map((p) => () => detachPod(paths.dir, state, p, true)), ATTACH_CONCURRENCY);
      for (const p of created) deleteObject(paths.manifests, p.object);
      deleteObject(paths.manifests, nodeObject(node));
      await removeMachine(paths, node);
      state.nodes.pop();
      throw new Error(`cannot add ${node.name} to lab ${o.name}: ${(err as Error).message}; nothing added`, { cause: err });
    }
    state.nodes.sort((a, b) => a.index - b.index);
    state.pods.push(...created);
    state.options.nodes = state.nodes.length;
    sortPods(state);
    saveState(paths, state);
    for (const pod of created) writeObject(paths.manifests, pod.object);
    syncEndpointSlices(paths.manifests);
    return { node, pods: created.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true })) };
  });
}

export interface RemovedNode {
  node: string;
  /** Pods that ran on it, deleted with it. */
  pods: string[];
}

/**
 * Removes a node: its pods are deleted (CNI DEL through its agent, objects and EndpointSlices
 * updated), then its Node object, then the machine itself. The last node is kept: a lab without
 * nodes is removed with lab down.
 */
export async function labRemoveNode(o: { name: string; root: string; node: string }): Promise<RemovedNode> {
  validateLabName(o.name);
  const paths = labPaths(o.root, o.name);
  loadState(paths, o.name);
  return withLabLock(paths.lock, o.name, async () => {
    const state = readyState(paths, o.name);
    const node = state.nodes.find((n) => n.name === o.node);
    if (!node) throw new Error(`node ${o.node} not found in lab ${o.name} (${state.nodes.map((n) => n.name).join(', ')})`);
    if (state.nodes.length === 1) throw new Error(`${o.node} is the last node of lab ${o.name}; remove the lab with lab down`);
    const doomed = state.pods.filter((p) => p.node === node.name);
    await bounded(doomed.map((p) => () => detachPod(paths.dir, state, p)), ATTACH_CONCURRENCY);
    state.pods = state.pods.filter((p) => p.node !== node.name);
    saveState(paths, state);
    for (const p of doomed) deleteObject(paths.manifests, p.object);
    syncEndpointSlices(paths.manifests);
    deleteObject(paths.manifests, nodeObject(node));
    await removeMachine(paths, node);
    state.nodes = state.nodes.filter((n) => n !== node);
    state.options.nodes = state.nodes.length;
    saveState(paths, state);
    return { node: node.name, pods: doomed.map((p) => `${p.namespace}/${p.name}`) };
  });
}
