/**
 * Real traffic for the iptables backend's policy tests: the pod bridge topology
 * (pod-bridge-topology.ts: p1, p2, p3 on the bridge, a remote host routed through the node)
 * with TCP and UDP servers in every namespace, an IptablesBackend writing into the node
 * namespace, and probes run from a namespace, all at once, each saying whether the peer answered.
 */
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { IptablesBackend } from '../../agent/backend/iptables/backend';
import { ensureBridgeNetfilter } from '../../agent/dataplane/bridge-netfilter';
import type { NodeState } from '../../agent/dataplane/node-state';
import type { NodePolicy } from '../../agent/dataplane/policy-state';
import { execTool, systemBinary } from '../../kernel/exec';
import { IptablesCli, type Iptables, type IptablesBinary, type IptablesTransaction } from '../../kernel/iptables';
import { IpsetCli, type Ipset } from '../../kernel/ipset';
import { inNetns } from '../../kernel/netns';
import { runIn } from '../../lab/probe';
import { BRIDGE, P1, P2, podBridgeTopology } from './pod-bridge-topology';

export const TCP_PORTS = [80, 81, 8080, 9000];
export const UDP_PORTS = [81, 8080];
/** A range wide enough to be rendered as a rule, not expanded into set elements. */
export const WIDE = { first: 8000, last: 8999 };

/** TCP servers answering "ok" and UDP echo servers on every address of the namespace. */
const SERVER_SRC = `
const net = require('net'), dgram = require('dgram');
const [tcp, udp] = JSON.parse(process.argv[1]);
let pending = tcp.length + udp.length;
const ready = () => { if (--pending === 0) process.stdout.write('ready\\n'); };
for (const port of tcp) net.createServer((s) => s.end('ok')).listen({ port, host: '::', ipv6Only: false }, ready);
for (const port of udp) {
  const sock = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  sock.on('message', (m, r) => sock.send(m, r.port, r.address));
  sock.bind(port, '::', ready);
}
`;

/** Runs every probe at once; prints one boolean per probe: did the peer answer. */
const CLIENT_SRC = `
const net = require('net'), dgram = require('dgram');
const probes = JSON.parse(process.argv[1]);
const timeout = 800;
const one = (p) => new Promise((resolve) => {
  const done = (ok) => { clearTimeout(timer); resolve(ok); };
  const timer = setTimeout(() => { resolve(false); }, timeout);
  if (p.proto === 'tcp') {
    const s = net.connect({ host: p.host, port: p.port, ...(p.source ? { localAddress: p.source } : {}) });
    s.on('data', () => { s.destroy(); done(true); });
    s.on('error', () => done(false));
  } else {
    const sock = dgram.createSocket(net.isIPv6(p.host) ? 'udp6' : 'udp4');
    sock.on('message', () => { sock.close(); done(true); });
    sock.on('error', () => done(false));
    sock.send('x', p.port, p.host);
  }
});
Promise.all(probes.map(one)).then((r) => { process.stdout.write(JSON.stringify(r)); process.exit(0); });
`;

export interface Probe {
  proto: 'tcp' | 'udp';
  host: string;
  port: number;
  source?: string;
}

export interface Topology {
  node: string;
  pods: { p1: string; p2: string; p3: string };
  remote: string;
  backend: IptablesBackend;
  ipset: IpsetCli;
  iptables: { ipv4: IptablesCli; ipv6: IptablesCli };
}

async function startServers(t: ExecutionContext, ns: string): Promise<void> {
  const child = inNetns(ns, () => spawn(process.execPath, ['-e', SERVER_SRC, JSON.stringify([TCP_PORTS, UDP_PORTS])], { stdio: ['ignore', 'pipe', 'inherit'] }));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  if (!chunk.toString().includes('ready')) throw new Error(`servers in ${ns} did not start`);
}

export async function topology(t: ExecutionContext, binary: IptablesBinary = 'iptables'): Promise<Topology> {
  const { node, remote, pods } = await podBridgeTopology(t, 'i', { nfCall: true });
  t.is(await ensureBridgeNetfilter(BRIDGE, node), 'on', 'the bridge was created with its netfilter calls on');
  for (const ns of [node, remote, ...Object.values(pods)]) await startServers(t, ns);
  const iptables = { ipv4: new IptablesCli({ family: 'ipv4', netns: node, binary }), ipv6: new IptablesCli({ family: 'ipv6', netns: node, binary }) };
  const ipset = new IpsetCli({ netns: node });
  return { node, pods: pods as Topology['pods'], remote, backend: new IptablesBackend([iptables.ipv4, iptables.ipv6], 'WEFT', ipset), ipset, iptables };
}

/** Runs the probes from one namespace at once; true where the peer answered. */
export async function probe(from: string, probes: readonly Probe[]): Promise<boolean[]> {
  const { code, stdout, stderr } = await runIn(from, process.execPath, ['-e', CLIENT_SRC, JSON.stringify(probes)], 10_000);
  if (code !== 0) throw new Error(`probe client failed: ${stderr}`);
  return JSON.parse(stdout) as boolean[];
}

export const tcp = (host: string, port: number, source?: string): Probe => ({ proto: 'tcp', host, port, ...(source ? { source } : {}) });
export const udp = (host: string, port: number): Probe => ({ proto: 'udp', host, port });

/** Attempts for a probe expected to get through (a loaded machine can miss a timeout); one got through is final. */
const ATTEMPTS = 3;

/**
 * Checks a labelled list of expectations from one namespace, all probes at once. A probe that
 * should get through and did not is tried again (up to ATTEMPTS in all); one that should not
 * and did fails at once.
 */
export async function expectReach(t: ExecutionContext, from: string, cases: [string, Probe, boolean][]): Promise<void> {
  const results = await probe(
    from,
    cases.map(([, p]) => p),
  );
  for (let attempt = 2; attempt <= ATTEMPTS; attempt++) {
    const again = cases.map((c, i) => i).filter((i) => cases[i][2] && !results[i]);
    if (again.length === 0) break;
    const retried = await probe(
      from,
      again.map((i) => cases[i][1]),
    );
    again.forEach((i, k) => (results[i] = retried[k]));
  }
  cases.forEach(([label, , want], i) => t.is(results[i], want, label));
}

export const known = [
  { namespace: 'x', name: 'p1', ips: [P1.v4, P1.v6] },
  { namespace: 'x', name: 'p2', ips: [P2.v4, P2.v6] },
];

export function state(policy?: NodePolicy): NodeState {
  return { nodeName: 'n1', localPods: known, podBridge: BRIDGE, ...(policy ? { policy } : {}) };
}

export const ipsetSave = async (ns: string) => (await execTool(systemBinary('ipset'), ['save'], { netns: ns })).stdout;

/** Runs `check` after each of the backend's kernel writes: every state a sync passes through. */
export function observed(topo: Topology, check: (step: string) => Promise<void>): IptablesBackend {
  const steps: string[] = [];
  const ipset: Ipset = {
    save: (owned) => topo.ipset.save(owned),
    run: async (tx) => {
      await topo.ipset.run(tx);
      steps.push(`ipset ${steps.length}`);
      await check(steps[steps.length - 1]);
    },
  };
  const wrap = (inner: IptablesCli): Iptables => ({
    family: inner.family,
    save: (table) => inner.save(table),
    check: (tx: IptablesTransaction) => inner.check(tx),
    run: async (tx: IptablesTransaction) => {
      await inner.run(tx);
      steps.push(`${inner.family} rules`);
      await check(steps[steps.length - 1]);
    },
  });
  return new IptablesBackend([wrap(topo.iptables.ipv4), wrap(topo.iptables.ipv6)], 'WEFT', ipset);
}
