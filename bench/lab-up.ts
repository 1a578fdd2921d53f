/**
 * The lab's wall-clock figures: `lab up` (nodes, agents until their first sync, pods attached
 * and serving), the full probe matrix (TCP, every pod to every pod; cross-node cells wait out
 * their 1 s timeout until the overlay exists), and `lab down`, for 2 nodes x 2 pods and 4 nodes
 * x 8 pods, median of a few runs. Labs live under a temporary state root and are removed also
 * when a run fails.
 */
import crypto from 'node:crypto';
import { labDown } from '../lab/cluster/down';
import { probeMatrix } from '../lab/cluster/probe';
import { labUp } from '../lab/cluster/up';
import { makeBenchDir, removeBenchDir, trackLab } from './cleanup';
import { step } from './progress';
import { record } from './results';
import { header, row, summarize } from './stats';

const SHAPES = [
  { nodes: 2, podsPerNode: 2 },
  { nodes: 4, podsPerNode: 8 },
];

export async function benchLabUp(runs = 3): Promise<void> {
  const root = makeBenchDir('weft-bench-lab-');
  const name = `bench-${crypto.randomBytes(2).toString('hex')}`;
  const untrack = trackLab(name, root);
  try {
    console.log(`\nlab: up / probe / down, wall clock in ms, ${runs} runs each (agents wait for their first sync; IPv4+IPv6 pods)`);
    console.log(header());
    for (const shape of SHAPES) {
      const up: number[] = [];
      const agents: number[] = [];
      const pods: number[] = [];
      const probe: number[] = [];
      const down: number[] = [];
      for (let i = 0; i < runs; i++) {
        step(`lab ${shape.nodes}x${shape.podsPerNode}: up, probe, down`, { i: i + 1, n: runs });
        try {
          const { state, timings } = await labUp({ name, root, ...shape, ports: [80, 81] });
          up.push(timings.totalMs);
          agents.push(timings.agentsMs);
          pods.push(timings.podsMs);
          const m = await probeMatrix(state, { port: 80, protocol: 'TCP', family: 4 });
          probe.push(m.durationMs);
        } finally {
          const t0 = performance.now();
          await labDown(name, root);
          down.push(performance.now() - t0);
        }
      }
      const label = `${shape.nodes}x${shape.podsPerNode}`;
      console.log(row(`lab up ${label}`, summarize(up)));
      console.log(row(`  of which agents ready`, summarize(agents)));
      console.log(row(`  of which ${shape.nodes * shape.podsPerNode} pods attached`, summarize(pods)));
      console.log(row(`probe ${label} (${(shape.nodes * shape.podsPerNode) ** 2} pairs)`, summarize(probe)));
      console.log(row(`lab down ${label}`, summarize(down)));
      for (const [figure, samples] of [['lab up', up], ['agents ready', agents], ['pods attached', pods], ['probe matrix', probe], ['lab down', down]] as const) {
        record({ name: `${figure} ${label}`, unit: 'ms', samples });
      }
    }
  } finally {
    await labDown(name, root);
    untrack();
    removeBenchDir(root);
  }
}
