/**
 * weft-bridge (and, as the yardstick, the reference bridge) chained with Debian's reference plugins in one conflist, run as a runtime runs it
 * (lab/conflist.ts): portmap's DNAT reaches the pod from outside the node, bandwidth shapes the
 * pod's traffic, tuning changes the pod's interface and sysctls; and weft-bridge with the
 * reference host-local IPAM. DEL of the chain leaves the node as it was.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { systemBinary } from '../../kernel/exec';
import { withNetlink } from '../../kernel/netlink';
import { readSysctl } from '../../kernel/sysctl';
import { addNetworkList, delNetworkList, type NetworkConfigList, type RuntimeAttachment } from '../../lab/conflist';
import { ping, runIn, startTcpServer, tcpProbe } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';
import { outsideNetwork } from '../helpers/topology';
import { tempDir } from '../helpers/tmp';

/** The attachment plugins under test; the reference bridge shows what the chain does when it works. */
const BRIDGE_TYPES = ['bridge', 'weft-bridge'];

function bridgePlugin(type: string, ipamType: string, dataDir: string, subnet: string) {
  return { type, bridge: 'cni-chain', isGateway: true, isDefaultGateway: true, ipMasq: true, ipam: { type: ipamType, subnet, dataDir } };
}

function attachment(t: ExecutionContext, node: string, label: string, capabilityArgs?: Record<string, unknown>): RuntimeAttachment {
  const netns = tempNetns(t, label);
  return { hostNetns: node, netns, containerId: `chain-${label}-${path.basename(netns)}`, ifName: 'eth0', args: { K8S_POD_NAME: label }, capabilityArgs };
}

function firstAddress(result: Record<string, unknown>): string {
  const ips = result.ips as { address: string }[];
  return ips[0].address.split('/')[0];
}

/**
 * What the node's kernel holds that one attachment could leave behind: links, and rules that
 * name a pod address or a per-container chain (portmap keeps its shared CNI-HOSTPORT-* chains
 * for all pods by design, so they are not an attachment's leftovers).
 */
async function nodeState(node: string): Promise<{ links: string[]; rules: string[] }> {
  const links = await withNetlink(node, async (nl) => (await nl.links.list()).map((l) => l.name).sort());
  const ruleset = await runIn(node, systemBinary('nft'), ['list', 'ruleset']);
  const rules = ruleset.stdout.split('\n').filter((l) => l.includes('10.233.') || /CNI-DN-|CNI-[0-9a-f]{8}/.test(l));
  return { links: links.filter((l) => l !== 'cni-chain'), rules };
}

/** Throughput in Mbit/s of a 2-second TCP upload from `client` to an iperf3 server in `server`. */
async function uploadMbps(client: string, server: string, serverAddress: string): Promise<number> {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const serverRun = runIn(server, 'iperf3', ['-s', '-1', '-p', '5201'], 20_000);
    for (let connect = 0; connect < 20; connect++) {
      const run = await runIn(client, 'iperf3', ['-c', serverAddress, '-p', '5201', '-t', '2', '-J'], 15_000);
      const report = parseReport(run.stdout);
      if (run.code === 0 && report?.end?.sum_received) {
        await serverRun;
        return report.end.sum_received.bits_per_second / 1e6;
      }
      last = report?.error ?? run.stdout + run.stderr;
      if (!/refused|connect/i.test(last)) break; // not "server not listening yet": start over
      await new Promise((r) => setTimeout(r, 100));
    }
    await serverRun;
  }
  throw new Error(`iperf3 gave no measurement: ${last}`);
}

function parseReport(text: string): { error?: string; end?: { sum_received?: { bits_per_second: number } } } | undefined {
  try {
    return JSON.parse(text) as { error?: string; end?: { sum_received?: { bits_per_second: number } } };
  } catch {
    return undefined;
  }
}

for (const BRIDGE_TYPE of BRIDGE_TYPES) {
  // Serial: the throughput check wants the machine to itself.
  test.serial(`${BRIDGE_TYPE} + portmap + bandwidth + tuning: DNAT reaches the pod, traffic is shaped, tuning applies, DEL cleans`, async (t) => {
    const node = tempNetns(t, 'node');
    const outside = await outsideNetwork(t, node);
    const before = await nodeState(node);
    const dataDir = tempDir(t, 'chain');
    const list: NetworkConfigList = {
      cniVersion: '1.0.0',
      name: 'chain',
      plugins: [
        bridgePlugin(BRIDGE_TYPE, 'weft-ipam', dataDir, '10.233.1.0/24'),
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'bandwidth', capabilities: { bandwidth: true } },
        { type: 'tuning', mtu: 1400, sysctl: { 'net.core.somaxconn': '512' } },
      ],
    };
    const shaped = attachment(t, node, 'shaped', {
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
      bandwidth: { egressRate: 10_000_000, egressBurst: 200_000 },
    });
    const result = await addNetworkList(list, shaped);
    const podAddress = firstAddress(result);
    t.regex(podAddress, /^10\.233\.1\./);

    // portmap: a connection to the node's port 8080 from outside lands on the pod's port 80.
    const server = await startTcpServer(shaped.netns, 80, 'chained-pod');
    t.teardown(() => server.stop());
    t.deepEqual(await tcpProbe(outside.netns, outside.nodeAddress, 8080), { ok: true, detail: 'weft chained-pod' });

    // tuning: MTU and a namespaced sysctl changed inside the pod.
    const mtu = await withNetlink(shaped.netns, async (nl) => (await nl.links.get('eth0')).mtu);
    t.is(mtu, 1400);
    t.is(readSysctl(shaped.netns, 'net.core.somaxconn').trim(), '512');

    // bandwidth: 10 Mbit/s egress, against a pod on the same chain without a bandwidth request.
    const free = attachment(t, node, 'free', { portMappings: [] });
    const freeResult = await addNetworkList(list, free);
    const limited = await uploadMbps(shaped.netns, outside.netns, outside.outsideAddress);
    const unlimited = await uploadMbps(free.netns, outside.netns, outside.outsideAddress);
    t.log(`upload: shaped ${limited.toFixed(1)} Mbit/s, unshaped ${unlimited.toFixed(0)} Mbit/s`);
    t.true(limited > 2 && limited < 15, `shaped upload ${limited} Mbit/s should be near 10`);
    t.true(unlimited > 100, `unshaped upload ${unlimited} Mbit/s`);

    await delNetworkList(list, free, freeResult);
    await delNetworkList(list, shaped, result);
    t.deepEqual(await nodeState(node), before);
    t.deepEqual(fs.readdirSync(path.join(dataDir, 'chain')).filter((f) => /^\d/.test(f)), []);
    // A runtime may call DEL again (e.g. after a restart): still fine.
    await delNetworkList(list, shaped, result);
  });

  test(`${BRIDGE_TYPE} with the reference host-local IPAM: pods reach each other, DEL releases`, async (t) => {
    const node = tempNetns(t, 'node');
    const dataDir = tempDir(t, 'chain');
    const list: NetworkConfigList = { cniVersion: '1.0.0', name: 'hl', plugins: [bridgePlugin(BRIDGE_TYPE, 'host-local', dataDir, '10.233.2.0/24')] };
    const a = attachment(t, node, 'a');
    const b = attachment(t, node, 'b');
    const ra = await addNetworkList(list, a);
    const rb = await addNetworkList(list, b);
    t.deepEqual([firstAddress(ra), firstAddress(rb)], ['10.233.2.2', '10.233.2.3']);
    t.true(await ping(a.netns, '10.233.2.3'));
    t.true(await ping(b.netns, '10.233.2.1'));
    await delNetworkList(list, a, ra);
    await delNetworkList(list, b, rb);
    t.false(fs.existsSync(path.join(dataDir, 'hl', '10.233.2.2')));
    t.false(fs.existsSync(path.join(dataDir, 'hl', '10.233.2.3')));
  });
}
