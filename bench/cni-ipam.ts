/**
 * weft-ipam vs the reference host-local: ADD and DEL latency of the real executables, run as a
 * runtime runs them, interleaved (weft, reference, weft, ...) so that machine noise hits both
 * alike. Each plugin gets its own data directory; every ADD is followed by its DEL.
 */
import { runCniOk } from '../lab/cni-exec';
import { makeBenchDir, removeBenchDir } from './cleanup';
import { step } from './progress';
import { record as recordFigure } from './results';
import { header, row, summarize } from './stats';

export async function benchIpam(hostNetns: string, runs: number): Promise<void> {
  const dataDir = makeBenchDir('weft-bench-ipam-');
  try {
    const config = (type: string) => ({
      cniVersion: '1.0.0',
      name: `bench-${type}`,
      type,
      ipam: { type, dataDir, ranges: [[{ subnet: '10.250.0.0/16' }]] },
    });
    const samples: Record<string, number[]> = {};
    const record = (key: string, ms: number) => (samples[key] ??= []).push(ms);
    for (let i = 0; i < runs; i++) {
      step('ADD and DEL, weft-ipam and host-local in turn', { i: i + 1, n: runs });
      for (const type of ['weft-ipam', 'host-local']) {
        const common = { hostNetns, plugin: type, config: config(type), containerId: `bench-${i}`, netns: hostNetns, ifName: 'eth0' };
        record(`${type} ADD`, (await runCniOk({ ...common, command: 'ADD' })).durationMs);
        record(`${type} DEL`, (await runCniOk({ ...common, command: 'DEL' })).durationMs);
      }
    }
    console.log(`\nIPAM plugin latency, ms (${runs} runs each, interleaved; ratio = weft / host-local)`);
    console.log(header());
    for (const op of ['ADD', 'DEL']) {
      const ref = summarize(samples[`host-local ${op}`]);
      console.log(row(`host-local ${op}`, ref));
      console.log(row(`weft-ipam ${op}`, summarize(samples[`weft-ipam ${op}`]), ref));
      recordFigure({ name: `host-local ${op}`, unit: 'ms', samples: samples[`host-local ${op}`] });
      recordFigure({ name: `weft-ipam ${op}`, unit: 'ms', samples: samples[`weft-ipam ${op}`], reference: { name: `host-local ${op}`, samples: samples[`host-local ${op}`] } });
    }
  } finally {
    removeBenchDir(dataDir);
  }
}
