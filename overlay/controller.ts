/**
 * The agent's overlay controller: on every sync, the cluster's Node objects become this node's
 * tunnel devices and routes to the other nodes (compile.ts, applied by apply.ts), and the node
 * network the weft-overlay CNI plugin attaches pods with (pod subnets and MTU) is written to a
 * file, atomically and only when it changes, the way flannel hands its subnet to its plugin.
 */
import fs from 'node:fs';
import path from 'node:path';
import { withNetlink } from '../kernel/netlink';
import { applyOverlay } from './apply';
import { compileOverlay, type OverlayConfig } from './compile';
import { podMtu, type OverlayMode } from './mtu';
import type { ClusterNode } from './nodes';
import { discoverUnderlay } from './underlay';

export interface OverlayControllerOptions {
  mode: OverlayMode;
  vni: number;
  port: number;
  deviceNames: { 4: string; 6: string };
  /** Where the node network is written for weft-overlay; not written when absent. */
  nodeNetworkFile?: string;
  /** Namespace to act in; the process's own when absent. */
  netns?: string;
}

/** What weft-overlay reads: how to attach a pod on this node. */
export interface NodeNetwork {
  nodeName: string;
  /** The node's pod subnets, IPv4 first. */
  podCidrs: string[];
  /** MTU for pod interfaces (underlay MTU minus the encapsulation). */
  mtu: number;
  mode: OverlayMode;
}

export interface OverlaySyncResult {
  changes: number;
  peers: number;
  /** Why some nodes (or this one) get no route. */
  skipped: { node: string; reason: string }[];
}

export class OverlayController {
  private written?: string;

  constructor(private readonly options: OverlayControllerOptions) {}

  async sync(nodes: readonly ClusterNode[], self: string): Promise<OverlaySyncResult> {
    const me = nodes.find((n) => n.name === self);
    return withNetlink(this.options.netns, async (nl) => {
      const underlay = me ? await discoverUnderlay(nl, me) : { missing: [] };
      const config: OverlayConfig = { ...this.options, underlay };
      const desired = compileOverlay(nodes, self, config);
      const { changes } = await applyOverlay(nl, desired, { managedDevices: [this.options.deviceNames[4], this.options.deviceNames[6]] });
      const skipped = [...underlay.missing.map((reason) => ({ node: self, reason })), ...desired.skipped];
      if (me) this.writeNodeNetwork(me, underlay);
      return { changes, peers: desired.routes.length, skipped };
    });
  }

  private writeNodeNetwork(me: ClusterNode, underlay: { 4?: { mtu: number }; 6?: { mtu: number } }): void {
    const file = this.options.nodeNetworkFile;
    const podCidrs = [me.podCidrs[4], me.podCidrs[6]].filter((c): c is string => c !== undefined);
    const families = ([4, 6] as const).filter((f) => underlay[f] !== undefined);
    if (!file || podCidrs.length === 0 || families.length === 0) return;
    const underlayMtu = Math.min(...families.map((f) => underlay[f]!.mtu));
    const network: NodeNetwork = { nodeName: me.name, podCidrs, mtu: podMtu(underlayMtu, this.options.mode, families), mode: this.options.mode };
    const text = `${JSON.stringify(network, null, 2)}\n`;
    if (text === this.written && fs.existsSync(file)) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text, { mode: 0o644 });
    fs.renameSync(tmp, file);
    this.written = text;
  }
}

/** Reads the node network the agent wrote (weft-overlay); undefined when there is none yet. */
export function readNodeNetwork(file: string): NodeNetwork | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(text) as Partial<NodeNetwork>;
  if (!Array.isArray(parsed.podCidrs) || typeof parsed.mtu !== 'number' || typeof parsed.nodeName !== 'string') {
    throw new Error(`${file} is not a node network file`);
  }
  return parsed as NodeNetwork;
}
