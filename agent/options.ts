/**
 * weft-agent's command line (yargs): every path and name is configurable, so that several
 * agents (a lab's nodes, tests) run side by side on one machine.
 */
import os from 'node:os';
import yargs from 'yargs';
import { canonicalCidr } from '../overlay/nodes';

export interface AgentCliOptions {
  nodeName: string;
  source: 'kube' | 'manifests';
  manifests: string;
  kubeconfig?: string;
  /** Seconds between looks for a CRD that is not installed (--source kube). */
  crdRecheckInterval: number;
  socket: string;
  cniSocket: string;
  backend: 'nftables' | 'iptables';
  table: string;
  iptablesBinary: 'iptables' | 'iptables-nft' | 'iptables-legacy';
  healthListen: string;
  logLevel: string;
  resyncInterval: number;
  overlay: 'none' | 'vxlan' | 'host-gw' | 'hybrid';
  vni: number;
  vxlanPort: number;
  vxlanDevice: string;
  vxlanDeviceV6: string;
  nodeNetworkFile: string;
  clusterCidrs: string[];
  serviceCidrs: string[];
  masquerade: boolean;
  underlayCidrs: string[];
  nodeCidrMaskSize: { 4: number; 6: number };
  /** '' when the agent does not guard a pod bridge. */
  podBridge: string;
  networkPolicy: boolean;
  proxy: boolean;
  /** 'primary', or CIDRs (kube-proxy's --nodeport-addresses). */
  nodePortAddresses: 'primary' | string[];
}

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/;

function cidrList(value: string): string[] {
  return value.split(',').map((c) => c.trim()).filter((c) => c !== '');
}

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentCliOptions {
  const parsed = yargs(argv)
    .scriptName('weft-agent')
    // A repeated option overrides the earlier one (as with most daemons), instead of becoming a list.
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .usage('$0 [options]\n\nThe weft node agent: watches Kubernetes objects and keeps the node\'s nftables/iptables rules in line with them.')
    .option('node-name', { type: 'string', default: env.NODE_NAME || os.hostname(), describe: 'this node\'s name (env NODE_NAME)' })
    .option('source', {
      choices: ['kube', 'manifests'] as const,
      describe: 'where objects come from: the Kubernetes API, or a directory of manifests (default: kube in a cluster or with --kubeconfig, else manifests)',
    })
    .option('manifests', { type: 'string', default: '/etc/weft/manifests', describe: 'manifests directory (--source manifests)' })
    .option('kubeconfig', { type: 'string', describe: 'kubeconfig file (--source kube); in-cluster credentials when absent' })
    .option('crd-recheck-interval', {
      type: 'number',
      default: 60,
      describe: 'seconds between looks for the ClusterNetworkPolicy CRD while it is not installed (--source kube): installed later, it is picked up without a restart',
    })
    .option('socket', { type: 'string', default: '/run/weft/agent.sock', describe: 'gRPC API unix socket (mode 0600)' })
    .option('cni-socket', { type: 'string', default: '/run/weft/cni.sock', describe: 'CNI server socket for weft-cni-shim; "" disables it' })
    .option('backend', { choices: ['nftables', 'iptables'] as const, default: 'nftables' as const, describe: 'how rules are written' })
    .option('table', { type: 'string', default: 'weft', describe: 'nftables table (inet TABLE); iptables chains are named TABLE-* in upper case' })
    .option('iptables-binary', { choices: ['iptables', 'iptables-nft', 'iptables-legacy'] as const, default: 'iptables' as const, describe: 'iptables build (--backend iptables)' })
    .option('health-listen', { type: 'string', default: '0.0.0.0:9764', describe: 'HOST:PORT for /healthz, /readyz and /metrics; "" disables' })
    .option('log-level', { choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], default: 'info' })
    .option('resync-interval', { type: 'number', default: 60, describe: 'seconds between full syncs that revert changes made behind the agent\'s back; 0 disables' })
    .option('overlay', { choices: ['none', 'vxlan', 'host-gw', 'hybrid'] as const, default: 'vxlan' as const, describe: 'how pods reach other nodes: VXLAN, direct routes (nodes on one L2 segment), or direct where on-link and VXLAN elsewhere' })
    .option('vni', { type: 'number', default: 1, describe: 'VXLAN network identifier (flannel\'s default)' })
    .option('vxlan-port', { type: 'number', default: 8472, describe: 'VXLAN UDP port (flannel\'s and the kernel\'s default)' })
    .option('vxlan-device', { type: 'string', default: 'weft.1', describe: 'VXLAN device for IPv4 pods' })
    .option('vxlan-device-v6', { type: 'string', default: 'weft-v6.1', describe: 'VXLAN device for IPv6 pods' })
    .option('node-network-file', { type: 'string', default: '/run/weft/node-network.json', describe: 'where the node\'s pod subnets and MTU are written for weft-overlay' })
    .option('cluster-cidr', { type: 'string', default: '', describe: 'the cluster\'s pod ranges, comma-separated (default: every node\'s pod subnet)' })
    .option('service-cidr', { type: 'string', default: '', describe: 'the service ranges, comma-separated: never masqueraded' })
    .option('underlay-cidr', {
      type: 'string',
      default: '',
      describe: 'the underlay subnet(s) all nodes share, comma-separated: a Node without spec.podCIDRs gets a subnet of --cluster-cidr derived from its address in it',
    })
    .option('node-cidr-mask-size', { type: 'number', default: 24, describe: 'prefix length of derived IPv4 node subnets' })
    .option('node-cidr-mask-size-ipv6', { type: 'number', default: 64, describe: 'prefix length of derived IPv6 node subnets' })
    .option('masquerade', { type: 'boolean', default: true, describe: 'masquerade pod traffic to destinations outside the cluster ranges' })
    .option('pod-bridge', {
      type: 'string',
      default: 'weft0',
      describe: 'the bridge pods are attached to (weft-overlay\'s "bridge"): only known pods send and receive on it, and its traffic is filtered; "" for none',
    })
    .option('network-policy', { type: 'boolean', default: true, describe: 'enforce NetworkPolicy for this node\'s pods' })
    .option('proxy', { type: 'boolean', default: false, describe: 'proxy Services (ClusterIP, NodePort, external and load-balancer IPs), as kube-proxy does' })
    .option('nodeport-addresses', {
      type: 'string',
      default: 'primary',
      describe: 'where node ports are served: "primary" (the Node\'s InternalIP of each family) or CIDRs, comma-separated (the Node\'s addresses in them)',
    })
    .check((a) => {
      for (const name of [a['vxlan-device'], a['vxlan-device-v6'], ...(a['pod-bridge'] ? [a['pod-bridge']] : [])]) if (!IFNAME.test(name)) throw new Error(`invalid device name ${JSON.stringify(name)}`);
      if (!Number.isInteger(a.vni) || a.vni < 0 || a.vni > 0xffffff) throw new Error('--vni must be an integer from 0 to 16777215');
      if (!Number.isInteger(a['vxlan-port']) || a['vxlan-port'] < 1 || a['vxlan-port'] > 65535) throw new Error('--vxlan-port must be a port number');
      const nodePortCidrs = a['nodeport-addresses'] === 'primary' ? [] : cidrList(a['nodeport-addresses']);
      for (const c of [...cidrList(a['cluster-cidr']), ...cidrList(a['service-cidr']), ...cidrList(a['underlay-cidr']), ...nodePortCidrs]) if (!canonicalCidr(c)) throw new Error(`invalid CIDR ${JSON.stringify(c)}`);
      if (cidrList(a['underlay-cidr']).length > 0 && cidrList(a['cluster-cidr']).length === 0) throw new Error('--underlay-cidr needs --cluster-cidr (where derived subnets come from)');
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(a['node-name'])) throw new Error(`invalid --node-name ${JSON.stringify(a['node-name'])}`);
      if (!/^[A-Za-z][A-Za-z0-9_-]{0,20}$/.test(a.table)) throw new Error(`invalid --table ${JSON.stringify(a.table)} (letters, digits, - and _, at most 21)`);
      if (a['health-listen'] !== '' && !parseHostPort(a['health-listen'])) throw new Error(`invalid --health-listen ${JSON.stringify(a['health-listen'])} (HOST:PORT)`);
      if (!(a['resync-interval'] >= 0)) throw new Error('--resync-interval must be >= 0');
      if (!(a['crd-recheck-interval'] > 0)) throw new Error('--crd-recheck-interval must be > 0');
      return true;
    })
    .strict()
    .help()
    .version(false)
    .parseSync();
  const source = parsed.source ?? (parsed.kubeconfig || env.KUBERNETES_SERVICE_HOST ? 'kube' : 'manifests');
  return {
    nodeName: parsed['node-name'],
    source,
    manifests: parsed.manifests,
    kubeconfig: parsed.kubeconfig,
    crdRecheckInterval: parsed['crd-recheck-interval'],
    socket: parsed.socket,
    cniSocket: parsed['cni-socket'],
    backend: parsed.backend,
    table: parsed.table,
    iptablesBinary: parsed['iptables-binary'],
    healthListen: parsed['health-listen'],
    logLevel: parsed['log-level'],
    resyncInterval: parsed['resync-interval'],
    overlay: parsed.overlay,
    vni: parsed.vni,
    vxlanPort: parsed['vxlan-port'],
    vxlanDevice: parsed['vxlan-device'],
    vxlanDeviceV6: parsed['vxlan-device-v6'],
    nodeNetworkFile: parsed['node-network-file'],
    clusterCidrs: cidrList(parsed['cluster-cidr']).map((c) => canonicalCidr(c)!),
    serviceCidrs: cidrList(parsed['service-cidr']).map((c) => canonicalCidr(c)!),
    masquerade: parsed.masquerade,
    underlayCidrs: cidrList(parsed['underlay-cidr']).map((c) => canonicalCidr(c)!),
    nodeCidrMaskSize: { 4: parsed['node-cidr-mask-size'], 6: parsed['node-cidr-mask-size-ipv6'] },
    podBridge: parsed['pod-bridge'],
    networkPolicy: parsed['network-policy'],
    proxy: parsed.proxy,
    nodePortAddresses: parsed['nodeport-addresses'] === 'primary' ? 'primary' : cidrList(parsed['nodeport-addresses']).map((c) => canonicalCidr(c)!),
  };
}

/** '0.0.0.0:9764', '[::1]:9764' -> host and port. */
export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (!m) return undefined;
  const port = Number(m[3]);
  return port <= 65535 ? { host: m[1] ?? m[2], port } : undefined;
}
