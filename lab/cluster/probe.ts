/**
 * The connectivity matrix: from every pod to every pod, a real TCP connection or UDP datagram
 * made inside the client pod's namespace (by its pod server, asked over its control socket), and
 * "ok" only when the answer is the server pod's `namespace/name` -- a connection that reaches
 * some other listener, or a NAT that lands elsewhere, does not count.
 */
import net from 'node:net';
import { bounded } from './bounded';
import type { ControlRequest, ControlResponse, ProbeAnswer } from './pod-server';
import { podKey, type LabState, type PodRecord } from './state';

export type Protocol = 'TCP' | 'UDP';

export interface ProbeOptions {
  port: number;
  protocol: Protocol;
  family: 4 | 6;
  /** Per connection. */
  timeoutMs?: number;
  /** Connections in flight per client pod. */
  perClient?: number;
  /** Client pods probing at once. */
  clients?: number;
}

export interface ProbeCell {
  ok: boolean;
  /** What the server answered, or why there was no answer (timeout, ECONNREFUSED, ...). */
  detail: string;
}

export interface ProbeMatrix {
  port: number;
  protocol: Protocol;
  family: 4 | 6;
  /** Pod keys (`namespace/name`), in the order of rows and columns. */
  pods: string[];
  /** cells[client][server] */
  cells: Record<string, Record<string, ProbeCell>>;
  durationMs: number;
}

/** Sends one request to a pod server's control socket and reads its one-line answer. */
export function controlCall(socketPath: string, req: ControlRequest, timeoutMs: number): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${JSON.stringify(req)}\n`));
    conn.on('data', (d: string) => (buf += d));
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as ControlResponse);
      } catch {
        reject(new Error(`bad answer from ${socketPath}: ${JSON.stringify(buf.slice(0, 200))}`));
      }
    });
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export function addressOf(pod: PodRecord, family: 4 | 6): string | undefined {
  return pod.ips.find((ip) => net.isIP(ip) === family);
}

function cellOf(answer: ProbeAnswer, expected: string): ProbeCell {
  if ('answer' in answer) return { ok: answer.answer === expected, detail: answer.answer === expected ? answer.answer : `answered ${JSON.stringify(answer.answer)}` };
  return { ok: false, detail: answer.error };
}

export async function probeMatrix(state: LabState, o: ProbeOptions, pods: PodRecord[] = state.pods): Promise<ProbeMatrix> {
  const started = performance.now();
  const timeoutMs = o.timeoutMs ?? 1000;
  const perClient = o.perClient ?? 64;
  const servers = pods.map((pod) => ({ key: podKey(pod), address: addressOf(pod, o.family) }));
  const reachable = servers.filter((s) => s.address !== undefined);
  const cells: ProbeMatrix['cells'] = {};
  await bounded(
    pods.map((client) => async () => {
      const row: Record<string, ProbeCell> = {};
      for (const s of servers) if (!s.address) row[s.key] = { ok: false, detail: `no IPv${o.family} address` };
      const req: ControlRequest = {
        probes: reachable.map((s) => ({ host: s.address as string, port: o.port, protocol: o.protocol })),
        timeoutMs,
        concurrency: perClient,
      };
      try {
        if (!client.server) throw new Error('the pod has no server');
        // Enough for every round of connections to time out, plus slack.
        const res = await controlCall(client.server.control, req, timeoutMs * Math.ceil(reachable.length / perClient) + 3000);
        reachable.forEach((s, i) => (row[s.key] = cellOf(res.results[i] ?? { error: 'no result' }, s.key)));
      } catch (err) {
        for (const s of reachable) row[s.key] = { ok: false, detail: `client pod cannot probe: ${(err as Error).message}` };
      }
      cells[podKey(client)] = row;
    }),
    o.clients ?? 16,
  );
  return { port: o.port, protocol: o.protocol, family: o.family, pods: servers.map((s) => s.key), cells, durationMs: performance.now() - started };
}

/**
 * `count` connections (TCP) or datagrams (UDP, each from a new socket) from inside `pod` to
 * host:port, one after the other: the answers, or why there was none. How a service test counts
 * which endpoints a frontend spreads over.
 */
export async function probeFromPod(pod: PodRecord, host: string, port: number, protocol: Protocol, count: number, timeoutMs = 1000): Promise<ProbeAnswer[]> {
  if (!pod.server) throw new Error(`${podKey(pod)} has no server`);
  const req: ControlRequest = { probes: Array.from({ length: count }, () => ({ host, port, protocol })), timeoutMs, concurrency: 1 };
  const res = await controlCall(pod.server.control, req, timeoutMs * count + 3000);
  return res.results;
}

/** What one client got from `count` probes of one target: answer (the server's id) or error -> how often. */
export type AnswerCounts = Record<string, number>;

/**
 * From every pod (in parallel), `count` probes of host:port: how the answers spread. How a
 * Service is seen from each pod: which endpoints answer, and which clients are refused or dropped.
 */
export async function probeTarget(state: LabState, host: string, o: Omit<ProbeOptions, 'family' | 'perClient'> & { count: number }, pods: PodRecord[] = state.pods): Promise<Record<string, AnswerCounts>> {
  const rows: Record<string, AnswerCounts> = {};
  await bounded(
    pods.map((client) => async () => {
      const counts: AnswerCounts = {};
      try {
        for (const a of await probeFromPod(client, host, o.port, o.protocol, o.count, o.timeoutMs)) {
          const key = 'answer' in a ? (a.answer.split(' ')[0] ?? '') : a.error;
          counts[key] = (counts[key] ?? 0) + 1;
        }
      } catch (err) {
        counts[`client pod cannot probe: ${(err as Error).message}`] = o.count;
      }
      rows[podKey(client)] = counts;
    }),
    o.clients ?? 16,
  );
  return Object.fromEntries(pods.map((p) => [podKey(p), rows[podKey(p)]]));
}
