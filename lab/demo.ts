/**
 * The demo, until the multi-node lab exists: one node made of a network namespace, pods attached
 * to it by real CNI plugins exactly as a runtime would call them, a real connectivity matrix
 * (ICMP and TCP, IPv4 and IPv6), then DEL and cleanup. pod-a and pod-b get weft-bridge with
 * weft-ipam (dual-stack) through weft-cni-shim and a CNI server the demo runs; pod-c gets
 * Debian's reference `bridge` with weft-ipam on the same bridge, to show the two side by side.
 * Everything happens in namespaces the demo creates.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createNamedNetns, deleteNamedNetns } from '../kernel/netns';
import { startCniServer } from '../cni/server';
import { DEFAULT_CNI_PATH, runCniOk, SHIM_BIN_DIR } from './cni-exec';
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
  type: 'weft-bridge',
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

/** Which plugin attaches each pod. */
const POD_PLUGINS: Record<string, string> = { 'pod-a': 'weft-bridge', 'pod-b': 'weft-bridge', 'pod-c': 'bridge' };

function cell(ok: boolean): string {
  return ok ? 'ok' : 'FAIL';
}

async function main(): Promise<number> {
  const node = netns('node');
  console.log(`node namespace ${node}`);
  const server = await startCniServer({ socketPath: path.join(dataDir, 'cni.sock') });
  const via = { cniPath: [SHIM_BIN_DIR, ...DEFAULT_CNI_PATH], env: { WEFT_CNI_SOCKET: server.socketPath } };
  const call = (pod: Pod, command: 'ADD' | 'DEL', prevResult?: unknown) =>
    runCniOk({
      hostNetns: node,
      plugin: POD_PLUGINS[pod.name],
      command,
      config: { ...network, type: POD_PLUGINS[pod.name], ...(prevResult ? { prevResult } : {}) },
      containerId: pod.containerId,
      netns: pod.netns,
      ifName: 'eth0',
      args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod.name },
      ...via,
    });
  const pods: (Pod & { result?: unknown })[] = [];
  for (const name of Object.keys(POD_PLUGINS)) {
    const pod: Pod & { result?: unknown } = { name, netns: netns(name), containerId: `demo-${run}-${name}`, ips: [] };
    const { json, durationMs } = await call(pod, 'ADD');
    pod.result = json;
    pod.ips = ((json?.ips ?? []) as { address: string }[]).map((ip) => ip.address.split('/')[0]);
    console.log(`ADD ${name}: ${pod.ips.join(', ')} (${POD_PLUGINS[name]} + weft-ipam, ${durationMs.toFixed(0)} ms)`);
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

  for (const pod of pods) await call(pod, 'DEL', pod.result);
  await server.close();
  const left = fs.readdirSync(path.join(dataDir, network.name)).filter((f) => net.isIP(f) !== 0);
  console.log(`\nDEL all pods: ${left.length} addresses left allocated`);
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
