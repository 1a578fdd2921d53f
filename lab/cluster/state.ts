/**
 * A lab's state file (`<lab>/state.json`): what `lab up` created and what `lab apply` added, so
 * that later invocations (get, probe, exec, apply, down) find nodes, agents and pods. It is
 * rewritten atomically after every change; `lab down` does not depend on it (see down.ts).
 */
import fs from 'node:fs';
import type { KubeObject } from '../../agent/objects';
import { writeFileAtomic } from './files';
import type { LabPaths } from './names';

export const STATE_VERSION = 1;

export interface AgentRecord {
  pid: number;
  socket: string;
  cniSocket: string;
  log: string;
  /** HOST:PORT inside the node's namespace. */
  healthListen: string;
}

export interface NodeRecord {
  name: string;
  index: number;
  netns: string;
  underlay: { v4: string; v6: string };
  podCIDRs: { v4: string; v6: string };
  agent?: AgentRecord;
}

/** The ports a pod's server listens on. */
export interface ServedPorts {
  tcp: number[];
  udp: number[];
}

export interface PodRecord {
  namespace: string;
  name: string;
  uid: string;
  /** Names its namespace and its directory. */
  number: number;
  node: string;
  netns: string;
  containerId: string;
  ifName: string;
  /** Plain addresses, IPv4 first. */
  ips: string[];
  serves: ServedPorts;
  server?: { pid: number; control: string; log: string };
  /** The CNI result of the ADD, which a runtime keeps for CHECK and DEL. */
  cniResult?: Record<string, unknown>;
  /** The Pod object as written to the manifests directory (with spec.nodeName and status). */
  object: KubeObject;
}

import type { OverlayMode } from '../../overlay/mtu';

export type AgentBackend = 'nftables' | 'iptables';

export interface LabOptions {
  nodes: number;
  podsPerNode: number;
  /** Ports the lab's default pods (and pods that declare none) serve, on TCP and UDP. */
  ports: number[];
  /** How the agents route between nodes (weft-agent --overlay); vxlan when absent. */
  overlay?: OverlayMode;
  /** How the agents write their rules (weft-agent --backend); nftables when absent. */
  backend?: AgentBackend;
}

export interface LabState {
  version: number;
  name: string;
  /** "creating" until `lab up` finished. */
  phase: 'creating' | 'ready';
  createdAt: string;
  options: LabOptions;
  underlayNetns: string;
  nodes: NodeRecord[];
  pods: PodRecord[];
  nextPodNumber: number;
}

export function readState(paths: LabPaths): LabState | undefined {
  let text: string;
  try {
    text = fs.readFileSync(paths.state, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const state = JSON.parse(text) as LabState;
  if (state.version !== STATE_VERSION) throw new Error(`${paths.state} has version ${state.version}, this weftctl reads ${STATE_VERSION}`);
  return state;
}

/** The state of an existing lab, or a clear error. */
export function loadState(paths: LabPaths, lab: string): LabState {
  let state: LabState | undefined;
  try {
    state = readState(paths);
  } catch (err) {
    throw new Error(`lab ${lab}: cannot read ${paths.state}: ${(err as Error).message} (lab down removes what is left)`, { cause: err });
  }
  if (!state) throw new Error(`lab ${lab} does not exist (no ${paths.state}); create it with: weftctl lab up --name ${lab}`);
  return state;
}

export function saveState(paths: LabPaths, state: LabState): void {
  writeFileAtomic(paths.state, `${JSON.stringify(state, null, 2)}\n`);
}

export const podKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

/** Pods in the order kubectl lists them: by namespace, then name. */
export function sortPods(state: LabState): void {
  state.pods.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name, undefined, { numeric: true }));
}
