/**
 * Traffic measurements between two namespaces, used to compare a weft path with the same path
 * built by hand: TCP throughput with iperf3 (one stream, a few seconds), and request/response
 * latency (1-byte TCP ping-pong, median round trip of many). The same tools on both paths, so
 * their ratio is the cost of weft's rules and devices, nothing else.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { inNetns } from '../kernel/netns';
import { runIn } from '../lab/probe';
import { childEnv } from '../lab/child-env';
import { trackChild } from './cleanup';
import { quantile } from './stats';

/** Starts a process in `ns` and resolves once it printed `ready` (or after `settleMs`). */
async function startServer(ns: string, cmd: string, args: string[], settleMs: number): Promise<{ stop(): Promise<void> }> {
  const child = trackChild(inNetns(ns, () => spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], env: childEnv() })));
  await Promise.race([once(child.stdout!, 'data'), new Promise((r) => setTimeout(r, settleMs))]);
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'close');
      }
    },
  };
}

/**
 * iperf3's CPU affinity for client and server: on different cores when there are two, so both
 * sides of every comparison run on the same cores instead of wherever the scheduler puts them
 * (unpinned, two identical paths measured back to back differ by up to 5% here).
 */
function affinity(role: 'client' | 'server'): string[] {
  if (os.cpus().length < 2) return [];
  return ['-A', role === 'client' ? '0' : '1'];
}

/** iperf3 TCP throughput from `clientNs` to a server in `serverNs` at `address`, in Gbit/s. */
export async function tcpThroughputGbps(clientNs: string, serverNs: string, address: string, seconds = 3): Promise<number> {
  const server = await startServer(serverNs, 'iperf3', ['-s', '-1', '-p', '5201', ...affinity('server')], 300);
  try {
    const args = ['-c', address, '-p', '5201', '-t', String(seconds), '-J', ...affinity('client')];
    const { code, stdout, stderr } = await runIn(clientNs, 'iperf3', args, (seconds + 10) * 1000);
    if (code !== 0) throw new Error(`iperf3 to ${address} failed: ${stderr || stdout.slice(0, 300)}`);
    // An interrupted test still exits 0 with -J, its error in the report and no totals.
    const report = JSON.parse(stdout) as { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
    const bps = report.end?.sum_received?.bits_per_second;
    if (bps === undefined) throw new Error(`iperf3 to ${address} gave no result: ${report.error ?? stdout.slice(0, 300)}`);
    return bps / 1e9;
  } finally {
    await server.stop();
  }
}

const RR_SERVER = `
const net = require('net');
net.createServer((s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); }).listen(5202, '::', () => process.stdout.write('ready\\n'));
`;

const RR_CLIENT = `
const net = require('net');
const [host, n] = [process.argv[1], Number(process.argv[2])];
const s = net.connect({ host, port: 5202 }, () => {
  s.setNoDelay(true);
  const times = [];
  let t0 = process.hrtime.bigint();
  let i = 0;
  s.on('data', () => {
    const t = process.hrtime.bigint();
    if (i >= 100) times.push(Number(t - t0) / 1000); // the first 100 warm up
    if (++i === n + 100) { times.sort((a, b) => a - b); process.stdout.write(String(times[times.length >> 1])); s.destroy(); return; }
    t0 = process.hrtime.bigint();
    s.write('x');
  });
  s.write('x');
});
s.on('error', (e) => { process.stderr.write(e.message); process.exit(1); });
`;

/** Median round trip of a 1-byte TCP request/response, in microseconds. */
export async function tcpRoundTripUs(clientNs: string, serverNs: string, address: string, roundTrips = 5000): Promise<number> {
  const server = await startServer(serverNs, process.execPath, ['-e', RR_SERVER], 2000);
  try {
    const { code, stdout, stderr } = await runIn(clientNs, process.execPath, ['-e', RR_CLIENT, address, String(roundTrips)], 30_000);
    if (code !== 0) throw new Error(`request/response to ${address} failed: ${stderr}`);
    return Number(stdout);
  } finally {
    await server.stop();
  }
}

const CONNECT_SERVER = `
const net = require('net');
net.createServer((s) => s.on('error', () => undefined)).listen(5203, '::', () => process.stdout.write('ready\\n'));
`;

const CONNECT_CLIENT = `
const net = require('net');
const [host, seconds, parallel] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3] ?? 1)];
const end = Date.now() + seconds * 1000;
const times = [];
let running = parallel;
const loop = () => {
  if (Date.now() >= end) { if (--running === 0) process.stdout.write(JSON.stringify(times)); return; }
  const t0 = process.hrtime.bigint();
  const s = net.connect({ host, port: 5203 }, () => { times.push(Number(process.hrtime.bigint() - t0) / 1000); s.resetAndDestroy(); loop(); });
  s.on('error', (e) => { process.stderr.write(e.message); process.exit(1); });
};
for (let i = 0; i < parallel; i++) loop();
`;

export interface ConnectTimes {
  /** Connections per second, one after the other. */
  perSecond: number;
  /** Each connection's time from connect() to established, µs: median and 90th percentile. */
  medianUs: number;
  p90Us: number;
}

/**
 * New TCP connections per second, one after the other (connect, then close): every one is a
 * new conntrack entry, so it pays the per-connection rule path (policy lookups included) that
 * the established packets of a throughput test skip.
 */
export async function tcpConnectRate(clientNs: string, serverNs: string, address: string, seconds = 2): Promise<number> {
  return (await tcpConnectTimes(clientNs, serverNs, address, seconds)).perSecond;
}

/**
 * tcpConnectRate, with the time of each connection; with `parallel` > 1, that many connections
 * at a time (the CPU, not waking up, is then what limits the rate).
 */
export async function tcpConnectTimes(clientNs: string, serverNs: string, address: string, seconds = 2, parallel = 1): Promise<ConnectTimes> {
  const server = await startServer(serverNs, process.execPath, ['-e', CONNECT_SERVER], 2000);
  try {
    const { code, stdout, stderr } = await runIn(clientNs, process.execPath, ['-e', CONNECT_CLIENT, address, String(seconds), String(parallel)], (seconds + 20) * 1000);
    if (code !== 0) throw new Error(`connections to ${address} failed: ${stderr}`);
    const times = (JSON.parse(stdout) as number[]).sort((a, b) => a - b);
    return { perSecond: times.length / seconds, medianUs: quantile(times, 0.5), p90Us: quantile(times, 0.9) };
  } finally {
    await server.stop();
  }
}
