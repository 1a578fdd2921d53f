/**
 * The run's progress on stderr, never on stdout where the tables go: which bench (k of n), which
 * step, time in the bench and in the run. On a terminal it is one status line, redrawn every
 * second and taken away around anything else written to the terminal, so the tables and error
 * messages stay as they were; otherwise (a log file) a line per bench and per new step. Silent
 * until run.ts starts it, so a bench run on its own or a test prints nothing extra.
 */

interface State {
  index: number;
  total: number;
  bench: string;
  step: string;
  count?: { i: number; n: number };
  benchStarted: number;
  runStarted: number;
}

let state: State | undefined;
let stream: NodeJS.WriteStream | undefined;
let live = false;
let shown = false;
let timer: NodeJS.Timeout | undefined;
/** The display's own writes, past the interception below. */
let write: (text: string) => void = () => undefined;
let restore: (() => void)[] = [];

export function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (x: number) => String(x).padStart(2, '0');
  const [h, m] = [Math.floor(s / 3600), Math.floor(s / 60) % 60];
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

/** The status text for `s` at time `now`; pure. */
export function statusLine(s: State, now: number): string {
  const count = s.count ? ` ${s.count.i}/${s.count.n}` : '';
  return `[${s.index}/${s.total} ${s.bench} ${elapsed(now - s.benchStarted)} | run ${elapsed(now - s.runStarted)}] ${s.step}${count}`;
}

function clear(): void {
  if (live && shown) write('\r\x1b[2K');
  shown = false;
}

function draw(): void {
  if (!live || !state || state.index === 0) return;
  // A terminal of unknown size (0 columns under script(1)) gets 100.
  const width = Math.max(20, (stream!.columns || 100) - 1);
  write(`\r\x1b[2K${statusLine(state, Date.now()).slice(0, width)}`);
  shown = true;
}

/** Takes the status line away around every other write to `out` (a terminal), and puts it back after. */
function intercept(out: NodeJS.WriteStream): () => void {
  const original = out.write;
  out.write = function (...args: Parameters<typeof original>) {
    clear();
    const result = original.apply(out, args);
    draw();
    return result;
  } as typeof original;
  return () => {
    out.write = original;
  };
}

/** Starts the display for a run of `total` benches. */
export function startProgress(total: number, to: NodeJS.WriteStream = process.stderr): void {
  stream = to;
  live = Boolean(to.isTTY);
  const now = Date.now();
  state = { index: 0, total, bench: '', step: '', benchStarted: now, runStarted: now };
  const original = to.write;
  write = (text) => void original.call(to, text);
  if (live) {
    restore = [to, ...(process.stdout.isTTY && process.stdout !== to ? [process.stdout] : [])].map(intercept);
    timer = setInterval(draw, 1000);
    timer.unref();
  }
}

/** The next bench begins. */
export function progressBench(index: number, name: string): void {
  if (!state) return;
  Object.assign(state, { index, bench: name, step: 'starting', count: undefined, benchStarted: Date.now() });
  if (live) draw();
  else write(`bench ${index}/${state.total}: ${name} (run ${elapsed(Date.now() - state.runStarted)})\n`);
}

/**
 * What the current bench does now; `count` (run i of n) is shown on a terminal only, so that a
 * log gets a line per step, not per run.
 */
export function step(text: string, count?: { i: number; n: number }): void {
  if (!state) return;
  const changed = text !== state.step;
  state.step = text;
  state.count = count;
  if (live) draw();
  else if (changed) write(`  ${state.bench} ${elapsed(Date.now() - state.benchStarted)}: ${text}\n`);
}

export function stopProgress(): void {
  if (timer) clearInterval(timer);
  clear();
  restore.splice(0).forEach((undo) => undo());
  state = undefined;
  live = false;
}
