/**
 * One weft-agent per lab node, run inside the node's namespace against the lab's manifests
 * directory, detached so it outlives weftctl. It is ready once its first sync is in the
 * kernel, which its gRPC Status reports.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createAgentClient } from '../../agent/api/client';
import type { OverlayMode } from '../../overlay/mtu';
import { tailOf } from './files';
import { CLUSTER_CIDRS, NODE_NETWORK_FILENAME, nodePaths, SERVICE_CIDR_V4 } from './names';
import { isOurs, spawnDetachedIn } from './processes';
import type { AgentBackend, AgentRecord, NodeRecord } from './state';

/** dist/lab/cluster -> dist/agent/main.js */
export const AGENT_MAIN = path.join(__dirname, '..', '..', 'agent', 'main.js');
/** Inside each node's own namespace, so every node can use the same address. */
export const AGENT_HEALTH_LISTEN = '127.0.0.1:9764';

/**
 * The agent's command line: its own sockets and node network file in the node's directory, the
 * VXLAN overlay between the nodes (the agent's default mode), the cluster's ranges, which are
 * never masqueraded, and service proxying.
 */
export function agentArgs(
  node: string,
  manifests: string,
  rec: Pick<AgentRecord, 'socket' | 'cniSocket' | 'healthListen'>,
  logLevel = 'info',
  overlay: OverlayMode = 'vxlan',
  backend: AgentBackend = 'nftables',
): string[] {
  const nodeNetwork = path.join(path.dirname(rec.socket), NODE_NETWORK_FILENAME);
  return [
    AGENT_MAIN,
    '--node-name', node,
    '--source', 'manifests',
    '--manifests', manifests,
    '--socket', rec.socket,
    '--cni-socket', rec.cniSocket,
    '--backend', backend,
    '--health-listen', rec.healthListen,
    '--node-network-file', nodeNetwork,
    '--overlay', overlay,
    '--cluster-cidr', CLUSTER_CIDRS.join(','),
    '--service-cidr', SERVICE_CIDR_V4,
    // The lab has no kube-proxy: the agents proxy its Services.
    '--proxy',
    '--log-level', logLevel,
  ];
}

/** What /proc/PID/cmdline must contain for a pid to still be this node's agent. */
export const agentMarkers = (rec: AgentRecord): string[] => [AGENT_MAIN, rec.socket];

export interface StartedAgent {
  record: AgentRecord;
  /** Resolves with the exit code if the agent exits while weftctl runs. */
  exited: Promise<number | null>;
  /** Where the agent writes the node's pod subnets and MTU, which every pod's ADD reads. */
  nodeNetworkFile: string;
}

export function startAgent(labDir: string, manifests: string, node: NodeRecord, overlay: OverlayMode = 'vxlan', backend: AgentBackend = 'nftables'): StartedAgent {
  if (!fs.existsSync(AGENT_MAIN)) throw new Error(`weft-agent is not built (${AGENT_MAIN} is missing): run npm run build`);
  const p = nodePaths(labDir, node.name);
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const record = { pid: 0, socket: p.agentSocket, cniSocket: p.cniSocket, log: p.agentLog, healthListen: AGENT_HEALTH_LISTEN };
  const log = fs.openSync(p.agentLog, 'a', 0o600);
  try {
    const child = spawnDetachedIn(node.netns, process.execPath, agentArgs(node.name, manifests, record, 'info', overlay, backend), ['ignore', log, log]);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start weft-agent for ${node.name}`);
    return { record: { ...record, pid: child.pid }, exited, nodeNetworkFile: p.nodeNetwork };
  } finally {
    fs.closeSync(log);
  }
}

export function agentAlive(rec: AgentRecord | undefined): boolean {
  return rec !== undefined && isOurs(rec.pid, agentMarkers(rec));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the agent's first sync is in the kernel (Status: sync.lastSyncUnixMs > 0) and its
 * node network file is written (pods can then be added), or
 * fails with the tail of its log when it exits or the deadline passes.
 */
export async function waitAgentReady(node: string, agent: StartedAgent, timeoutMs = 30_000): Promise<void> {
  const { record } = agent;
  let exitCode: number | null | undefined;
  void agent.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + timeoutMs;
  let last = 'its API socket does not exist yet';
  const failure = (why: string) => {
    const tail = tailOf(record.log);
    return new Error(`weft-agent of ${node} (pid ${record.pid}) ${why}; last lines of ${record.log}:\n${tail || '(empty)'}`);
  };
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw failure(`exited (code ${exitCode}) before it was ready`);
    if (fs.existsSync(record.socket)) {
      // A fresh client per attempt: grpc-js backs off reconnecting a channel that failed once.
      const client = createAgentClient(record.socket, 1000);
      try {
        const status = await client.status();
        const synced = status.ready || Number(status.sync?.lastSyncUnixMs ?? 0) > 0;
        // Pods are added next, and weft-overlay's ADD needs the file (it says TryAgainLater without).
        if (synced && fs.existsSync(agent.nodeNetworkFile)) return;
        last = synced ? `it has not written ${agent.nodeNetworkFile} yet` : status.sync?.lastError ? `its last sync failed: ${status.sync.lastError}` : 'it has not synced yet';
      } catch (err) {
        last = `its API does not answer: ${(err as Error).message}`;
      } finally {
        client.close();
      }
    }
    await sleep(50);
  }
  throw failure(`was not ready within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`} (${last})`);
}
