/**
 * The demo, until the multi-node lab exists: one node made of a network namespace, two pods
 * attached to it by real CNI plugins exactly as a runtime would call them (Debian's reference
 * `bridge` with weft-ipam for addresses, dual-stack), a real connectivity matrix (ICMP and TCP,
 * IPv4 and IPv6), then DEL and cleanup. Everything happens in namespaces the demo creates.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createNamedNetns, deleteNamedNetns } from '../kernel/netns';
import { runCniOk } from './cni-exec';
import { ping, startTcpServer, tcpProbe, type TcpServer } from './probe';

interface Pod {
  name: string;
  netns: string;
  containerId: string;
  ips: string[];
}

const run = crypto.randomBytes(2).toString('hex');
const created: string[] = [];
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-demo-ipam-'));

function netns(label: string): string {
  const p = createNamedNetns(`weft-demo-${run}-${label}`);
  created.push(p);
  return p;
}

function cleanup(): void {
  for (const p of created.splice(0)) deleteNamedNetns(p);
  fs.rmSync(dataDir, { recursive: true, force: true });
}

const network = {
  cniVersion: '1.0.0',
  name: 'weft-demo',
  type: 'bridge',
  bridge: 'cni-weft0',
  isGateway: true,
  ipMasq: false,
  ipam: {
    type: 'weft-ipam',
    dataDir,
    ranges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:10:244:1::/64' }]],
    routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
  },
};

function cell(ok: boolean): string {
  return ok ? 'ok' : 'FAIL';
}

async function main(): Promise<number> {
  const node = netns('node');
  console.log(`node namespace ${node}`);
  const pods: Pod[] = [];
  for (const name of ['pod-a', 'pod-b']) {
    const pod: Pod = { name, netns: netns(name), containerId: `demo-${run}-${name}`, ips: [] };
    const { json, durationMs } = await runCniOk({
      hostNetns: node,
      plugin: 'bridge',
      command: 'ADD',
      config: network,
      containerId: pod.containerId,
      netns: pod.netns,
      ifName: 'eth0',
      args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: name },
    });
    pod.ips = ((json?.ips ?? []) as { address: string }[]).map((ip) => ip.address.split('/')[0]);
    console.log(`ADD ${name}: ${pod.ips.join(', ')} (bridge + weft-ipam, ${durationMs.toFixed(0)} ms)`);
    pods.push(pod);
  }

  const servers: TcpServer[] = [];
  let failures = 0;
  try {
    for (const pod of pods) servers.push(await startTcpServer(pod.netns, 8080, pod.name));
    console.log('\nconnectivity (real probes: ping, TCP 8080)');
    console.log(['from', 'to', 'address', 'icmp', 'tcp'].map((h) => h.padEnd(22)).join(''));
    for (const from of pods) {
      for (const to of pods) {
        if (from === to) continue;
        for (const address of to.ips) {
          const [icmp, tcp] = await Promise.all([ping(from.netns, address), tcpProbe(from.netns, address, 8080)]);
          if (!icmp || !tcp.ok) failures++;
          console.log([from.name, to.name, address, cell(icmp), `${cell(tcp.ok)} (${tcp.detail})`].map((c) => c.padEnd(22)).join(''));
        }
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }

  for (const pod of pods) {
    await runCniOk({
      hostNetns: node,
      plugin: 'bridge',
      command: 'DEL',
      config: network,
      containerId: pod.containerId,
      netns: pod.netns,
      ifName: 'eth0',
    });
  }
  const left = fs.readdirSync(path.join(dataDir, network.name)).filter((f) => net.isIP(f) !== 0);
  console.log(`\nDEL both pods: ${left.length} addresses left allocated`);
  return failures === 0 && left.length === 0 ? 0 : 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

main()
  .then((code) => {
    cleanup();
    console.log(code === 0 ? 'demo: all probes passed' : 'demo: some probes FAILED');
    process.exitCode = code;
  })
  .catch((err: unknown) => {
    cleanup();
    console.error('demo failed:', err);
    process.exitCode = 1;
  });
