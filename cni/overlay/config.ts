/**
 * weft-overlay's configuration, and the weft-bridge configuration it turns into: the pod joins
 * the node's bridge with an address from the node's own pod subnet (so no per-pod route is
 * needed anywhere else) and the MTU the agent derived from the underlay. Both come from the node
 * network file the agent writes (overlay/controller.ts), as flannel's plugin reads subnet.env.
 *
 * {
 *   "type": "weft-overlay",
 *   "nodeNetworkFile": "/run/weft/node-network.json",   // default
 *   "bridge": "weft0",                                   // default
 *   "agentSocket": "/run/weft/agent.sock",               // optional: register pods
 *   "ipam": { "dataDir": "/var/lib/cni/networks" },      // optional: weft-ipam settings besides ranges
 *   "stateDir": "/var/lib/cni/weft-overlay",             // default: the config each ADD used, for its DEL
 *   "macspoofchk": true                                  // default: the pod sends only from its own MAC and addresses
 * }
 *
 * The spoof check is on unless turned off: NetworkPolicy trusts a packet's source address, and
 * the agent's bridge guard only knows that an address is some local pod's, not which bridge port
 * it may come from. weft-bridge's check ties each port to its pod's MAC and addresses before the
 * pod runs, so a pod cannot pose as another pod of its node to get past a policy.
 */
import type { NodeNetwork } from '../../overlay/controller';
import { CniError, ErrorCode, type NetConf } from '../types';

export const DEFAULT_NODE_NETWORK_FILE = '/run/weft/node-network.json';
export const DEFAULT_STATE_DIR = '/var/lib/cni/weft-overlay';

export interface OverlayPluginConfig {
  nodeNetworkFile: string;
  stateDir: string;
}

function path(conf: NetConf, key: string, fallback: string): string {
  const v = conf[key];
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v !== 'string' || !v.startsWith('/')) throw new CniError(ErrorCode.InvalidNetworkConfig, `${key} must be an absolute path`);
  return v;
}

export function parseOverlayConfig(conf: NetConf): OverlayPluginConfig {
  if (conf.ipam !== undefined && (typeof conf.ipam !== 'object' || conf.ipam === null)) throw new CniError(ErrorCode.InvalidNetworkConfig, 'ipam must be an object');
  if (conf.ipam?.type !== undefined && conf.ipam.type !== 'weft-ipam') {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `weft-overlay allocates from the node's pod subnet with weft-ipam; ipam.type ${JSON.stringify(conf.ipam.type)} is not supported`);
  }
  for (const key of ['ranges', 'subnet'] as const) {
    if (conf.ipam?.[key] !== undefined) throw new CniError(ErrorCode.InvalidNetworkConfig, `ipam.${key} is set by weft-overlay from the node's pod subnet; leave it out`);
  }
  return { nodeNetworkFile: path(conf, 'nodeNetworkFile', DEFAULT_NODE_NETWORK_FILE), stateDir: path(conf, 'stateDir', DEFAULT_STATE_DIR) };
}

/** The weft-bridge configuration for a pod on this node. */
export function bridgeConfigFor(conf: NetConf, network: NodeNetwork): NetConf {
  const { nodeNetworkFile: _f, stateDir: _s, ...rest } = conf;
  const defaultRoutes = network.podCidrs.map((c) => ({ dst: c.includes(':') ? '::/0' : '0.0.0.0/0' }));
  return {
    ...rest,
    type: 'weft-bridge',
    bridge: typeof conf.bridge === 'string' ? conf.bridge : 'weft0',
    isGateway: true,
    // The agent masquerades traffic leaving the cluster; a per-pod rule would also hit pod-to-pod.
    ipMasq: false,
    macspoofchk: conf.macspoofchk ?? true,
    mtu: network.mtu,
    ipam: { ...(conf.ipam ?? {}), type: 'weft-ipam', ranges: network.podCidrs.map((subnet) => [{ subnet }]), routes: defaultRoutes },
  };
}
