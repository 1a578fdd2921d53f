/**
 * The lab's "container": one process per pod, started inside the pod's network namespace. It
 * answers every TCP connection and UDP datagram on its ports with the pod's `namespace/name`
 * (and on the "whoami" port, WHOAMI_PORT, with `namespace/name client-address`: what a service
 * test needs to see whether the client's address was kept or masqueraded), and, like agnhost's netexec in Kubernetes' e2e tests, dials other pods on request: the lab's
 * probes are real connections made from inside the client pod, started over a unix socket in
 * the lab's state directory (so the control path never crosses the pod network, where policy
 * will apply).
 *
 *   node pod-server.js --id NS/NAME --tcp 80,81 --udp 80,81 [--whoami 9376] --control PATH
 *
 * Readiness is written to fd 3 ("ready\n") once every port listens, then fd 3 is closed.
 * Control protocol: one JSON line in, one JSON line out:
 *   {"probes":[{"host":"10.244.0.3","port":80,"protocol":"TCP"}],"timeoutMs":1000,"concurrency":64}
 *   {"results":[{"answer":"default/pod-0-1"} | {"error":"ECONNREFUSED"}]}
 *
 * Only node: modules are imported: this starts once per pod.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';

export interface ProbeRequest {
  host: string;
  port: number;
  protocol: 'TCP' | 'UDP';
}

export type ProbeAnswer = { answer: string } | { error: string };

export interface ControlRequest {
  probes: ProbeRequest[];
  timeoutMs?: number;
  concurrency?: number;
}

export interface ControlResponse {
  results: ProbeAnswer[];
}

/** The lab pods' whoami port (agnhost serve-hostname's port). */
export const WHOAMI_PORT = 9376;

/** Longest answer read from a server: a `namespace/name` is at most 317 bytes. */
const MAX_ANSWER = 1024;

export function tcpDial(host: string, port: number, timeoutMs: number): Promise<ProbeAnswer> {
  return new Promise((resolve) => {
    let data = '';
    let settled = false;
    const done = (r: ProbeAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => done({ error: 'timeout' }), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      data += d;
      if (data.length > MAX_ANSWER) done({ answer: data.slice(0, MAX_ANSWER) });
    });
    socket.on('end', () => done({ answer: data.trim() }));
    socket.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
  });
}

export function udpDial(host: string, port: number, timeoutMs: number): Promise<ProbeAnswer> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    let settled = false;
    const done = (r: ProbeAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(r);
    };
    const timer = setTimeout(() => done({ error: 'timeout' }), timeoutMs);
    socket.on('message', (msg) => done({ answer: msg.toString('utf8').trim() }));
    // A connected UDP socket reports ICMP port unreachable as ECONNREFUSED.
    socket.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
    socket.connect(port, host, () => socket.send('probe'));
  });
}

/** Runs `fns` with at most `limit` in flight, keeping the order of results. */
async function bounded<T>(fns: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(fns.length);
  let next = 0;
  const worker = async () => {
    while (next < fns.length) {
      const i = next++;
      results[i] = await fns[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, fns.length) }, worker));
  return results;
}

export async function runProbes(req: ControlRequest): Promise<ControlResponse> {
  const timeoutMs = Math.min(Math.max(req.timeoutMs ?? 1000, 10), 30_000);
  const limit = Math.min(Math.max(req.concurrency ?? 64, 1), 1024);
  const fns = (req.probes ?? []).map((p) => () => (p.protocol === 'UDP' ? udpDial(p.host, p.port, timeoutMs) : tcpDial(p.host, p.port, timeoutMs)));
  return { results: await bounded(fns, limit) };
}

function parsePorts(value: string | undefined): number[] {
  if (!value) return [];
  return value.split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`invalid port ${JSON.stringify(s)}`);
    return n;
  });
}

/** The client's address as the server sees it (an IPv4 client of the dual-stack socket unmapped). */
const peerOf = (socket: net.Socket) => (socket.remoteAddress ?? '').replace(/^::ffff:/, '');

function listenTcp(port: number, id: string, answer: (socket: net.Socket) => string = () => id): Promise<void> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(`${answer(socket)}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '::', ipv6Only: false }, () => resolve());
  });
}

function listenUdp(port: number, id: string): Promise<void> {
  const socket = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  socket.on('message', (_msg, rinfo) => socket.send(`${id}\n`, rinfo.port, rinfo.address));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '::', () => {
      socket.removeListener('error', reject);
      socket.on('error', () => undefined);
      resolve();
    });
  });
}

function listenControl(path: string): Promise<void> {
  fs.rmSync(path, { force: true });
  const server = net.createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('error', () => undefined);
    conn.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let req: ControlRequest;
      try {
        req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
      } catch {
        conn.end(`${JSON.stringify({ results: [], error: 'bad request' })}\n`);
        return;
      }
      void runProbes(req).then((res) => conn.end(`${JSON.stringify(res)}\n`));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      fs.chmodSync(path, 0o600);
      resolve();
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const opt = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const id = opt('id');
  const control = opt('control');
  if (!id || !control) throw new Error('usage: pod-server --id NS/NAME --control PATH [--tcp PORTS] [--udp PORTS]');
  const tcp = parsePorts(opt('tcp'));
  const udp = parsePorts(opt('udp'));
  const whoami = parsePorts(opt('whoami'));
  await Promise.all([
    ...tcp.map((p) => listenTcp(p, id)),
    ...udp.map((p) => listenUdp(p, id)),
    ...whoami.map((p) => listenTcp(p, id, (socket) => `${id} ${peerOf(socket)}`)),
    listenControl(control),
  ]);
  const stop = () => {
    fs.rmSync(control, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stderr.write(`${new Date().toISOString()} ${id}: serving tcp ${tcp.join(',') || '-'} udp ${udp.join(',') || '-'}\n`);
  try {
    fs.writeSync(3, 'ready\n');
    fs.closeSync(3);
  } catch {
    // started without a readiness pipe (by hand)
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`${new Date().toISOString()} pod-server: ${err.message}\n`);
    process.exit(1);
  });
}
