/**
 * weft-agent at cluster scale: the real agent process, in a namespace of the bench's own, with a
 * manifests directory of 1,000 and 10,000 Pod objects. Figures: time from start to ready (Node.js
 * start, reading and indexing every object, first full sync written to the kernel), resident
 * memory once ready, the duration of a sync after one pod changed (every sync compiles the whole
 * state and diffs it against the table read back), and how long that change takes to reach the
 * kernel. Two shapes: pods spread over 100 nodes (a node holds 1% of them, the realistic case),
 * and every pod on this node (the node's sets hold them all: the kernel side at its largest).
 */
import fs from 'node:fs';
import path from 'node:path';
import { NftCli, Transaction } from '../kernel/nft';
import { eventually, spawnAgent, waitReady } from '../lab/agent-process';
import { makeBenchDir, removeBenchDir } from './cleanup';
import { step } from './progress';
import { record, type Scale } from './results';
import { fmt } from './stats';

interface Shape {
  pods: number;
  nodes: number;
}

function podObject(i: number, nodes: number) {
  const ip = `10.${64 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, namespace: `ns-${i % 50}`, labels: { app: `app-${i % 200}`, tier: i % 2 ? 'web' : 'db' } },
    spec: { nodeName: `node-${i % nodes}`, containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80, name: 'http', protocol: 'TCP' }] }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

function writeManifests(dir: string, shape: Shape): void {
  const perFile = 1000;
  for (let start = 0; start < shape.pods; start += perFile) {
    const items = [];
    for (let i = start; i < Math.min(shape.pods, start + perFile); i++) items.push(podObject(i, shape.nodes));
    fs.writeFileSync(path.join(dir, `pods-${start}.json`), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  }
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

type Log = Record<string, unknown>;
const syncs = (logs: Log[]) => logs.filter((l) => l.msg === 'sync applied');

async function measure(ns: string, shape: Shape): Promise<string> {
  const dir = makeBenchDir('weft-bench-agent-');
  const agentLogs: string[] = [];
  try {
    const manifests = path.join(dir, 'manifests');
    fs.mkdirSync(manifests);
    writeManifests(manifests, shape);
    const started = performance.now();
    step(`${shape.pods} pods on ${shape.nodes} node(s): agent start to ready`);
    const agent = spawnAgent(ns, ['--node-name', 'node-0', '--manifests', manifests, '--cni-socket', '', '--health-listen', '', '--log-level', 'debug', '--resync-interval', '0'], path.join(dir, 'agent.sock'));
    try {
      await waitReady(agent, 120_000);
      const readyMs = performance.now() - started;
      const rss = rssMiB(agent.child.pid!);
      // Ready is said over the API; its sync's log line may still be on its way (10,000 local
      // pods: it was not there yet once).
      const first = await eventually('the first sync log', () => syncs(agent.logs())[0], 10_000);
      // One pod of this node changes address: one element out, one in.
      const changed = podObject(0, shape.nodes);
      changed.status = { phase: 'Running', podIP: '10.255.0.1', podIPs: [{ ip: '10.255.0.1' }] };
      const before = syncs(agent.logs()).length;
      const t0 = performance.now();
      fs.writeFileSync(path.join(manifests, 'zz-change.json'), JSON.stringify(changed));
      const nft = new NftCli({ netns: ns });
      await eventually('the change in the kernel', async () => {
        const set = (await nft.listObjects({ family: 'inet', name: 'weft' }))?.sets.find((s) => s.name === 'local-pods-v4');
        return set?.elements.some((e) => e.key[0] === '10.255.0.1') ? true : undefined;
      }, 60_000);
      const toKernelMs = performance.now() - t0;
      const after = await eventually('the sync log', () => (syncs(agent.logs()).length > before ? syncs(agent.logs())[before] : undefined), 10_000);
      agentLogs.push(agent.output());
      const local = Math.ceil(shape.pods / shape.nodes);
      const scale = (plot: string, title: string): Scale => ({ plot, title, x: shape.pods, xLabel: 'Pod objects', series: shape.nodes === 1 ? 'every pod on this node' : `spread over ${shape.nodes} nodes` });
      const at = `${shape.pods} pods / ${shape.nodes} nodes`;
      record({ name: `${at}: start to ready`, unit: 'ms', value: readyMs, scale: scale('ready', 'weft-agent: start to ready vs Pod objects') });
      record({ name: `${at}: RSS when ready`, unit: 'MiB', value: rss, scale: scale('rss', 'weft-agent: resident memory vs Pod objects') });
      record({ name: `${at}: first sync`, unit: 'ms', value: Number(first.durationMs) });
      record({ name: `${at}: sync after 1 pod changed`, unit: 'ms', value: Number(after.durationMs) });
      record({ name: `${at}: change to kernel`, unit: 'ms', value: toKernelMs });
      return [
        `${shape.pods} pods / ${shape.nodes} nodes`.padEnd(24),
        String(local).padStart(7),
        fmt(readyMs).padStart(10),
        `${rss.toFixed(0)} MiB`.padStart(9),
        fmt(Number(first.durationMs)).padStart(12),
        fmt(Number(after.durationMs)).padStart(12),
        fmt(toKernelMs).padStart(12),
      ].join(' ');
    } finally {
      await agent.stop();
      // The next shape starts from an empty kernel table.
      await new NftCli({ netns: ns }).run(new Transaction({ family: 'inet', name: 'weft' }).delete({ kind: 'table' })).catch(() => undefined);
    }
  } finally {
    removeBenchDir(dir);
  }
}

export async function benchAgentScale(ns: string): Promise<void> {
  console.log('\nweft-agent with N Pod objects (manifests source; real agent process and nft)');
  console.log(
    ['objects'.padEnd(24), 'on node'.padStart(7), 'ready'.padStart(10), 'RSS'.padStart(9), 'first sync'.padStart(12), 'sync 1 chg'.padStart(12), 'chg->kernel'.padStart(12)].join(' '),
  );
  for (const shape of [
    { pods: 1000, nodes: 100 },
    { pods: 10_000, nodes: 100 },
    { pods: 1000, nodes: 1 },
    { pods: 10_000, nodes: 1 },
  ]) {
    console.log(await measure(ns, shape));
  }
}
