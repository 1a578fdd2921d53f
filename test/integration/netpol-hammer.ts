/**
 * A prober for netpol-startup.test.ts, run inside a client pod's network namespace: it watches a
 * weft-ipam store directory (one file per allocated address, host-local layout) and, the moment
 * a new address file appears -- while the CNI ADD that allocated it is still running -- starts
 * a TCP connection to that address every `interval` ms until told to stop (stdin closes). Then it
 * prints one JSON line: per address, how many connections were tried, and how many reached the
 * pod (connected, or refused by the pod's own TCP stack: both mean a packet got to it).
 *
 *   node netpol-hammer.js DIR PORT [INTERVAL_MS] [TIMEOUT_MS]
 *
 * "ready" is written to stdout once the directory is watched. Only node: modules: this starts
 * while the test waits for it.
 */
import fs from 'node:fs';
import net from 'node:net';

export interface HammerTarget {
  address: string;
  /** Date.now() when the address file was seen, and of the first and last connection attempt. */
  seenAt: number;
  firstAttemptAt: number;
  lastAttemptAt: number;
  attempts: number;
  connected: number;
  /** A RST from the address: the packet reached the pod. */
  refused: number;
  timeouts: number;
  /** Skipped because too many were in flight. */
  skipped: number;
  errors: Record<string, number>;
  firstReachedAt?: number;
}

export interface HammerReport {
  targets: HammerTarget[];
}

function main(argv: string[]): void {
  const [dir, portText, intervalText = '1', timeoutText = '250'] = argv;
  const port = Number(portText);
  const intervalMs = Number(intervalText);
  const timeoutMs = Number(timeoutText);
  const maxInFlight = 2048;
  if (!dir || !Number.isInteger(port)) throw new Error('usage: netpol-hammer DIR PORT [INTERVAL_MS] [TIMEOUT_MS]');
  const known = new Set(fs.readdirSync(dir));
  const targets: HammerTarget[] = [];
  const timers: NodeJS.Timeout[] = [];
  let inFlight = 0;

  const attempt = (t: HammerTarget) => {
    if (inFlight >= maxInFlight) {
      t.skipped++;
      return;
    }
    inFlight++;
    t.attempts++;
    const now = Date.now();
    if (t.firstAttemptAt === 0) t.firstAttemptAt = now;
    t.lastAttemptAt = now;
    const socket = net.connect({ host: t.address, port });
    let settled = false;
    const done = (what: 'connected' | 'refused' | 'timeout' | string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      inFlight--;
      if (what === 'connected' || what === 'refused') {
        t[what]++;
        t.firstReachedAt ??= Date.now();
      } else if (what === 'timeout') t.timeouts++;
      else t.errors[what] = (t.errors[what] ?? 0) + 1;
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.on('connect', () => done('connected'));
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : (err.code ?? err.message)));
  };

  const scan = () => {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (known.has(name)) continue;
      known.add(name);
      if (net.isIP(name) === 0) continue;
      const t: HammerTarget = { address: name, seenAt: Date.now(), firstAttemptAt: 0, lastAttemptAt: 0, attempts: 0, connected: 0, refused: 0, timeouts: 0, skipped: 0, errors: {} };
      targets.push(t);
      attempt(t);
      // Timers fire late on a busy machine: each tick makes up for the attempts that were due
      // since the last one, so the rate stays one per interval on average.
      const started = Date.now();
      timers.push(
        setInterval(() => {
          const due = Math.floor((Date.now() - started) / intervalMs) + 1 - t.attempts - t.skipped;
          for (let i = 0; i < Math.min(due, 50); i++) attempt(t);
        }, intervalMs),
      );
    }
  };

  // inotify first; a short poll as well, in case an event is coalesced away.
  const watcher = fs.watch(dir, () => scan());
  timers.push(setInterval(scan, 5));
  process.stdout.write('ready\n');

  const stop = () => {
    watcher.close();
    for (const timer of timers) clearInterval(timer);
    // Let the connections in flight finish (each ends within its timeout).
    setTimeout(() => {
      const report: HammerReport = { targets };
      process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
    }, timeoutMs + 50);
  };
  process.stdin.on('data', () => undefined);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`netpol-hammer: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
