/**
 * Loopback helpers for tests that filter traffic inside one namespace: bring `lo` up and try a
 * TCP connection to 127.0.0.1, so a rule set's effect is observed on real packets.
 */
import { createRtNetlink } from 'netlink';
import { execTool } from '../../kernel/exec';
import { inNetns } from '../../kernel/netns';

export async function loopbackUp(ns: string): Promise<void> {
  const sock = inNetns(ns, () => createRtNetlink());
  try {
    await sock.setLink({ index: 1, flags: { up: true }, change: { up: true } });
  } finally {
    sock.socket.close();
  }
}

// Listens on 127.0.0.1:PORT and connects to it; prints 'connected', 'timeout' or 'error CODE'.
const CONNECT_SCRIPT = `
const net = require('net');
const port = Number(process.argv[1]);
const server = net.createServer((s) => s.end()).listen(port, '127.0.0.1', () => {
  const c = net.connect({ host: '127.0.0.1', port });
  const done = (what) => { console.log(what); process.exit(0); };
  setTimeout(() => done('timeout'), 700);
  c.on('connect', () => done('connected'));
  c.on('error', (e) => done('error ' + e.code));
});
server.on('error', (e) => { console.log('listen ' + e.code); process.exit(0); });
`;

/** Connects to 127.0.0.1:port inside ns: 'connected', 'timeout' (dropped) or 'error ECONNREFUSED'. */
export async function tcpConnectLoopback(ns: string, port: number): Promise<string> {
  const r = await execTool(process.execPath, ['-e', CONNECT_SCRIPT, String(port)], { netns: ns, timeoutMs: 10_000 });
  return r.stdout.trim();
}
