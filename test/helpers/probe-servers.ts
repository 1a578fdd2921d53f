/**
 * The lab's pod server (lab/cluster/pod-server.ts) in a test's own namespaces: it answers TCP
 * connections and UDP datagrams on the given ports, and makes probes on request from inside its
 * namespace, so that a test asks for many real connections at once from one client. Killed when
 * the test ends.
 */
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { inNetns } from '../../kernel/netns';
import { childEnv } from '../../lab/child-env';
import type { ProbeRequest } from '../../lab/cluster/pod-server';
import { POD_SERVER } from '../../lab/cluster/pods';
import { controlCall } from '../../lab/cluster/probe';
import { tempDir } from './tmp';

export interface ProbeServer {
  id: string;
  control: string;
}

export type { ProbeRequest };

export async function startProbeServer(t: ExecutionContext, netns: string, id: string, ports: { tcp: number[]; udp: number[] }): Promise<ProbeServer> {
  const control = path.join(tempDir(t, 'probe'), 'control.sock');
  const args = [POD_SERVER, '--id', id, '--control', control, '--tcp', ports.tcp.join(','), '--udp', ports.udp.join(',')];
  const child = inNetns(netns, () => spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: childEnv() }));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const ready = child.stdio[3]!;
  const ok = await new Promise<boolean>((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(false), 20_000);
    ready.on('data', (b: Buffer) => {
      text += b.toString();
      if (text.includes('ready')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  ready.destroy();
  if (!ok) throw new Error(`the probe server ${id} did not start in ${netns}`);
  return { id, control };
}

/** Makes every probe from `from`'s namespace at once; what each peer answered (its id), or undefined. */
export async function probeFrom(from: ProbeServer, probes: readonly ProbeRequest[], timeoutMs = 800): Promise<(string | undefined)[]> {
  if (probes.length === 0) return [];
  const res = await controlCall(from.control, { probes: [...probes], timeoutMs, concurrency: 128 }, timeoutMs * 4 + 10_000);
  return res.results.map((r) => ('answer' in r ? r.answer : undefined));
}
