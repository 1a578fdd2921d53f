/**
 * Real connectivity probes between namespaces: ICMP with the system's ping, TCP with a tiny
 * Node.js server and client started as processes inside the namespaces (a process spawned while
 * the main thread is in a namespace lives there). Targets are only addresses inside namespaces
 * the caller created.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { inNetns } from '../kernel/netns';
import { childEnv } from './child-env';

/** Runs a command inside a namespace and resolves with its exit code and output. */
export function runIn(
  nsPath: string,
  cmd: string,
  args: string[],
  timeoutMs = 5000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = inNetns(nsPath, () =>
      spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}


export async function ping(fromNs: string, address: string, timeoutS = 1): Promise<boolean> {
  const { code } = await runIn(fromNs, 'ping', ['-n', '-q', '-c', '1', '-W', String(timeoutS), address], (timeoutS + 2) * 1000);
  return code === 0;
}

const SERVER_SRC = `
const net = require('net');
const server = net.createServer((s) => { s.end('weft ' + process.argv[2]); });
server.listen({ port: Number(process.argv[1]), host: '::', ipv6Only: false }, () => process.stdout.write('ready\\n'));
`;

const CLIENT_SRC = `
const net = require('net');
const [host, port, timeout] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
s.setTimeout(Number(timeout), () => { process.stdout.write('timeout'); process.exit(2); });
let data = '';
s.on('data', (d) => (data += d));
s.on('end', () => { process.stdout.write(data); process.exit(0); });
s.on('error', (e) => { process.stdout.write(e.code || e.message); process.exit(1); });
`;

export interface TcpServer {
  stop(): Promise<void>;
}

/** Starts a TCP server on every address of the namespace; it answers "weft <label>". */
export async function startTcpServer(nsPath: string, port: number, label: string): Promise<TcpServer> {
  return startServer(nsPath, SERVER_SRC, [String(port), label]);
}

async function startServer(nsPath: string, source: string, args: string[]): Promise<TcpServer> {
  const child: ChildProcess = inNetns(nsPath, () =>
    spawn(process.execPath, ['-e', source, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: childEnv(),
    }),
  );
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  if (!chunk.toString().includes('ready')) throw new Error(`tcp server in ${nsPath} did not start`);
  return {
    async stop() {
      // A child killed by a signal keeps exitCode null: check both, or a second stop() waits forever.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'close');
      }
    },
  };
}

export interface TcpProbeResult {
  ok: boolean;
  /** What the server answered, or the error code (ECONNREFUSED, timeout, ...). */
  detail: string;
}

export async function tcpProbe(fromNs: string, address: string, port: number, timeoutMs = 1500): Promise<TcpProbeResult> {
  const { code, stdout } = await runIn(fromNs, process.execPath, ['-e', CLIENT_SRC, address, String(port), String(timeoutMs)], timeoutMs + 3000);
  return { ok: code === 0, detail: stdout.trim() };
}

const PEER_SERVER_SRC = `
const net = require('net');
const server = net.createServer((s) => { s.end(s.remoteAddress.replace(/^::ffff:/, '')); });
server.listen({ port: Number(process.argv[1]), host: '::', ipv6Only: false }, () => process.stdout.write('ready\\n'));
`;

/**
 * Starts a TCP server that answers each connection with the address it came from, so a probe
 * shows what source address the server saw (masquerade, DNAT).
 */
export async function startPeerAddressServer(nsPath: string, port: number): Promise<TcpServer> {
  return startServer(nsPath, PEER_SERVER_SRC, [String(port)]);
}
