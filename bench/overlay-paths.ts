/**
 * Pod-to-pod data paths in the lab against the same paths built by hand (handmade-paths.ts),
 * measured in the same run, interleaved: iperf3 TCP throughput and TCP request/response latency
 * for two pods on one node, and for pods on two nodes over VXLAN and over host-gw. The ratio
 * (weft / hand-made) is what weft's devices and rules cost; the target is at least 0.95 for
 * throughput against the hand-made path with the same kernel features (connection tracking
 * included, which the masquerade rule of every node turns on). Also: from a Node object
 * appearing to its pods being reachable from another node (median of 10), which is the agents'
 * reaction time (manifests watch, sync, netlink).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import crypto from 'node:crypto';
import { withNetlink } from '../kernel/netlink';
import { inNetns } from '../kernel/netns';
import { nodeObject } from '../lab/cluster/kube';
import { deleteObject, writeObject } from '../lab/cluster/manifests';
import { labPaths } from '../lab/cluster/names';
import { labDown } from '../lab/cluster/down';
import { labUp } from '../lab/cluster/up';
import type { LabState } from '../lab/cluster/state';
import { WEFT_ROUTE_PROTOCOL } from '../overlay/apply';
import { makeBenchDir, removeBenchDir, trackLab } from './cleanup';
import { buildHandmade, type PathMode } from './handmade-paths';
import { step } from './progress';
import { record } from './results';
import { fmt, quantile } from './stats';
import { tcpRoundTripUs, tcpThroughputGbps } from './traffic';
import { childEnv } from '../lab/child-env';

interface Endpoint {
  ns: string;
  ip: string;
}

interface PathPair {
  client: Endpoint;
  server: Endpoint;
}

function handPairsOf([same0, same1, other]: { ns: string; ip: string }[]): { same: PathPair; cross: PathPair } {
  return { same: { client: same0, server: same1 }, cross: { client: same0, server: other } };
}

const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

function labPods(state: LabState): { same: PathPair; cross: PathPair } {
  const pod = (name: string) => {
    const p = state.pods.find((x) => x.object.metadata.name === name);
    if (!p) throw new Error(`lab has no pod ${name}`);
    return { ns: p.netns, ip: p.ips[0] };
  };
  return { same: { client: pod('pod-0-0'), server: pod('pod-0-1') }, cross: { client: pod('pod-0-0'), server: pod('pod-1-0') } };
}

async function measurePair(pair: PathPair, seconds: number): Promise<{ gbps: number; rttUs: number }> {
  const gbps = await tcpThroughputGbps(pair.client.ns, pair.server.ns, pair.server.ip, seconds);
  const rttUs = await tcpRoundTripUs(pair.client.ns, pair.server.ns, pair.server.ip);
  return { gbps, rttUs };
}

interface Samples {
  gbps: number[];
  rttUs: number[];
}

function row(name: string, weft: Samples, hand: Samples): string {
  const [wg, hg, wr, hr] = [median(weft.gbps), median(hand.gbps), median(weft.rttUs), median(hand.rttUs)];
  return [
    name.padEnd(34),
    `${wg.toFixed(2)}`.padStart(8),
    `${hg.toFixed(2)}`.padStart(8),
    `${(wg / hg).toFixed(2)}x`.padStart(7),
    `${wr.toFixed(0)}`.padStart(8),
    `${hr.toFixed(0)}`.padStart(8),
    `${(wr / hr).toFixed(2)}x`.padStart(7),
  ].join(' ');
}

/** The figures of one path, weft against each hand-made variant (the ratio target: against hand+ct). */
function recordPath(name: string, s: Record<'weft' | 'hand' | 'hand+ct', Samples>): void {
  for (const ref of ['hand+ct', 'hand'] as const) {
    const target = ref === 'hand+ct' ? { of: 'ratio' as const, op: '>=' as const, limit: 0.95 } : undefined;
    record({ name: `${name}: throughput vs ${ref}`, unit: 'Gbit/s', samples: s.weft.gbps, reference: { name: `${ref} throughput`, samples: s[ref].gbps }, target });
    record({ name: `${name}: RTT vs ${ref}`, unit: 'µs', samples: s.weft.rttUs, reference: { name: `${ref} RTT`, samples: s[ref].rttUs } });
  }
}

/** Time from writing a Node object back to a TCP connection from `client` to `target` succeeding. */
async function nodeToReachableMs(state: LabState, root: string, client: Endpoint, target: Endpoint, port: number): Promise<number> {
  const paths = labPaths(root, state.name);
  const node = state.nodes[1];
  const node0 = state.nodes[0].netns;
  const routed = async () => (await withNetlink(node0, (nl) => nl.routes.list())).some((r) => r.protocol === WEFT_ROUTE_PROTOCOL && r.dst === node.podCIDRs.v4);
  deleteObject(paths.manifests, nodeObject(node));
  for (let i = 0; i < 400 && (await routed()); i++) await new Promise((r) => setTimeout(r, 10));
  // A prober inside the client pod: connects every 5 ms until one succeeds.
  const src = `const net=require('net');process.stdout.write('ready\\n');const t=()=>{const s=net.connect({host:process.argv[1],port:Number(process.argv[2]),timeout:50});s.on('connect',()=>{process.stdout.write('ok\\n');process.exit(0)});const again=()=>{s.destroy();setTimeout(t,5)};s.on('error',again);s.on('timeout',again)};t();setTimeout(()=>process.exit(1),20000);`;
  const child = inNetns(client.ns, () => spawn(process.execPath, ['-e', src, target.ip, String(port)], { stdio: ['ignore', 'pipe', 'ignore'], env: childEnv() }));
  const lines = child.stdout!;
  await once(lines, 'data');
  const t0 = performance.now();
  writeObject(paths.manifests, nodeObject(node));
  await new Promise<void>((resolve, reject) => {
    lines.on('data', (d: Buffer) => d.toString().includes('ok') && resolve());
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error('node never became reachable'))));
  });
  return performance.now() - t0;
}

export async function benchOverlayPaths(runs: number): Promise<void> {
  const root = makeBenchDir('weft-bench-lab-');
  const seconds = 3;
  console.log(`\npod-to-pod paths: lab (weft-agent, weft-overlay) vs the same path by hand; ${runs} run(s) each, interleaved; iperf3 ${seconds} s pinned to cores 0/1, 1-byte TCP request/response`);
  console.log('hand+ct: veth, bridge, VXLAN or routes and one masquerade rule, the kernel features a weft node uses (the target: >= 0.95);');
  console.log('hand: the same without the masquerade rule, so without connection tracking: what conntrack itself costs, for information');
  console.log(['path'.padEnd(34), 'weft'.padStart(8), 'hand'.padStart(8), 'ratio'.padStart(7), 'weft'.padStart(8), 'hand'.padStart(8), 'ratio'.padStart(7)].join(' '));
  console.log([''.padEnd(34), 'Gbit/s'.padStart(8), 'Gbit/s'.padStart(8), ''.padStart(7), 'RTT us'.padStart(8), 'RTT us'.padStart(8), ''.padStart(7)].join(' '));
  try {
    for (const mode of ['vxlan', 'host-gw'] as PathMode[]) {
      const name = `bench-${mode === 'vxlan' ? 'vx' : 'hg'}-${crypto.randomBytes(2).toString('hex')}`;
      step(`${mode}: lab up and the same paths by hand`);
      const untrack = trackLab(name, root);
      const { state } = await labUp({ name, root, nodes: 2, podsPerNode: 2, ports: [80], overlay: mode });
      const mtu = await withNetlink(state.pods[0].netns, async (nl) => (await nl.links.get('eth0')).mtu);
      const hands = { hand: await buildHandmade(mode, mtu), 'hand+ct': await buildHandmade(mode, mtu, { masquerade: true }) };
      try {
        const pairs = { weft: labPods(state), hand: handPairsOf(hands.hand.pods), 'hand+ct': handPairsOf(hands['hand+ct'].pods) };
        const sides = ['weft', 'hand', 'hand+ct'] as const;
        const empty = () => Object.fromEntries(sides.map((s) => [s, { gbps: [], rttUs: [] }])) as unknown as Record<(typeof sides)[number], Samples>;
        const samples = { same: empty(), cross: empty() };
        for (let r = 0; r < runs; r++) {
          step(`${mode}: iperf3 and request/response, weft and by hand in turn`, { i: r + 1, n: runs });
          for (const which of ['same', 'cross'] as const) {
            // Only the vxlan lab's same-node pair is measured: it does not depend on the mode.
            if (which === 'same' && mode !== 'vxlan') continue;
            // Rotated each run, so no side always goes first.
            for (const side of [...sides.slice(r % 3), ...sides.slice(0, r % 3)]) {
              const m = await measurePair(pairs[side][which], seconds);
              samples[which][side].gbps.push(m.gbps);
              samples[which][side].rttUs.push(m.rttUs);
            }
          }
        }
        for (const which of mode === 'vxlan' ? (['same', 'cross'] as const) : (['cross'] as const)) {
          const name = which === 'same' ? 'same node (bridge)' : `across nodes, ${mode}`;
          console.log(row(`${name} vs hand+ct`, samples[which].weft, samples[which]['hand+ct']));
          console.log(row(`${name} vs hand`, samples[which].weft, samples[which].hand));
          recordPath(name, samples[which]);
        }
        if (mode === 'vxlan') {
          step('Node object written -> its pods reachable');
          const times: number[] = [];
          for (let i = 0; i < 10; i++) times.push(await nodeToReachableMs(state, root, pairs.weft.cross.client, pairs.weft.cross.server, 80));
          const sorted = [...times].sort((a, b) => a - b);
          console.log(`Node object written -> its pods reachable (vxlan, 10 times): median ${fmt(median(times))} ms, min ${fmt(sorted[0])}, max ${fmt(sorted[sorted.length - 1])}`);
          record({ name: 'Node object written -> its pods reachable (vxlan)', unit: 'ms', samples: times });
        }
      } finally {
        hands.hand.cleanup();
        hands['hand+ct'].cleanup();
        await labDown(name, root);
        untrack();
      }
    }
  } finally {
    removeBenchDir(root);
  }
}
