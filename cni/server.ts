/**
 * The CNI server: a resident process that runs plugin calls handed over by weft-cni-shim (see
 * cni/shim/weft-cni-shim.c for why and for the wire format), so that a pod's ADD does not pay for
 * starting Node.js. Each call runs through the same skel as the executable, with the plugin built
 * for the shim's network namespace: the server holds that namespace open (/proc/PID/ns/net of the
 * waiting shim) for the duration of the call, so a bridge plugin called from a node namespace
 * acts there and nowhere else.
 */
import fs from 'node:fs';
import net from 'node:net';
import { claimSocketPath } from '../kernel/unix-socket';
import { PLUGINS, PLUGIN_NAMES } from './registry';
import { runSkel, type SkelOutput } from './skel';
import { CniError, ErrorCode } from './types';

/** Same bound as the shim's: a config plus prevResult is kilobytes; this only stops garbage. */
const MAX_FRAME = 64 << 20;

export interface ShimRequest {
  plugin: string;
  pid: number;
  env: Record<string, string>;
  stdin: string;
}

export interface CniServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

export interface CniServerOptions {
  socketPath: string;
  /** Called with a line for each failed call or protocol error; stderr by default. */
  log?: (line: string) => void;
}

export function encodeFrame(value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

function parseRequest(body: Buffer): ShimRequest {
  const req = JSON.parse(body.toString('utf8')) as Partial<ShimRequest>;
  const envOk = typeof req.env === 'object' && req.env !== null && Object.values(req.env).every((v) => typeof v === 'string');
  if (typeof req.plugin !== 'string' || !Number.isInteger(req.pid) || !envOk || typeof req.stdin !== 'string') {
    throw new Error('malformed request');
  }
  return req as ShimRequest;
}

/** Runs one call for a shim: the plugin is built with the shim's namespace as its host. */
export async function serveRequest(req: ShimRequest): Promise<SkelOutput> {
  const loader = PLUGINS[req.plugin];
  let nsFd: number | undefined;
  try {
    // Holding the namespace open keeps it valid even if the pid were reused.
    nsFd = fs.openSync(`/proc/${req.pid}/ns/net`, fs.constants.O_RDONLY);
  } catch (err) {
    const error = new CniError(ErrorCode.InvalidEnvironment, `cannot open the network namespace of the calling shim (pid ${req.pid}): ${(err as Error).message}`);
    return { stdout: JSON.stringify(error.toJSON(), null, 4), stderr: '', exitCode: 1 };
  }
  const hostNetns = `/proc/self/fd/${nsFd}`;
  try {
    const load = () => {
      if (!loader) throw new CniError(ErrorCode.PluginNotAvailable, `weft has no plugin named ${JSON.stringify(req.plugin)}`, `this server serves: ${PLUGIN_NAMES.join(', ')}`);
      return loader({ hostNetns });
    };
    return await runSkel(req.plugin, load, { env: req.env, stdin: Buffer.from(req.stdin, 'utf8') });
  } finally {
    fs.closeSync(nsFd);
  }
}

function handleConnection(socket: net.Socket, log: (line: string) => void): void {
  let buffered = Buffer.alloc(0);
  let handled = false;
  socket.on('error', (err) => log(`cni server: connection error: ${err.message}`));
  socket.on('data', (chunk: Buffer) => {
    if (handled) return;
    buffered = Buffer.concat([buffered, chunk]);
    if (buffered.length < 4) return;
    const length = buffered.readUInt32BE(0);
    if (length > MAX_FRAME) {
      handled = true;
      log(`cni server: refused a ${length}-byte request`);
      socket.destroy();
      return;
    }
    if (buffered.length < 4 + length) return;
    handled = true;
    let req: ShimRequest;
    try {
      req = parseRequest(buffered.subarray(4, 4 + length));
    } catch (err) {
      log(`cni server: ${(err as Error).message}`);
      socket.destroy();
      return;
    }
    void serveRequest(req).then((out) => {
      if (out.exitCode !== 0) log(`cni server: ${req.plugin} ${req.env.CNI_COMMAND ?? ''} ${req.env.CNI_CONTAINERID ?? ''} failed: ${out.stdout.replace(/\s+/g, ' ')}`);
      // Key order matters to the shim: exitCode, stderr, stdout.
      socket.end(encodeFrame({ exitCode: out.exitCode, stderr: out.stderr, stdout: out.stdout }));
    });
  });
}

export async function startCniServer(options: CniServerOptions): Promise<CniServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { socketPath } = options;
  await claimSocketPath(socketPath);
  const server = net.createServer((socket) => handleConnection(socket, log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  // Only root may hand calls to the server: they act on any namespace.
  fs.chmodSync(socketPath, 0o600);
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          fs.rmSync(socketPath, { force: true });
          resolve();
        });
      }),
  };
}
