/**
 * Cross-node pod networking end to end: node namespaces on one underlay switch, a real
 * weft-agent in each (overlay controller + masquerade), pods attached by weft-overlay through
 * weft-cni-shim and the agents' CNI servers. Pods on different nodes reach each other with
 * their own addresses, at the overlay MTU, a full-size transfer included; traffic to an address
 * outside the cluster leaves masqueraded; nodes leaving and joining are followed without a
 * restart.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { withNetlink } from '../../kernel/netlink';
import { writeSysctl } from '../../kernel/sysctl';
import { runCniOk, SHIM_BIN_DIR } from '../../lab/cni-exec';
import { runIn, startPeerAddressServer, tcpProbe } from '../../lab/probe';
import { WEFT_ROUTE_PROTOCOL } from '../../overlay/apply';
import { eventually, startAgentProcess, waitReady } from '../helpers/agent-process';
import { tempNetns } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';

interface Options {
  backend: 'nftables' | 'iptables';
  overlay: 'vxlan' | 'host-gw' | 'hybrid';
  dualStack: boolean;
  /** Nodes without spec.podCIDRs: the agents derive subnets from node addresses. */
  derive?: boolean;
}

const DEFAULTS: Options = { backend: 'nftables', overlay: 'vxlan', dualStack: false };

interface Cluster {
  options: Options;
  dir: string;
  manifests: string;
  switchNs: string;
  internet: { ns: string; address: string };
  nodes: Map<string, { ns: string; address: string; cniSocket: string; socket: string; nodeNetwork: string }>;
}

function nodeYaml(name: string, index: number, dualStack: boolean, derive = false): string {
  if (derive) return `apiVersion: v1\nkind: Node\nmetadata: {name: ${name}}\nstatus: {addresses: [{type: InternalIP, address: 192.0.2.${10 + index}}]}\n`;
  const cidrs = [`10.244.${index}.0/24`, ...(dualStack ? [`fd00:10:244:${index}::/64`] : [])];
  const addresses = [`{type: InternalIP, address: 192.0.2.${10 + index}}`, ...(dualStack ? [`{type: InternalIP, address: "fd00:192::${10 + index}"}`] : [])];
  return `apiVersion: v1
kind: Node
metadata: {name: ${name}}
spec: {podCIDR: ${cidrs[0]}, podCIDRs: [${cidrs.map((x) => `"${x}"`).join(', ')}]}
status: {addresses: [${addresses.join(', ')}, {type: Hostname, address: ${name}}]}
`;
}

/** A port on the underlay switch for `ns`, as eth0 with `address`/24 (and `address6`/64). */
async function plug(cluster: { switchNs: string }, ns: string, port: string, address: string, address6?: string): Promise<void> {
  await withNetlink(cluster.switchNs, async (nl) => {
    await nl.links.createVeth({ name: port, peer: { name: 'eth0', netns: ns } });
    await nl.links.setMaster(port, 'sw');
    await nl.links.setUp(port);
  });
  // Neighbour discovery on the underlay would wait for duplicate address detection (~2 s).
  writeSysctl(ns, 'net.ipv6.conf.eth0.accept_dad', 0);
  await withNetlink(ns, async (nl) => {
    await nl.links.setUp('lo');
    await nl.addresses.add('eth0', `${address}/24`);
    if (address6) await nl.addresses.add('eth0', `${address6}/64`, { noDad: true });
    await nl.links.setUp('eth0');
  });
}

async function cluster(t: ExecutionContext, options: Options = DEFAULTS): Promise<Cluster> {
  const dir = tempDir(t, 'overlay');
  const manifests = path.join(dir, 'manifests');
  fs.mkdirSync(manifests);
  const switchNs = tempNetns(t, 'sw');
  await withNetlink(switchNs, async (nl) => {
    await nl.links.setUp('lo');
    await nl.links.createBridge({ name: 'sw', up: true });
  });
  const c: Cluster = { options, dir, manifests, switchNs, internet: { ns: tempNetns(t, 'inet'), address: '192.0.2.100' }, nodes: new Map() };
  await plug(c, c.internet.ns, 'pinet', c.internet.address, options.dualStack ? 'fd00:192::100' : undefined);
  return c;
}

async function addNode(t: ExecutionContext, c: Cluster, index: number): Promise<void> {
  const name = `n${index}`;
  const ns = tempNetns(t, name);
  const address = `192.0.2.${10 + index}`;
  await plug(c, ns, `p${index}`, address, c.options.dualStack ? `fd00:192::${10 + index}` : undefined);
  writeSysctl(ns, 'net.ipv4.ip_forward', 1);
  writeSysctl(ns, 'net.ipv6.conf.all.forwarding', 1);
  const run = path.join(c.dir, name);
  const node = { ns, address, socket: path.join(run, 'agent.sock'), cniSocket: path.join(run, 'cni.sock'), nodeNetwork: path.join(run, 'node-network.json') };
  c.nodes.set(name, node);
  fs.writeFileSync(path.join(c.manifests, `node-${name}.yaml`), nodeYaml(name, index, c.options.dualStack, c.options.derive));
  const agent = startAgentProcess(
    t,
    ns,
    ['--node-name', name, '--manifests', c.manifests, '--cni-socket', node.cniSocket, '--node-network-file', node.nodeNetwork, '--health-listen', '', '--cluster-cidr', '10.244.0.0/16,fd00:10:244::/48', '--service-cidr', '10.96.0.0/16', '--backend', c.options.backend, '--overlay', c.options.overlay, ...(c.options.derive ? ['--underlay-cidr', '192.0.2.0/24'] : [])],
    node.socket,
  );
  await waitReady(agent);
  await eventually(`${name}'s node network`, () => (fs.existsSync(node.nodeNetwork) ? true : undefined));
}

async function addPod(t: ExecutionContext, c: Cluster, nodeName: string, pod: string): Promise<{ ns: string; ip: string; ip6?: string }> {
  const node = c.nodes.get(nodeName)!;
  const ns = tempNetns(t, pod);
  const config = {
    cniVersion: '1.0.0',
    name: 'weft',
    type: 'weft-overlay',
    nodeNetworkFile: node.nodeNetwork,
    stateDir: path.join(c.dir, nodeName, 'overlay-state'),
    agentSocket: node.socket,
    ipam: { dataDir: path.join(c.dir, nodeName, 'ipam') },
  };
  // Bound to the node before its sandbox gets a network, as the scheduler does: the agent
  // waits for the object when the ADD registers the pod (its labels decide its policy).
  const object = { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: 'default', labels: { name: pod } }, spec: { nodeName, containers: [{ name: 'c', image: 'x' }] }, status: { phase: 'Pending' } };
  fs.writeFileSync(path.join(c.manifests, `pod-${pod}.json`), JSON.stringify(object));
  const inv = { hostNetns: node.ns, plugin: 'weft-overlay', config, containerId: `ctr-${pod}`, netns: ns, ifName: 'eth0', args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod }, cniPath: [SHIM_BIN_DIR], env: { WEFT_CNI_SOCKET: node.cniSocket } };
  const { json } = await runCniOk({ ...inv, command: 'ADD' });
  t.teardown(async () => void (await runCniOk({ ...inv, command: 'DEL', config: { ...config, prevResult: json } }).catch(() => undefined)));
  const server = await startPeerAddressServer(ns, 8080);
  t.teardown(() => server.stop());
  const ips = (json?.ips as { address: string }[]).map((x) => x.address.split('/')[0]);
  return { ns, ip: ips[0], ip6: ips.find((x) => x.includes(':')) };
}

const overlayRoutes = (ns: string) => withNetlink(ns, async (nl) => (await nl.routes.list()).filter((r) => r.protocol === WEFT_ROUTE_PROTOCOL).map((r) => r.dst).sort());

/** Receives `bytes` from a server in `serverNs` at address:port; resolves with what arrived. */
async function bulkTransfer(clientNs: string, serverNs: string, address: string, bytes: number): Promise<number> {
  // Serves one connection, then exits (or gives up after 8 s).
  const serverSrc = `const net=require('net');const buf=Buffer.alloc(${bytes},120);const srv=net.createServer((s)=>{s.end(buf);srv.close();}).listen(9000,'0.0.0.0');setTimeout(()=>process.exit(1),8000).unref();`;
  const server = runIn(serverNs, process.execPath, ['-e', serverSrc], 10_000);
  await new Promise((r) => setTimeout(r, 300));
  // Retries while the server is not listening yet (its process starts slowly on a loaded machine).
  const clientSrc = `const net=require('net');let n=0;const go=(left)=>{const s=net.connect(9000,process.argv[1]);s.on('data',(d)=>n+=d.length);s.on('end',()=>{process.stdout.write(String(n));process.exit(0)});s.on('error',(e)=>{if(e.code==='ECONNREFUSED'&&left>0&&n===0)setTimeout(()=>go(left-1),100);else{process.stdout.write(String(n));process.exit(1)}});s.setTimeout(5000,()=>{process.stdout.write(String(n));process.exit(1)});};go(50);`;
  const { stdout } = await runIn(clientNs, process.execPath, ['-e', clientSrc, address], 10_000);
  await server;
  return Number(stdout);
}

async function crossNode(t: ExecutionContext, options: Options, mtu: number): Promise<void> {
  const c = await cluster(t, options);
  await addNode(t, c, 1);
  await addNode(t, c, 2);
  const a = await addPod(t, c, 'n1', 'pod-a');
  const b = await addPod(t, c, 'n2', 'pod-b');
  t.regex(a.ip, /^10\.244\.1\./);
  t.regex(b.ip, /^10\.244\.2\./);

  // Across nodes, both ways, the server sees the client's own address.
  t.deepEqual(await tcpProbe(a.ns, b.ip, 8080), { ok: true, detail: a.ip });
  t.deepEqual(await tcpProbe(b.ns, a.ip, 8080), { ok: true, detail: b.ip });

  // The overlay MTU (1500 - 50) on the pod, and a full-size transfer goes through unfragmented.
  const podLink = await withNetlink(a.ns, (nl) => nl.links.get('eth0'));
  t.is(podLink.mtu, mtu);
  const node1 = c.nodes.get('n1')!;
  t.is(JSON.parse(fs.readFileSync(node1.nodeNetwork, 'utf8')).mtu, mtu);
  if (options.dualStack) {
    t.regex(a.ip6 ?? '', /^fd00:10:244:1:/);
    // Retried: under load the first IPv6 packets across the tunnel can wait for neighbour
    // discovery longer than one probe's timeout (seen once in CI).
    const v6 = await eventually('an IPv6 connection across nodes', async () => {
      const r = await tcpProbe(a.ns, b.ip6!, 8080);
      return r.ok ? r : undefined;
    }, 15_000).catch(() => tcpProbe(a.ns, b.ip6!, 8080));
    t.deepEqual(v6, { ok: true, detail: a.ip6 });
  }
  t.is(await bulkTransfer(a.ns, b.ns, b.ip, 4 << 20), 4 << 20);

  // "The internet": no route back to pod addresses, so only a masqueraded connection works.
  const outside = await startPeerAddressServer(c.internet.ns, 8080);
  t.teardown(() => outside.stop());
  t.deepEqual(await tcpProbe(a.ns, c.internet.address, 8080), { ok: true, detail: node1.address });
}

test('vxlan, nftables: pods on different nodes reach each other with their own addresses; outside traffic is masqueraded; MTU fits', (t) =>
  crossNode(t, DEFAULTS, 1450));
test('host-gw, iptables backend: the same without encapsulation, at the underlay MTU', (t) => crossNode(t, { backend: 'iptables', overlay: 'host-gw', dualStack: false }, 1500));
test('vxlan, dual-stack: IPv6 pods across nodes too (MTU for an IPv6 underlay: 1430)', (t) => crossNode(t, { backend: 'nftables', overlay: 'vxlan', dualStack: true }, 1430));

test('a node that leaves disappears from the others; one that joins later is reachable without a restart', async (t) => {
  const c = await cluster(t);
  await addNode(t, c, 1);
  await addNode(t, c, 2);
  const a = await addPod(t, c, 'n1', 'pod-a');
  const n1 = c.nodes.get('n1')!;
  t.deepEqual(await overlayRoutes(n1.ns), ['10.244.2.0/24']);

  fs.rmSync(path.join(c.manifests, 'node-n2.yaml'));
  // The route goes first, then (in the same sync) the neighbour and FDB entries: wait for all three.
  const leftOf = (ns: string) =>
    withNetlink(ns, async (nl) => ({
      routes: (await nl.routes.list()).filter((r) => r.protocol === WEFT_ROUTE_PROTOCOL).length,
      fdb: (await nl.fdb.list({ link: 'weft.1' })).filter((e) => e.dst).length,
      neighbours: (await nl.neighbours.list({ link: 'weft.1' })).filter((e) => e.state.includes('permanent')).length,
    }));
  t.deepEqual(await eventually('n2 gone from n1', async () => {
    const left = await leftOf(n1.ns);
    return left.routes + left.fdb + left.neighbours === 0 ? left : undefined;
  }), { routes: 0, fdb: 0, neighbours: 0 });

  await addNode(t, c, 3);
  const d = await addPod(t, c, 'n3', 'pod-d');
  await eventually('n3 routed from n1', async () => ((await overlayRoutes(n1.ns)).includes('10.244.3.0/24') ? true : undefined));
  t.deepEqual(await tcpProbe(a.ns, d.ip, 8080), { ok: true, detail: a.ip });
});

test('Nodes without spec.podCIDRs: each agent derives every node\'s subnet from its address, the same everywhere', async (t) => {
  const c = await cluster(t, { ...DEFAULTS, derive: true });
  await addNode(t, c, 1);
  await addNode(t, c, 2);
  const a = await addPod(t, c, 'n1', 'pod-a');
  const b = await addPod(t, c, 'n2', 'pod-b');
  // 192.0.2.11 -> host 11 -> the 11th /24 of 10.244.0.0/16.
  t.regex(a.ip, /^10\.244\.11\./);
  t.regex(b.ip, /^10\.244\.12\./);
  t.deepEqual(await tcpProbe(a.ns, b.ip, 8080), { ok: true, detail: a.ip });
  t.deepEqual(await overlayRoutes(c.nodes.get('n1')!.ns), ['10.244.12.0/24']);
});
