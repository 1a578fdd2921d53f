/**
 * Every name and address of a lab, derived from the lab's name and a node's index, so that
 * several labs live side by side and `lab down` finds a lab's namespaces even without its state
 * file (after a crash in the middle of `lab up`).
 *
 * Namespaces are `weft-lab-<lab>-underlay`, `weft-lab-<lab>-node-<i>` and `weft-lab-<lab>-pod-<n>`:
 * the suffixes are fixed words and numbers, so no lab's names ever match another lab's pattern
 * (the namespaces of lab "a" are not those of lab "a-pod-1", and the other way round).
 */
import path from 'node:path';

export const NETNS_PREFIX = 'weft-lab-';
/** Short enough that every derived name stays readable and every socket path short. */
export const MAX_LAB_NAME = 24;
export const LAB_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const DEFAULT_STATE_ROOT = '/run/weft/lab';
export const MAX_NODES = 64;
export const MAX_PODS_PER_NODE = 200;

/** Unix socket paths are limited to 107 bytes (sun_path). */
const MAX_SOCKET_PATH = 107;

export function validateLabName(name: string): void {
  if (name.length > MAX_LAB_NAME || !LAB_NAME_PATTERN.test(name)) {
    throw new Error(`invalid lab name ${JSON.stringify(name)}: lower-case letters, digits and "-", at most ${MAX_LAB_NAME} characters, starting and ending with a letter or digit`);
  }
}

/** The state root: --state-root, else $WEFT_LAB_ROOT, else /run/weft/lab. */
export function stateRoot(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(explicit || env.WEFT_LAB_ROOT || DEFAULT_STATE_ROOT);
}

export interface LabPaths {
  root: string;
  dir: string;
  state: string;
  /** Outside `dir`, so that `lab down` can remove the whole directory while holding the lock. */
  lock: string;
  manifests: string;
}

export function labPaths(root: string, lab: string): LabPaths {
  const dir = path.join(root, lab);
  return { root, dir, state: path.join(dir, 'state.json'), lock: path.join(root, `.${lab}.lock`), manifests: path.join(dir, 'manifests') };
}

export interface NodePaths {
  dir: string;
  agentSocket: string;
  cniSocket: string;
  agentLog: string;
  ipamDir: string;
  /** The network configuration list the lab's "runtime" uses, written for people to read. */
  conflist: string;
  /** Where the agent writes the node's pod subnets and MTU for weft-overlay. */
  nodeNetwork: string;
  /** weft-overlay's record of each attachment's configuration. */
  overlayState: string;
}

/** In the node's directory, next to the agent's socket (the agent is told its path). */
export const NODE_NETWORK_FILENAME = 'node-network.json';

export function nodePaths(labDir: string, node: string): NodePaths {
  const dir = path.join(labDir, 'nodes', node);
  return {
    dir,
    agentSocket: path.join(dir, 'agent.sock'),
    cniSocket: path.join(dir, 'cni.sock'),
    agentLog: path.join(dir, 'agent.log'),
    ipamDir: path.join(dir, 'ipam'),
    conflist: path.join(dir, 'net.d', '10-weft.conflist'),
    nodeNetwork: path.join(dir, NODE_NETWORK_FILENAME),
    overlayState: path.join(dir, 'overlay-state'),
  };
}

export interface PodPaths {
  dir: string;
  /** The pod server's control socket (probes are started through it, from inside the pod). */
  control: string;
  log: string;
}

/** Pods are numbered, not named, on disk: a pod's name may be 253 characters long. */
export function podPaths(labDir: string, number: number): PodPaths {
  const dir = path.join(labDir, 'pods', String(number));
  return { dir, control: path.join(dir, 'ctl.sock'), log: path.join(dir, 'server.log') };
}

/** Fails early, with the culprit, when a state root is too deep for the lab's sockets. */
export function checkSocketPaths(labDir: string, nodes: number): void {
  const longest = [nodePaths(labDir, nodeName(nodes - 1)).agentSocket, podPaths(labDir, 99_999).control];
  for (const p of longest) {
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH) throw new Error(`state directory ${labDir} is too deep: socket path ${p} exceeds ${MAX_SOCKET_PATH} bytes (use a shorter --state-root)`);
  }
}

export function nodeName(index: number): string {
  return `node-${index}`;
}

export const underlayNetnsName = (lab: string): string => `${NETNS_PREFIX}${lab}-underlay`;
export const nodeNetnsName = (lab: string, index: number): string => `${NETNS_PREFIX}${lab}-node-${index}`;
export const podNetnsName = (lab: string, number: number): string => `${NETNS_PREFIX}${lab}-pod-${number}`;

/** True for the namespaces of exactly this lab. */
export function isLabNetns(lab: string, netnsName: string): boolean {
  const rest = netnsName.startsWith(`${NETNS_PREFIX}${lab}-`) ? netnsName.slice(NETNS_PREFIX.length + lab.length + 1) : undefined;
  return rest !== undefined && /^(underlay|node-\d+|pod-\d+)$/.test(rest);
}

/** The lab a namespace belongs to, for sweeping leftovers of labs whose names are unknown. */
export function labOfNetns(netnsName: string): string | undefined {
  const m = /^weft-lab-(.+)-(underlay|node-\d+|pod-\d+)$/.exec(netnsName);
  return m && LAB_NAME_PATTERN.test(m[1]) ? m[1] : undefined;
}

// Addresses. The underlay is 192.0.2.0/24 (TEST-NET-1) and a ULA /64; the underlay switch holds
// .1 as every node's default gateway (it does not forward yet: routes to other nodes' pods are
// the overlay's job). Node i's pods get 10.244.i.0/24 and fd00:10:244:i::/64.

export const UNDERLAY_V4 = { subnet: '192.0.2.0/24', gateway: '192.0.2.1', prefix: 24 };
export const UNDERLAY_V6 = { subnet: 'fd00:192:0:2::/64', gateway: 'fd00:192:0:2::1', prefix: 64 };
export const POD_CIDR_V4 = '10.244.0.0/16';
export const SERVICE_CIDR_V4 = '10.96.0.0/16';
/** Every node's pod subnet is inside these (the cluster CIDR the agents get). */
export const CLUSTER_CIDRS = ['10.244.0.0/16', 'fd00:10:244::/48'];

export function nodeUnderlayIPs(index: number): { v4: string; v6: string } {
  return { v4: `192.0.2.${10 + index}`, v6: `fd00:192:0:2::${10 + index}` };
}

export function nodePodCIDRs(index: number): { v4: string; v6: string } {
  // Written canonically (RFC 5952): node 0's is fd00:10:244::/64.
  return { v4: `10.244.${index}.0/24`, v6: index === 0 ? 'fd00:10:244::/64' : `fd00:10:244:${index}::/64` };
}
