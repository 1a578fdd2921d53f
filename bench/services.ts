/**
 * Service proxying from objects to the kernel and on the packet path, with the real agent
 * (manifests source, --proxy) in namespaces of the bench's own, nftables against iptables in the
 * same run:
 *
 * - Full sync: the agent's first sync into an empty namespace at 100, 1,000 and 10,000 services
 *   of 10 endpoints each (service-cluster.ts; fresh namespace each run), and the agent's RSS
 *   after it.
 * - One endpoint change (an endpoint leaving a service, then coming back, alternately): time
 *   from the change of the EndpointSlice to the end of the sync that put it in the kernel,
 *   median of 20, at 1,000 and 10,000 services. Measured as a cluster delivers it, the agent
 *   watching a Kubernetes API (test/helpers/fake-kube-api.ts, the real client library on the
 *   real wire protocol); and from a manifests directory, whose watch waits 50 ms for a burst
 *   of writes to settle.
 * - Connections: new TCP connections one after the other, from a client namespace through the
 *   node to a service whose 10 endpoints are real (one server namespace), with 10 and with
 *   10,000 other services present: the time of each connect, and the rate.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../agent/objects';
import { withNetlink } from '../kernel/netlink';
import { writeSysctl } from '../kernel/sysctl';
import { eventually, spawnAgent, waitReady, type AgentProcess } from '../lab/agent-process';
import { createBenchNetns, deleteBenchNetns, makeBenchDir, removeBenchDir } from './cleanup';
import { startBenchApi } from './fake-api';
import { step } from './progress';
import { benchNote, record, type Scale } from './results';
import { BENCH_NODE, serviceCluster, sliceObject } from './service-cluster';
import { fmt, quantile } from './stats';
import { changeToKernel, median, syncLogs, type SyncLog } from './sync-log';
import { tcpConnectTimes, type ConnectTimes } from './traffic';

/**
 * iptables comes in two builds: Debian's default `iptables` is iptables-nft (the iptables API
 * over nf_tables), kube-proxy images pick whichever the node uses; both are measured.
 */
type Backend = 'nftables' | 'iptables' | 'iptables-legacy';
const BACKENDS: Backend[] = ['nftables', 'iptables', 'iptables-legacy'];
const backendArgs = (b: Backend): string[] => (b === 'iptables-legacy' ? ['--backend', 'iptables', '--iptables-binary', 'iptables-legacy'] : ['--backend', b]);
const CHANGES = 20;
/**
 * iptables-nft beyond this is not measured: at 10,000 services (330,000 rules) the agent's first
 * iptables-restore ran for over 10 minutes on this machine (1,000: 6-8 s; iptables-legacy: 0.8
 * s at 1,000, 13.5 s at 10,000).
 */
const IPTABLES_NFT_MAX = 1000;
const ENDPOINTS = 10;


function list(items: KubeObject[]): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/** Writes `services` synthetic services (and the Nodes) into `manifests`; returns them all, and their slices. */
function writeServices(manifests: string, services: number, extra: KubeObject[] = []): { objects: KubeObject[]; slices: KubeObject[] } {
  const c = serviceCluster({ services, endpoints: ENDPOINTS });
  const all = { services: [...c.services, ...extra.filter((o) => o.kind === 'Service')], slices: [...c.slices, ...extra.filter((o) => o.kind === 'EndpointSlice')] };
  fs.writeFileSync(path.join(manifests, 'nodes.json'), list(c.nodes));
  fs.writeFileSync(path.join(manifests, 'services.json'), list(all.services));
  fs.writeFileSync(path.join(manifests, 'slices.json'), list(all.slices));
  return { objects: [...c.nodes, ...all.services, ...all.slices], slices: c.slices };
}

/** Where the agent reads objects from: the manifests directory, or a Kubernetes API's kubeconfig. */
type Source = { manifests: string } | { kubeconfig: string };

function startAgent(ns: string, dir: string, backend: Backend, source: Source = { manifests: path.join(dir, 'manifests') }): AgentProcess {
  return spawnAgent(
    ns,
    [
      '--node-name', BENCH_NODE,
      ...('kubeconfig' in source ? ['--kubeconfig', source.kubeconfig] : ['--manifests', source.manifests]),
      ...backendArgs(backend),
      '--proxy',
      '--network-policy=false',
      '--pod-bridge', '',
      '--overlay', 'none',
      '--masquerade=false',
      '--cni-socket', '',
      '--health-listen', '',
      '--resync-interval', '0',
    ],
    path.join(dir, `agent-${crypto.randomBytes(3).toString('hex')}.sock`),
  );
}

function rssMiB(agent: AgentProcess): number {
  const status = fs.readFileSync(`/proc/${agent.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

function tempDir(): { dir: string; manifests: string } {
  const dir = makeBenchDir('weft-bench-svc-');
  const manifests = path.join(dir, 'manifests');
  fs.mkdirSync(manifests);
  return { dir, manifests };
}

/** The first sync of an agent started in a fresh namespace, and its RSS then. */
async function fullSync(dir: string, backend: Backend): Promise<SyncLog & { rssMiB: number }> {
  const ns = createBenchNetns(`weft-bench-sv-${crypto.randomBytes(2).toString('hex')}`);
  const agent = startAgent(ns, dir, backend);
  try {
    await waitReady(agent, 300_000);
    // Ready can be reported before the log line of that sync has been read from its stdout.
    const first = await eventually('the first sync logged', () => syncLogs(agent)[0], 10_000);
    return { ...first, rssMiB: rssMiB(agent) };
  } finally {
    await agent.stop();
    deleteBenchNetns(ns);
  }
}

/**
 * Endpoint changes at one scale: an endpoint of one service leaves, then comes back. `change`
 * hands the slice to the agent's source; the time runs from that call to the log line of the
 * sync that put the change in the kernel.
 */
async function endpointChanges(slices: KubeObject[], start: (ns: string) => Promise<{ agent: AgentProcess; change(slice: KubeObject): void; stop(): Promise<void> }>): Promise<SyncLog[]> {
  const ns = createBenchNetns(`weft-bench-sv-${crypto.randomBytes(2).toString('hex')}`);
  try {
    const { agent, change, stop } = await start(ns);
    try {
      await waitReady(agent, 300_000);
      const out: SyncLog[] = [];
      for (let i = 0; i < CHANGES; i++) {
        step('one endpoint change at a time, to the kernel', { i: i + 1, n: CHANGES });
        // Pairs of changes: one service's endpoint leaves, then comes back.
        const slice = slices[(Math.floor(i / 2) * 7919) % slices.length];
        const endpoints = slice.endpoints as unknown[];
        const changed = i % 2 === 0 ? { ...slice, endpoints: endpoints.slice(1) } : slice;
        out.push(await changeToKernel(agent, () => change(changed)));
        await new Promise((r) => setTimeout(r, 200)); // no coalescing with the next change
      }
      return out;
    } finally {
      await agent.stop();
      await stop();
    }
  } finally {
    deleteBenchNetns(ns);
  }
}

/** The changes written to the manifests directory the agent watches. */
function changesThroughManifests(dir: string, manifests: string, slices: KubeObject[], backend: Backend): Promise<SyncLog[]> {
  return endpointChanges(slices, async (ns) => ({
    agent: startAgent(ns, dir, backend),
    change: (slice) => fs.writeFileSync(path.join(manifests, 'zz-change.json'), JSON.stringify(slice)),
    stop: async () => undefined,
  }));
}

/** The changes made in a Kubernetes API the agent watches (serving `objects`). */
function changesThroughApi(dir: string, objects: KubeObject[], slices: KubeObject[], backend: Backend): Promise<SyncLog[]> {
  return endpointChanges(slices, async (ns) => {
    const api = await startBenchApi(ns, dir, objects);
    return { agent: startAgent(ns, dir, backend, { kubeconfig: api.kubeconfig }), change: (slice) => api.put(slice), stop: () => api.close() };
  });
}

/** Client -> node (the agent) -> server with the measured service's 10 endpoint addresses. */
async function connectTopology(): Promise<{ node: string; client: string; server: string; endpoints: string[]; cleanup(): void }> {
  const tag = crypto.randomBytes(2).toString('hex');
  const [node, client, server] = ['n', 'c', 's'].map((r) => createBenchNetns(`weft-bench-sc${r}-${tag}`));
  const endpoints = Array.from({ length: ENDPOINTS }, (_, i) => `10.250.2.${11 + i}`);
  try {
    writeSysctl(node, 'net.ipv4.ip_forward', 1);
    await withNetlink(node, async (nl) => {
      await nl.links.setUp('lo');
      await nl.links.createVeth({ name: 'to-client', peer: { name: 'eth0', netns: client } });
      await nl.links.createVeth({ name: 'to-server', peer: { name: 'eth0', netns: server } });
      await nl.addresses.add('to-client', '10.250.1.1/24');
      await nl.addresses.add('to-server', '10.250.2.1/24');
      await nl.links.setUp('to-client');
      await nl.links.setUp('to-server');
    });
    for (const [ns, addresses, gateway] of [
      [client, ['10.250.1.2/24'], '10.250.1.1'],
      [server, endpoints.map((a) => `${a}/24`), '10.250.2.1'],
    ] as const) {
      await withNetlink(ns, async (nl) => {
        await nl.links.setUp('lo');
        for (const a of addresses) await nl.addresses.add('eth0', a);
        await nl.links.setUp('eth0');
        await nl.routes.add({ dst: 'default', gateway });
      });
    }
  } catch (err) {
    for (const ns of [node, client, server]) deleteBenchNetns(ns);
    throw err;
  }
  return { node, client, server, endpoints, cleanup: () => [node, client, server].forEach((ns) => deleteBenchNetns(ns)) };
}

/** tcpConnectRate's server listens on 5203: the service port and its endpoints' port. */
const MEASURED_IP = '10.96.255.250';
/**
 * The measured service's namespace sorts after every other: iptables matches services one rule
 * after the other in that order, so its connections pay for all the others (the worst case;
 * nftables' verdict map does not care).
 */
const MEASURED_NAMESPACE = 'zz-bench';

function measuredService(endpoints: string[]): KubeObject[] {
  const service: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'measured', namespace: MEASURED_NAMESPACE },
    spec: { clusterIP: MEASURED_IP, clusterIPs: [MEASURED_IP], ipFamilies: ['IPv4'], ports: [{ name: 'c', port: 5203, targetPort: 5203, protocol: 'TCP' }] },
  };
  const slice = sliceObject(0, endpoints.map((ip) => ({ ip, node: BENCH_NODE })));
  return [service, { ...slice, metadata: { ...slice.metadata, name: 'measured-x', namespace: MEASURED_NAMESPACE, labels: { ...slice.metadata.labels, 'kubernetes.io/service-name': 'measured' } }, ports: [{ name: 'c', port: 5203, protocol: 'TCP' }] }];
}

/** A node with the measured service and `others` besides, its agent synced: where connections are measured. */
async function connectSetup(backend: Backend, others: number): Promise<{ topo: Awaited<ReturnType<typeof connectTopology>>; stop(): Promise<void> }> {
  const { dir, manifests } = tempDir();
  const topo = await connectTopology();
  let agent: AgentProcess | undefined;
  const stop = async () => {
    await agent?.stop();
    topo.cleanup();
    removeBenchDir(dir);
  };
  try {
    writeServices(manifests, others, measuredService(topo.endpoints));
    agent = startAgent(topo.node, dir, backend);
    await waitReady(agent, 300_000);
    return { topo, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const CONNECT_ROUNDS = 7;
/** Connections at a time in the second measurement: enough to keep the CPU busy. */
const PARALLEL = 16;

interface ConnectSide {
  /** One connection at a time: connect time as a client sees it (mostly waking processes up, here). */
  sequential: ConnectTimes;
  /** PARALLEL at a time: the rate the CPU allows, where per-packet rule costs show. */
  parallel: ConnectTimes;
}

/**
 * Connections to the measured service with 10 and with `many` other services, on two nodes set
 * up side by side and measured in alternation, CONNECT_ROUNDS runs of 1 s each way: one
 * connection takes milliseconds here, mostly waking processes up, and that drifts over a run
 * (one after the other, the same code measured +26% once and -28% another time); alternating
 * spreads the drift over both. Per side: the median over runs of each run's figures.
 */
async function connectTimes(backend: Backend, many: number): Promise<{ few: ConnectSide; many: ConnectSide; runs: { sequential: ConnectTimes[]; parallel: ConnectTimes[] }[] }> {
  const sides = [await connectSetup(backend, 10)];
  try {
    sides.push(await connectSetup(backend, many));
    const runs: { sequential: ConnectTimes[]; parallel: ConnectTimes[] }[] = [
      { sequential: [], parallel: [] },
      { sequential: [], parallel: [] },
    ];
    for (let r = 0; r < CONNECT_ROUNDS; r++) {
      step(`${backend}: connections with 10 and with ${many} other services in turn`, { i: r + 1, n: CONNECT_ROUNDS });
      for (const [i, { topo }] of sides.entries()) {
        runs[i].sequential.push(await tcpConnectTimes(topo.client, topo.server, MEASURED_IP, 1));
        runs[i].parallel.push(await tcpConnectTimes(topo.client, topo.server, MEASURED_IP, 1, PARALLEL));
      }
    }
    const summary = (xs: ConnectTimes[]): ConnectTimes => ({ perSecond: median(xs.map((x) => x.perSecond)), medianUs: median(xs.map((x) => x.medianUs)), p90Us: median(xs.map((x) => x.p90Us)) });
    const side = (i: number): ConnectSide => ({ sequential: summary(runs[i].sequential), parallel: summary(runs[i].parallel) });
    return { few: side(0), many: side(1), runs };
  } finally {
    for (const s of sides) await s.stop();
  }
}

/** The figures of one backend at one scale; targets as the table's title says. */
function recordScale(backend: Backend, n: number, full: (SyncLog & { rssMiB: number })[], changes: SyncLog[], fromManifests: SyncLog[]): void {
  const at = `${backend}, ${n} services`;
  const scale = (plot: string, title: string): Scale => ({ plot, title, x: n, xLabel: 'services', series: backend });
  const changeLimit = n >= 10_000 ? 100 : n >= 1000 ? 50 : undefined;
  record({ name: `${at}: full sync`, unit: 'ms', samples: full.map((f) => f.durationMs), target: n >= 10_000 ? { op: '<', limit: 2000 } : undefined, notes: `${full[0].rules} kernel objects`, scale: scale('full-sync', 'Service full sync vs services') });
  record({ name: `${at}: full sync, compile`, unit: 'ms', samples: full.map((f) => f.compileMs) });
  record({ name: `${at}: agent RSS`, unit: 'MiB', samples: full.map((f) => f.rssMiB), scale: scale('rss', 'weft-agent --proxy: resident memory after the full sync vs services') });
  if (changes.length === 0) return;
  record({ name: `${at}: endpoint change to kernel`, unit: 'ms', samples: changes.map((c) => c.time), target: changeLimit ? { op: '<', limit: changeLimit } : undefined, notes: `through the Kubernetes API; ${fmt(median(changes.map((c) => c.changes)))} kernel changes`, scale: scale('change', 'One endpoint change to the kernel vs services') });
  record({ name: `${at}: endpoint change, sync alone`, unit: 'ms', samples: changes.map((c) => c.durationMs) });
  record({ name: `${at}: endpoint change to kernel through manifests`, unit: 'ms', samples: fromManifests.map((c) => c.time), scale: scale('change-manifests', 'One endpoint change to the kernel through the manifests directory vs services') });
}

/** The connection figures with 10 and with `many` other services; the target: nftables connect time at 10,000 within 10% of 10. */
function recordConnects(backend: Backend, many: number, runs: { sequential: ConnectTimes[]; parallel: ConnectTimes[] }[]): void {
  const sides = [10, many].map((others, i) => ({
    others,
    connect: runs[i].sequential.map((t) => t.medianUs),
    p90: runs[i].sequential.map((t) => t.p90Us),
    sequential: runs[i].sequential.map((t) => t.perSecond),
    rate: runs[i].parallel.map((t) => t.perSecond),
  }));
  for (const [i, side] of sides.entries()) {
    const at = `${backend}, ${side.others} other services`;
    const base = i === 0 ? undefined : sides[0];
    const target = backend === 'nftables' && side.others >= 10_000 ? { of: 'ratio' as const, op: '<=' as const, limit: 1.1 } : undefined;
    const scale = (plot: string, title: string): Scale => ({ plot, title, x: side.others, xLabel: 'other services', series: backend });
    record({ name: `${at}: connect time`, unit: 'µs', samples: side.connect, reference: base && { name: `${backend}, 10 other services`, samples: base.connect }, target, scale: scale('connect', 'Connect time to a service vs other services') });
    record({ name: `${at}: connect time, p90`, unit: 'µs', samples: side.p90 });
    record({ name: `${at}: connections one at a time`, unit: 'conn/s', samples: side.sequential });
    record({ name: `${at}: connections x${PARALLEL}`, unit: 'conn/s', samples: side.rate, reference: base && { name: `${backend}, 10 other services`, samples: base.rate }, scale: scale('connect-rate', `New connections per second, ${PARALLEL} at a time, vs other services`) });
  }
}

export async function benchServices(scales: number[] = [100, 1000, 10_000]): Promise<void> {
  console.log(`\nService proxying: real agent (--proxy), services of ${ENDPOINTS} endpoints each (50 nodes); full sync median of 3, one endpoint change median of ${CHANGES}`);
  console.log('targets: full sync of 10,000 < 2 s; one endpoint change < 50 ms at 1,000, < 100 ms at 10,000; nftables connect time at 10,000 within 10% of 10');
  console.log(['backend'.padEnd(16), 'services'.padStart(8), 'full sync'.padStart(10), 'range ms'.padStart(13), 'compile'.padStart(9), 'objects'.padStart(8), 'RSS MiB'.padStart(8), 'chg->krnl'.padStart(10), 'p90'.padStart(9), 'sync'.padStart(9), 'kchanges'.padStart(8), 'manifests'.padStart(10)].join(' '));
  console.log('(chg->krnl: an EndpointSlice change in the Kubernetes API to the end of its sync, median; p90; the sync alone; kernel changes; manifests: the same change written to the manifests directory)');
  for (const backend of BACKENDS) {
    for (const n of scales) {
      if (backend === 'iptables' && n > IPTABLES_NFT_MAX) {
        console.log(`${backend.padEnd(16)} ${String(n).padStart(8)}   not measured: the first iptables-restore of this many services took over 10 minutes here`);
        benchNote(`${backend} at ${n} services not measured: the first iptables-restore of this many services took over 10 minutes here`);
        continue;
      }
      const { dir, manifests } = tempDir();
      try {
        const { objects, slices } = writeServices(manifests, n);
        const full: (SyncLog & { rssMiB: number })[] = [];
        step(`${backend}, ${n} services: full sync, 3 times`);
        for (let r = 0; r < 3; r++) full.push(await fullSync(dir, backend));
        const changes = n >= 1000 ? await changesThroughApi(dir, objects, slices, backend) : [];
        const fromManifests = n >= 1000 ? await changesThroughManifests(dir, manifests, slices, backend) : [];
        const durations = full.map((f) => f.durationMs);
        const toKernel = changes.map((c) => c.time).sort((a, b) => a - b);
        const changeCols =
          changes.length > 0
            ? [`${fmt(median(toKernel))} ms`, `${fmt(quantile(toKernel, 0.9))} ms`, `${fmt(median(changes.map((c) => c.durationMs)))} ms`, fmt(median(changes.map((c) => c.changes))), `${fmt(median(fromManifests.map((c) => c.time)))} ms`]
            : ['-', '-', '-', '-', '-'];
        console.log(
          [
            backend.padEnd(16),
            String(n).padStart(8),
            `${fmt(median(durations))} ms`.padStart(10),
            `${fmt(Math.min(...durations))}-${fmt(Math.max(...durations))}`.padStart(13),
            `${fmt(median(full.map((f) => f.compileMs)))} ms`.padStart(9),
            String(full[0].rules).padStart(8),
            fmt(median(full.map((f) => f.rssMiB))).padStart(8),
            ...changeCols.map((c, i) => c.padStart([10, 9, 9, 8, 10][i])),
          ].join(' '),
        );
        recordScale(backend, n, full, changes, fromManifests);
      } finally {
        removeBenchDir(dir);
      }
    }
  }
  console.log(`\nNew connections to a service (10 real endpoints): two nodes side by side, measured in alternation, ${CONNECT_ROUNDS} runs of 1 s each way, medians over runs`);
  console.log(`(one at a time: connect time and rate; ${PARALLEL} at a time: the rate when the CPU is the limit)`);
  console.log(['backend'.padEnd(16), 'others'.padStart(7), 'connect µs'.padStart(11), 'p90 µs'.padStart(9), 'vs 10'.padStart(7), 'conn/s'.padStart(8), `conn/s x${PARALLEL}`.padStart(11), 'vs 10'.padStart(7)].join(' '));
  const relative = (x: number, base: number) => `${x >= base ? '+' : ''}${(((x - base) / base) * 100).toFixed(1)}%`;
  for (const backend of BACKENDS) {
    const manyServices = backend === 'iptables' ? IPTABLES_NFT_MAX : 10_000;
    const { few, many, runs } = await connectTimes(backend, manyServices);
    recordConnects(backend, manyServices, runs);
    for (const [others, t] of [[10, few], [manyServices, many]] as const) {
      console.log(
        [
          backend.padEnd(16),
          String(others).padStart(7),
          fmt(t.sequential.medianUs).padStart(11),
          fmt(t.sequential.p90Us).padStart(9),
          relative(t.sequential.medianUs, few.sequential.medianUs).padStart(7),
          fmt(t.sequential.perSecond).padStart(8),
          fmt(t.parallel.perSecond).padStart(11),
          relative(t.parallel.perSecond, few.parallel.perSecond).padStart(7),
        ].join(' '),
      );
    }
  }
}
