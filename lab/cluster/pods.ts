/**
 * The lab as a pod's kubelet and container runtime: a pod gets a network namespace, is attached
 * by running the real weft CNI plugins (through weft-cni-shim, which hands the call to the
 * node agent's CNI server, or runs the plugin itself when none answers) with the environment a
 * runtime gives them, then runs its server; deleting it is the reverse, with CNI DEL. A failure
 * part-way undoes what was done.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../../agent/objects';
import { withNetlink } from '../../kernel/netlink';
import { createNamedNetns, deleteNamedNetns } from '../../kernel/netns';
import { DEFAULT_CNI_PATH, runCni, SHIM_BIN_DIR, type CniOutcome } from '../cni-exec';
import { pluginConfig, type NetworkConfigList } from '../conflist';
import { agentAlive } from './agents';
import { tailOf, writeFileAtomic } from './files';
import { runningPod, scheduledPod } from './kube';
import { deleteObject, writeObject } from './manifests';
import { labPaths, nodePaths, podNetnsName, podPaths } from './names';
import { WHOAMI_PORT } from './pod-server';
import { isOurs, spawnDetachedIn, stopRecorded } from './processes';
import type { LabState, NodeRecord, PodRecord, ServedPorts } from './state';

/** dist/lab/cluster/pod-server.js */
export const POD_SERVER = path.join(__dirname, 'pod-server.js');
export const POD_IFNAME = 'eth0';
export const NETWORK_NAME = 'weft-lab';
export const POD_BRIDGE = 'weft0';
/** The shim first, as an installed node would have it; the weft and reference plugins behind it. */
export const LAB_CNI_PATH = [SHIM_BIN_DIR, ...DEFAULT_CNI_PATH];

/** The node's network configuration list, as it would sit in /etc/cni/net.d. */
export function networkConfigList(labDir: string, node: NodeRecord): NetworkConfigList {
  const p = nodePaths(labDir, node.name);
  return {
    cniVersion: '1.0.0',
    name: NETWORK_NAME,
    plugins: [
      {
        // The node's bridge, an address from the node's pod subnet and the overlay MTU, both
        // from the node network file its agent writes; the agent routes to the other nodes.
        type: 'weft-overlay',
        bridge: POD_BRIDGE,
        // A pod reaches itself through a Service's address (kubelet's hairpin-veth).
        hairpinMode: true,
        agentSocket: p.agentSocket,
        nodeNetworkFile: p.nodeNetwork,
        stateDir: p.overlayState,
        ipam: { dataDir: p.ipamDir },
      },
    ],
  };
}

export function writeConflist(labDir: string, node: NodeRecord): void {
  const file = nodePaths(labDir, node.name).conflist;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(networkConfigList(labDir, node), null, 2)}\n`);
}

interface Attachment {
  node: NodeRecord;
  containerId: string;
  netns: string;
  namespace: string;
  name: string;
  uid: string;
  /** Drop the agent from DEL when it is known to be gone (each call would wait for it). */
  withoutAgent?: boolean;
}

/** Runs the list for one command the way libcni does, with the shim's environment. */
async function runList(labDir: string, command: 'ADD' | 'DEL', att: Attachment, cached?: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  const list = networkConfigList(labDir, att.node);
  if (att.withoutAgent) for (const plugin of list.plugins) delete plugin.agentSocket;
  const plugins = command === 'ADD' ? list.plugins : [...list.plugins].reverse();
  let result = cached;
  for (const plugin of plugins) {
    const outcome: CniOutcome = await runCni({
      hostNetns: att.node.netns,
      plugin: plugin.type,
      command,
      config: pluginConfig(list, plugin, { hostNetns: att.node.netns, containerId: att.containerId, netns: att.netns, ifName: POD_IFNAME }, result),
      containerId: att.containerId,
      netns: att.netns,
      ifName: POD_IFNAME,
      args: { K8S_POD_NAMESPACE: att.namespace, K8S_POD_NAME: att.name, K8S_POD_INFRA_CONTAINER_ID: att.containerId, K8S_POD_UID: att.uid },
      cniPath: LAB_CNI_PATH,
      env: { WEFT_CNI_SOCKET: nodePaths(labDir, att.node.name).cniSocket },
    });
    if (outcome.exitCode !== 0) {
      const detail = (outcome.json?.msg as string | undefined) ?? (outcome.stdout.trim() || outcome.stderr.trim());
      throw new Error(`CNI ${command} of ${att.namespace}/${att.name} on ${att.node.name} (${plugin.type}) failed: ${detail}`);
    }
    if (command === 'ADD') result = outcome.json;
  }
  return result;
}

function ipsOf(result: Record<string, unknown> | undefined): string[] {
  const ips = ((result?.ips ?? []) as { address?: string }[]).map((ip) => String(ip.address ?? '').split('/')[0]).filter(Boolean);
  // IPv4 first, as status.podIPs lists the primary family first.
  return ips.sort((a, b) => Number(a.includes(':')) - Number(b.includes(':')));
}

/** Starts the pod's server inside its namespace and waits until every port listens. */
async function startServer(labDir: string, pod: Pick<PodRecord, 'namespace' | 'name' | 'number' | 'netns'>, serves: ServedPorts): Promise<NonNullable<PodRecord['server']>> {
  const p = podPaths(labDir, pod.number);
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const log = fs.openSync(p.log, 'a', 0o600);
  const args = [POD_SERVER, '--id', `${pod.namespace}/${pod.name}`, '--control', p.control, '--tcp', serves.tcp.join(','), '--udp', serves.udp.join(','), '--whoami', String(WHOAMI_PORT)];
  let child;
  try {
    child = spawnDetachedIn(pod.netns, process.execPath, args, ['ignore', log, log, 'pipe']);
  } finally {
    fs.closeSync(log);
  }
  const pid = child.pid;
  const ready = child.stdio[3];
  if (pid === undefined || !ready) throw new Error(`cannot start the server of ${pod.namespace}/${pod.name}`);
  const ok = await new Promise<boolean>((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(false), 15_000);
    ready.on('data', (b: Buffer) => {
      text += b.toString();
      if (text.includes('ready')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    ready.on('error', () => undefined);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  ready.destroy();
  child.unref();
  if (!ok) {
    await stopRecorded([{ pid, markers: [POD_SERVER, p.control] }], 500);
    throw new Error(`the server of ${pod.namespace}/${pod.name} did not start: ${tailOf(p.log, 500) || 'no output'}`);
  }
  return { pid, control: p.control, log: p.log };
}

export interface PodToAttach {
  /** The Pod object as applied (labels, annotations, spec with containers). */
  object: KubeObject;
  node: NodeRecord;
  serves: ServedPorts;
}

/**
 * Creates a pod: namespace, CNI ADD, server, and the Pod object as the kubelet reports it.
 * Takes a number from the state (the caller saves the state).
 */
export async function attachPod(labDir: string, state: LabState, want: PodToAttach): Promise<PodRecord> {
  const number = state.nextPodNumber++;
  const namespace = want.object.metadata.namespace ?? 'default';
  const name = want.object.metadata.name;
  const uid = want.object.metadata.uid ?? crypto.randomUUID();
  const att: Attachment = {
    node: want.node,
    containerId: crypto.randomBytes(32).toString('hex'),
    netns: podNetnsName(state.name, number),
    namespace,
    name,
    uid,
  };
  // Bound to its node before the sandbox gets a network, as in Kubernetes: the node's agent
  // knows the pod's labels when the ADD registers it, so its policy is in force from the start.
  const manifests = labPaths(path.dirname(labDir), state.name).manifests;
  writeObject(manifests, scheduledPod(want.object, uid, want.node));
  const netnsPath = createNamedNetns(att.netns);
  att.netns = netnsPath;
  let added: Record<string, unknown> | undefined;
  let server: PodRecord['server'];
  try {
    // The runtime's job before CNI: the sandbox's loopback.
    await withNetlink(netnsPath, (nl) => nl.links.setUp('lo'));
    // The server listens on the wildcard address, which needs no interface yet: it starts while
    // CNI ADD runs (each takes a few hundred ms on a small machine), and the pod is reported
    // Running only once both are done.
    const [add, started] = await Promise.allSettled([runList(labDir, 'ADD', att), startServer(labDir, { namespace, name, number, netns: netnsPath }, want.serves)]);
    if (add.status === 'fulfilled') added = add.value ?? {};
    if (started.status === 'fulfilled') server = started.value;
    if (add.status === 'rejected') throw add.reason;
    if (started.status === 'rejected') throw started.reason;
    const ips = ipsOf(added);
    if (ips.length === 0) throw new Error(`CNI ADD of ${namespace}/${name} returned no addresses`);
    return {
      namespace,
      name,
      uid,
      number,
      node: want.node.name,
      netns: netnsPath,
      containerId: att.containerId,
      ifName: POD_IFNAME,
      ips,
      serves: want.serves,
      server,
      cniResult: added,
      object: runningPod(want.object, uid, want.node, ips),
    };
  } catch (err) {
    if (server) await stopRecorded([{ pid: server.pid, markers: serverMarkers(server) }], 500);
    if (added) await runList(labDir, 'DEL', att, added).catch(() => undefined);
    deleteNamedNetns(netnsPath);
    fs.rmSync(podPaths(labDir, number).dir, { recursive: true, force: true });
    deleteObject(manifests, want.object);
    throw err;
  }
}

export const serverMarkers = (server: NonNullable<PodRecord['server']>): string[] => [POD_SERVER, server.control];

export function serverAlive(pod: PodRecord): boolean {
  return pod.server !== undefined && isOurs(pod.server.pid, serverMarkers(pod.server));
}

/**
 * Deletes a pod: stops its server, CNI DEL (which releases its addresses), removes its
 * namespace and directory. For `lab down` (`teardown`), a failed DEL does not stop it, and the
 * agent, about to be stopped itself, is left out of the DEL (unregistering would only make it
 * sync once more per pod).
 */
export async function detachPod(labDir: string, state: LabState, pod: PodRecord, teardown = false): Promise<void> {
  if (pod.server) await stopRecorded([{ pid: pod.server.pid, markers: serverMarkers(pod.server) }], 1000);
  const node = state.nodes.find((n) => n.name === pod.node);
  if (node) {
    const att: Attachment = { node, containerId: pod.containerId, netns: pod.netns, namespace: pod.namespace, name: pod.name, uid: pod.uid, withoutAgent: teardown || !agentAlive(node.agent) };
    try {
      await runList(labDir, 'DEL', att, pod.cniResult);
    } catch (err) {
      if (!teardown) throw err;
    }
  }
  deleteNamedNetns(pod.netns);
  fs.rmSync(podPaths(labDir, pod.number).dir, { recursive: true, force: true });
}
