/**
 * What NetworkPolicy costs the data path: pod-to-pod throughput (iperf3), request/response
 * latency and new connections per second in the lab (2 nodes, VXLAN), with 0, 100 and 1,000
 * policies in force, as ratios to no policy, measured in the same run and interleaved.
 *
 * The lab's agents also see the synthetic cluster of policy-cluster.ts (5,000 pods on nodes
 * that are not the lab's, in other addresses, in 200 namespaces). The policies in force all
 * select the lab's pods (a policy that selects no pod of a node costs that node nothing): one
 * allows the lab's pods everything among themselves, and the other 99 or 999 allow them ports
 * from and to peers of the synthetic cluster, by namespace and pod selectors and ipBlocks, so
 * that the node holds hundreds of peer classes. The measured packets take the whole policy path
 * (isolated-set lookups, the peer-class verdict map, the class's allowance sets) among them. Established
 * packets are accepted by conntrack before any of it, so throughput mostly shows the base
 * chains' cost and the connection rate shows the per-connection lookups.
 *
 * Each visit of a level measures each path REPEATS times, the paths alternating, so that a level
 * has runs x REPEATS samples (a level change takes up to a minute at 1,000 policies; a
 * measurement, seconds). The agents' CPU time during the measurements is said per level: work
 * an agent does meanwhile (a periodic resync) takes the cores the traffic runs on, and shows
 * there, not as a slower data path.
 *
 * nftables by default; WEFT_BENCH_DATAPATH_BACKENDS=nftables,iptables (or iptables) measures
 * the iptables backend too, in a lab of its own (its figures are named "iptables, ...").
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../agent/objects';
import { createAgentClient } from '../agent/api/client';
import { execTool, systemBinary } from '../kernel/exec';
import { labDown } from '../lab/cluster/down';
import { labPaths } from '../lab/cluster/names';
import type { AgentBackend, LabState } from '../lab/cluster/state';
import { labUp } from '../lab/cluster/up';
import { IptablesNames } from '../agent/backend/iptables/names';
import { chainPrefix } from '../agent/backend/iptables/render';
import { makeBenchDir, removeBenchDir, trackLab } from './cleanup';
import { syntheticCluster } from './policy-cluster';
import { step } from './progress';
import { benchNote, record } from './results';
import { quantile } from './stats';
import { tcpConnectRate, tcpRoundTripUs, tcpThroughputGbps } from './traffic';

const LEVELS = [0, 100, 1000] as const;
/** Measurements of each path per visit of a level. */
const REPEATS = 2;
type Level = (typeof LEVELS)[number];

interface Endpoint {
  ns: string;
  ip: string;
}

interface Samples {
  gbps: number[];
  rttUs: number[];
  connPerS: number[];
}

const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

/** Isolates every pod of the lab's namespace both ways, allowing them all traffic among themselves. */
function labPodsPolicy(namespace: string): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'bench-lab-pods', namespace },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: {} }] }], egress: [{ to: [{ podSelector: {} }] }] },
  };
}

/**
 * The i-th policy selecting the lab's pods (by their common label), with peers drawn from the
 * synthetic cluster: a team's namespaces and a deployment, another namespace by name, an
 * address block with a hole; and a port of its own, in both directions.
 */
function peerPolicy(namespace: string, i: number): KubeObject {
  const team = { matchLabels: { team: `team-${i % 20}` } };
  const app = { matchLabels: { app: ['web', 'api', 'db', 'cache', 'worker'][i % 5] } };
  const byName = { matchLabels: { 'kubernetes.io/metadata.name': `ns-${String(2 + (i % 198)).padStart(3, '0')}` } };
  const block = { cidr: `10.200.${i % 50}.0/24`, except: [`10.200.${i % 50}.${(i * 8) % 256}/29`] };
  const ports = [{ protocol: i % 3 === 0 ? 'UDP' : 'TCP', port: 1000 + i }];
  const peers = [{ namespaceSelector: team, podSelector: app }, { namespaceSelector: byName }, { ipBlock: block }];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `bench-peers-${i}`, namespace },
    spec: { podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: peers, ports }], egress: [{ to: peers, ports }] },
  };
}

function list(items: KubeObject[]): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/** What one agent says of itself: its NetworkPolicy count, last sync, and rules plus elements in the kernel. */
interface AgentView {
  policies: number;
  rules: number;
  lastSyncUnixMs: number;
  lastError: string;
}

async function agentViews(state: LabState): Promise<AgentView[]> {
  return Promise.all(
    state.nodes.map(async (node) => {
      if (!node.agent) throw new Error(`lab node ${node.name} has no agent`);
      const client = createAgentClient(node.agent.socket, 30_000);
      try {
        const s = await client.status();
        return {
          policies: Number(s.objectCounts?.NetworkPolicy ?? 0),
          rules: Number(s.rules ?? 0),
          lastSyncUnixMs: Number(s.sync?.lastSyncUnixMs ?? 0),
          lastError: s.sync?.lastError ?? '',
        };
      } finally {
        client.close();
      }
    }),
  );
}

/**
 * Writes the policies of `level` and waits until every agent has them all in its cache (the
 * manifests source reads the file in one piece), a sync ended after that and succeeded, and no
 * sync followed for a second. Asked of the agents (their status), not of the kernel: listing a
 * table of hundreds of thousands of elements every 250 ms takes seconds of the CPU the agents
 * need to write it (the first sync at 1,000 policies took 80-106 s while the bench did that).
 */
async function applyLevel(state: LabState, manifests: string, namespace: string, level: Level, before: { level: Level; shape: string } | undefined): Promise<string> {
  const inForce = level === 0 ? [] : [labPodsPolicy(namespace), ...Array.from({ length: level - 1 }, (_, i) => peerPolicy(namespace, i))];
  const file = path.join(manifests, 'bench-policies.json');
  const writtenAt = Date.now();
  fs.writeFileSync(`${file}.tmp`, list(inForce));
  fs.renameSync(`${file}.tmp`, file);
  // Before the first level the lab has no policy: level 0 then changes nothing, and no sync
  // comes. Otherwise a sync must end after the write, and change the rules (a periodic resync
  // that began before the write does not).
  const mustSync = (before?.level ?? 0) !== level;
  const deadline = Date.now() + 600_000;
  let last: AgentView[] = [];
  let stableSince: number | undefined;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const views = await agentViews(state);
    const now = Date.now();
    const allThere = views.every((v) => v.policies === inForce.length);
    const same = views.length === last.length && views.every((v, i) => v.lastSyncUnixMs === last[i].lastSyncUnixMs);
    last = views;
    if (!same || !allThere) {
      stableSince = undefined;
      continue;
    }
    stableSince ??= now;
    const synced = views.every((v) => v.lastError === '' && (!mustSync || v.lastSyncUnixMs >= writtenAt));
    const shape = views.map((v) => String(v.rules)).join(' ');
    if (synced && (!mustSync || shape !== before?.shape) && now - stableSince >= 1000) return shape;
  }
  // Why not: the agents' last log lines say (a failing sync, a skipped policy).
  const tails = state.nodes.map((n) => `${n.name}: ${n.agent ? fs.readFileSync(n.agent.log, 'utf8').trim().split('\n').slice(-3).join('\n  ') : 'no agent'}`);
  throw new Error(`the agents did not settle with ${level} policies (${JSON.stringify(last)}); agent logs:\n${tails.join('\n')}`);
}

/**
 * The isolated set must hold the server at 100 and 1,000 policies, and not exist at 0. One
 * element is asked for (`nft get element`, `ipset test`): listing the table takes minutes at
 * 1,000 policies.
 */
async function checkEnforced(state: LabState, backend: AgentBackend, server: Endpoint, level: Level): Promise<void> {
  const node = state.nodes.find((n) => state.pods.some((p) => p.netns === server.ns && p.node === n.name))!;
  const isolatedSet = new IptablesNames(chainPrefix('weft')).fixedSet('i-iso', 4);
  const get = () =>
    backend === 'nftables'
      ? execTool(systemBinary('nft'), ['get', 'element', 'inet', 'weft', 'pol-in-isolated-v4', `{ ${server.ip} }`], { netns: node.netns, timeoutMs: 60_000 })
      : execTool(systemBinary('ipset'), ['test', isolatedSet, server.ip], { netns: node.netns, timeoutMs: 60_000 });
  let got = await get();
  // Not there: asked again a few times (a sync may still be writing), then the answer stands.
  for (let i = 0; i < 5 && (got.code === 0) !== level > 0; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    got = await get();
  }
  const isolated = got.code === 0;
  if (isolated !== level > 0) throw new Error(`with ${level} policies the server ${server.ip} is ${isolated ? '' : 'not '}isolated (${backend}: ${got.stderr.trim().split('\n')[0] || `exit ${got.code}`})`);
}

/**
 * The figures of one path at one level, each against no policy; the target (at least 0.95 of no
 * policy) holds at 1,000 policies.
 */
function recordLevel(pathName: string, level: Level, s: Samples, base: Samples, backend: AgentBackend): void {
  const metrics = [
    ['throughput', 'Gbit/s', s.gbps, base.gbps],
    ['RTT', 'µs', s.rttUs, base.rttUs],
    ['connections', 'conn/s', s.connPerS, base.connPerS],
  ] as const;
  // nftables' figures keep the names they always had; iptables' say so.
  const series = backend === 'nftables' ? pathName : `iptables, ${pathName}`;
  for (const [metric, unit, samples, baseSamples] of metrics) {
    // For a time, "0.95 of no policy" is at most 1/0.95 of it.
    const target = level === 1000 ? { of: 'ratio' as const, ...(metric === 'RTT' ? { op: '<=' as const, limit: 1 / 0.95, text: '<= 1/0.95x' } : { op: '>=' as const, limit: 0.95 }) } : undefined;
    record({
      name: `${series}, ${level} policies: ${metric}`,
      unit,
      samples,
      reference: level === 0 ? undefined : { name: `${series}, no policy`, samples: baseSamples },
      target,
      scale: { plot: metric, title: `NetworkPolicy on the data path: ${metric} vs policies in force`, x: level, xLabel: 'policies in force', series },
    });
  }
}

async function measure(client: Endpoint, server: Endpoint, seconds: number): Promise<{ gbps: number; rttUs: number; connPerS: number }> {
  let gbps: number;
  try {
    gbps = await tcpThroughputGbps(client.ns, server.ns, server.ip, seconds);
  } catch (err) {
    // Seen once in a full run, right after 750,000 elements were removed: iperf3 reported an
    // interrupted test. Said, and measured again once; a second failure ends the bench.
    benchNote(`iperf3 failed once and was run again: ${(err as Error).message.split('\n')[0]}`);
    gbps = await tcpThroughputGbps(client.ns, server.ns, server.ip, seconds);
  }
  const rttUs = await tcpRoundTripUs(client.ns, server.ns, server.ip);
  const connPerS = await tcpConnectRate(client.ns, server.ns, server.ip, 2);
  return { gbps, rttUs, connPerS };
}

/** CPU seconds (user + system) the processes and their finished children (nft, iptables-restore) have used so far, from /proc. */
function cpuSeconds(pids: readonly number[]): number {
  const ticks = 100; // USER_HZ, 100 on Linux
  let total = 0;
  for (const pid of pids) {
    try {
      // Fields after the command (which may hold spaces): state is the 3rd field; utime, stime,
      // cutime and cstime the 14th to 17th.
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
      total += fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / ticks;
    } catch {
      // A process gone: its time is not counted.
    }
  }
  return total;
}

/** The backends measured: WEFT_BENCH_DATAPATH_BACKENDS (comma-separated), nftables by default (each pass takes minutes). */
function datapathBackends(): AgentBackend[] {
  const words = (process.env.WEFT_BENCH_DATAPATH_BACKENDS ?? 'nftables').split(',').map((w) => w.trim()).filter((w) => w !== '');
  for (const w of words) if (w !== 'nftables' && w !== 'iptables') throw new Error(`WEFT_BENCH_DATAPATH_BACKENDS: ${w} is not nftables or iptables`);
  return words as AgentBackend[];
}

export async function benchPolicyDatapath(runs: number): Promise<void> {
  for (const backend of datapathBackends()) await datapathOf(backend, runs);
}

async function datapathOf(backend: AgentBackend, runs: number): Promise<void> {
  const root = makeBenchDir('weft-bench-pdp-');
  const name = `bench-pd-${crypto.randomBytes(2).toString('hex')}`;
  const untrack = trackLab(name, root);
  const seconds = 3;
  console.log(`\nNetworkPolicy on the data path: lab, 2 nodes (vxlan), ${backend}; 0 / 100 / 1,000 policies in force, ${runs} runs interleaved, ${REPEATS} measurements per path and run; iperf3 ${seconds} s pinned, 1-byte TCP RR, sequential TCP connects for 2 s`);
  console.log('target: at 1,000 policies at least 0.95 of no policy');
  try {
    step('lab up');
    const { state } = await labUp({ name, root, nodes: 2, podsPerNode: 2, ports: [80], overlay: 'vxlan', backend });
    const manifests = labPaths(root, name).manifests;
    const synthetic = syntheticCluster({ nodePrefix: 'sim-node-', v4Prefix: '10.200', v6Prefix: 'fd00:10:200' });
    fs.writeFileSync(path.join(manifests, 'bench-cluster.json'), list([...synthetic.namespaces, ...synthetic.pods]));
    const pod = (podName: string): Endpoint => {
      const p = state.pods.find((x) => x.name === podName);
      if (!p) throw new Error(`lab has no pod ${podName}`);
      return { ns: p.netns, ip: p.ips[0] };
    };
    const namespace = state.pods[0].namespace;
    const pairs = { 'same node': { client: pod('pod-0-0'), server: pod('pod-0-1') }, 'across nodes': { client: pod('pod-0-0'), server: pod('pod-1-0') } };
    const samples = Object.fromEntries(
      Object.keys(pairs).map((k) => [k, Object.fromEntries(LEVELS.map((l) => [l, { gbps: [], rttUs: [], connPerS: [] } as Samples]))]),
    ) as Record<keyof typeof pairs, Record<Level, Samples>>;
    const shapes = new Map<Level, string>();
    const agentPids = state.nodes.flatMap((n) => (n.agent ? [n.agent.pid] : []));
    const agentCpu = new Map<Level, { cpuS: number; wallS: number }>(LEVELS.map((l) => [l, { cpuS: 0, wallS: 0 }]));
    let applied: { level: Level; shape: string } | undefined;
    for (let r = 0; r < runs; r++) {
      // Rotated each run, so that no level always goes first.
      for (const level of [...LEVELS.slice(r % 3), ...LEVELS.slice(0, r % 3)]) {
        step(`${level} policies: apply, then traffic`, { i: r + 1, n: runs });
        applied = { level, shape: await applyLevel(state, manifests, namespace, level, applied) };
        shapes.set(level, applied.shape);
        const entries = Object.entries(pairs) as [keyof typeof pairs, (typeof pairs)[keyof typeof pairs]][];
        for (const [, pair] of entries) await checkEnforced(state, backend, pair.server, level);
        const cpuBefore = cpuSeconds(agentPids);
        const started = performance.now();
        for (let k = 0; k < REPEATS; k++) {
          for (const [which, pair] of entries) {
            const m = await measure(pair.client, pair.server, seconds);
            const s = samples[which][level];
            s.gbps.push(m.gbps);
            s.rttUs.push(m.rttUs);
            s.connPerS.push(m.connPerS);
          }
        }
        const spent = agentCpu.get(level)!;
        spent.cpuS += cpuSeconds(agentPids) - cpuBefore;
        spent.wallS += (performance.now() - started) / 1000;
      }
    }
    console.log(['path'.padEnd(14), 'policies'.padStart(8), 'Gbit/s'.padStart(8), 'ratio'.padStart(6), 'RTT us'.padStart(8), 'ratio'.padStart(6), 'conn/s'.padStart(8), 'ratio'.padStart(6), '  rules+elements per node'].join(' '));
    for (const which of Object.keys(pairs) as (keyof typeof pairs)[]) {
      const base = samples[which][0];
      for (const level of LEVELS) {
        const s = samples[which][level];
        console.log(
          [
            which.padEnd(14),
            String(level).padStart(8),
            median(s.gbps).toFixed(2).padStart(8),
            (median(s.gbps) / median(base.gbps)).toFixed(2).padStart(6),
            median(s.rttUs).toFixed(0).padStart(8),
            (median(s.rttUs) / median(base.rttUs)).toFixed(2).padStart(6),
            median(s.connPerS).toFixed(0).padStart(8),
            (median(s.connPerS) / median(base.connPerS)).toFixed(2).padStart(6),
            `  ${shapes.get(level)}`,
          ].join(' '),
        );
        recordLevel(which, level, s, base, backend);
      }
    }
    const cpuLine = LEVELS.map((l) => `${l} policies ${((100 * agentCpu.get(l)!.cpuS) / agentCpu.get(l)!.wallS).toFixed(1)}%`).join(', ');
    console.log(`the agents' CPU time while traffic was measured, as a share of one core: ${cpuLine}`);
    benchNote(`${backend} data path: the agents used ${cpuLine} of one core while traffic was measured`);
  } finally {
    await labDown(name, root).catch(() => undefined);
    untrack();
    removeBenchDir(root);
  }
}
