/**
 * weft-bridge vs the reference bridge and weft-macvlan vs the reference macvlan: ADD, CHECK and
 * DEL latency of the real executables run as a runtime runs them, interleaved (reference, weft,
 * reference, ...) so that machine noise hits both alike, each pair with the same IPAM (the
 * reference host-local); plus weft-bridge with weft-ipam, which it runs in-process, and both
 * weft plugins called through weft-cni-shim and a CNI server (no Node.js start per call). Then the
 * wall-clock time of 50 ADDs started at once on one bridge, and of their 50 DELs.
 *
 * Everything happens in the bench's node namespace and pod namespaces created here.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { withNetlink } from '../kernel/netlink';
import { startCniServer } from '../cni/server';
import { DEFAULT_CNI_PATH, REFERENCE_CNI_DIR, runCniOk, SEA_BIN_DIR, SHIM_BIN_DIR, type CniInvocation } from '../lab/cni-exec';
import { createBenchNetns, deleteBenchNetns, makeBenchDir, removeBenchDir } from './cleanup';
import { step } from './progress';
import { record as recordFigure } from './results';
import { header, row, summarize } from './stats';

interface Contender {
  label: string;
  plugin: string;
  config: Record<string, unknown>;
  /** For calls through weft-cni-shim: its CNI path and the server's socket. */
  via?: Pick<CniInvocation, 'cniPath' | 'env'>;
  /** The label of the row this one is compared to. */
  reference?: string;
}

function podNetns(tag: string): string {
  return createBenchNetns(`weft-bench-pod-${tag}-${crypto.randomBytes(3).toString('hex')}`);
}

function contenders(dataDir: string, shim: Contender['via'], sea: Contender['via']): Contender[] {
  const hostLocal = (subnet: string) => ({ type: 'host-local', subnet, dataDir });
  const bridge = (type: string, name: string, ipam: object) => ({ cniVersion: '1.0.0', name, type, bridge: name, isGateway: true, ipam });
  const macvlan = (type: string, name: string, subnet: string) => ({ cniVersion: '1.0.0', name, type, master: 'mv0', mode: 'bridge', ipam: hostLocal(subnet) });
  return [
    { label: 'bridge', plugin: 'bridge', config: bridge('bridge', 'br-ref', hostLocal('10.251.0.0/16')) },
    { label: 'weft-bridge', plugin: 'weft-bridge', config: bridge('weft-bridge', 'br-weft', hostLocal('10.252.0.0/16')), reference: 'bridge' },
    {
      label: 'weft-bridge + weft-ipam',
      plugin: 'weft-bridge',
      config: bridge('weft-bridge', 'br-weft-wi', { type: 'weft-ipam', subnet: '10.253.0.0/16', dataDir }),
      reference: 'bridge',
    },
    { label: 'weft-bridge shim+server', plugin: 'weft-bridge', config: bridge('weft-bridge', 'br-weft-s', hostLocal('10.250.0.0/16')), reference: 'bridge', via: shim },
    { label: 'weft-bridge SEA', plugin: 'weft-bridge', config: bridge('weft-bridge', 'br-weft-sea', hostLocal('10.249.0.0/16')), reference: 'bridge', via: sea },
    { label: 'macvlan', plugin: 'macvlan', config: macvlan('macvlan', 'mv-ref', '10.254.0.0/18') },
    { label: 'weft-macvlan', plugin: 'weft-macvlan', config: macvlan('weft-macvlan', 'mv-weft', '10.254.64.0/18'), reference: 'macvlan' },
    { label: 'weft-macvlan shim+server', plugin: 'weft-macvlan', config: macvlan('weft-macvlan', 'mv-weft-s', '10.254.128.0/18'), reference: 'macvlan', via: shim },
  ];
}

/** A parent for the macvlans: a veth pair inside the node (this kernel has no dummy links). */
async function macvlanMaster(node: string): Promise<void> {
  await withNetlink(node, async (nl) => {
    await nl.links.createVeth({ name: 'mv0', up: true, peer: { name: 'mv0-peer' } });
    await nl.links.setUp('mv0-peer');
  });
}

async function latency(node: string, list: Contender[], runs: number): Promise<void> {
  const samples = new Map<string, number[]>();
  const record = (key: string, ms: number) => samples.set(key, [...(samples.get(key) ?? []), ms]);
  for (let i = 0; i < runs; i++) {
    step('ADD, CHECK, DEL of every plugin in turn', { i: i + 1, n: runs });
    for (const c of list) {
      const netns = podNetns(String(i));
      try {
        const call: CniInvocation = { hostNetns: node, plugin: c.plugin, command: 'ADD', config: c.config, containerId: `bench-${i}`, netns, ifName: 'eth0', ...c.via };
        const add = await runCniOk(call);
        record(`${c.label} ADD`, add.durationMs);
        const withPrev = { ...c.config, prevResult: add.json };
        record(`${c.label} CHECK`, (await runCniOk({ ...call, command: 'CHECK', config: withPrev })).durationMs);
        record(`${c.label} DEL`, (await runCniOk({ ...call, command: 'DEL', config: withPrev })).durationMs);
      } finally {
        deleteBenchNetns(netns);
      }
    }
  }
  console.log(`\nAttachment plugin latency, ms (${runs} runs each, interleaved; IPAM host-local unless named; ratio = weft / reference)`);
  console.log(header());
  for (const op of ['ADD', 'CHECK', 'DEL']) {
    for (const c of list) {
      const reference = c.reference ? samples.get(`${c.reference} ${op}`) : undefined;
      console.log(row(`${c.label} ${op}`, summarize(samples.get(`${c.label} ${op}`) ?? []), reference ? summarize(reference) : undefined));
      recordFigure({ name: `${c.label} ${op}`, unit: 'ms', samples: samples.get(`${c.label} ${op}`) ?? [], reference: reference && { name: `${c.reference} ${op}`, samples: reference } });
    }
  }
}

/** Wall-clock ms of `count` ADDs started at once, then of their DELs. */
async function concurrent(node: string, c: Contender, count: number): Promise<{ add: number; del: number }> {
  const pods = Array.from({ length: count }, (_, i) => podNetns(`c${i}`));
  try {
    const calls = pods.map((netns, i): CniInvocation => ({ hostNetns: node, plugin: c.plugin, command: 'ADD', config: c.config, containerId: `burst-${i}`, netns, ifName: 'eth0', ...c.via }));
    let started = process.hrtime.bigint();
    const results = await Promise.all(calls.map((call) => runCniOk(call)));
    const add = Number(process.hrtime.bigint() - started) / 1e6;
    started = process.hrtime.bigint();
    await Promise.all(calls.map((call, i) => runCniOk({ ...call, command: 'DEL', config: { ...c.config, prevResult: results[i].json } })));
    const del = Number(process.hrtime.bigint() - started) / 1e6;
    return { add, del };
  } finally {
    pods.forEach((p) => deleteBenchNetns(p));
  }
}

export async function benchAttach(node: string, runs: number, available: (plugin: string) => boolean): Promise<void> {
  const dataDir = makeBenchDir('weft-bench-attach-');
  const server = await startCniServer({ socketPath: path.join(dataDir, 'cni.sock') });
  try {
    await macvlanMaster(node);
    const shim = { cniPath: [SHIM_BIN_DIR, ...DEFAULT_CNI_PATH], env: { WEFT_CNI_SOCKET: server.socketPath } };
    // The executable extracts its addons once; into the bench's directory, not /run.
    const sea = { cniPath: [SEA_BIN_DIR, REFERENCE_CNI_DIR], env: { WEFT_SEA_CACHE: path.join(dataDir, 'sea') } };
    const seaBuilt = fs.existsSync(SEA_BIN_DIR);
    const list = contenders(dataDir, shim, sea).filter((c) => available(c.plugin) && (c.via !== sea || seaBuilt));
    await latency(node, list, runs);
    const burst = 50;
    console.log(`\n${burst} ADDs started at once on one bridge, then their ${burst} DELs: wall-clock ms`);
    const bursts = new Map<string, { add: number; del: number }>();
    for (const c of list.filter((x) => x.config.bridge !== undefined)) {
      step(`${burst} ADDs at once: ${c.label}`);
      const { add, del } = await concurrent(node, c, burst);
      bursts.set(c.label, { add, del });
      console.log(`${c.label.padEnd(32)} ADD ${add.toFixed(0).padStart(6)}   DEL ${del.toFixed(0).padStart(6)}`);
      const ref = c.reference ? bursts.get(c.reference) : undefined;
      recordFigure({ name: `${c.label} ${burst} ADDs at once`, unit: 'ms', value: add, reference: ref && { name: `${c.reference} ${burst} ADDs at once`, value: ref.add }, notes: 'wall clock, one run' });
      recordFigure({ name: `${c.label} their ${burst} DELs`, unit: 'ms', value: del, reference: ref && { name: `${c.reference} their ${burst} DELs`, value: ref.del }, notes: 'wall clock, one run' });
    }
  } finally {
    await server.close();
    removeBenchDir(dataDir);
  }
}
