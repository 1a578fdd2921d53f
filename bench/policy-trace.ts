/**
 * `weftctl policy trace` latency at cluster scale: 1,000 policies over 5,000 pods
 * (policy-cluster.ts), offline (--manifests) and online (a real agent reading the same objects
 * from its manifests directory, asked over its socket). Target: under 100 ms.
 *
 * - The CLI process end to end, offline and online: weftctl started as a shell or kubectl starts
 *   it (its shebang, which drops NODE_EXTRA_CA_CERTS) until it exited, next to a bare
 *   `node -e 0` with and without that CA bundle (the floor of any Node.js program), and online
 *   through `node dist/cli/weftctl.js` with the machine's environment. Whether weftctl ran from
 *   its bundle (`npm run build`, cli/bundle-run.ts) or from the modules is said.
 * - Offline, phase by phase in a fresh process (trace-phases.ts): loading the modules, reading
 *   and parsing the manifests, as JSON and as YAML, building the model, tracing. A fresh
 *   process is what the CLI pays: nothing is compiled or optimized yet.
 * - The engine alone, in this process (warm): building the model from the objects, and one
 *   trace on a built model. Online: the gRPC call alone (the agent's model built), and the first
 *   question after a change of the agent's objects, when the agent builds its model again.
 * Median and p90 of 20 each (the first runs, which warm the JIT and the agent's model, are not
 * counted); traces alternate between pairs that are allowed and denied, in and across namespaces.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { createAgentClient, type AgentClient } from '../agent/api/client';
import type { KubeObject } from '../agent/objects';
import { bundleProblem } from '../cli/bundle-run';
import { eventually, spawnAgent, waitReady } from '../lab/agent-process';
import type { TraceQuery } from '../policy/explain/answer';
import { PolicyModel } from '../policy/explain/model';
import { parsePortSpec } from '../policy/explain/query';
import { trace } from '../policy/explain/trace';
import { createBenchNetns, deleteBenchNetns, makeBenchDir, removeBenchDir } from './cleanup';
import { syntheticCluster } from './policy-cluster';
import { step } from './progress';
import { benchNote, record } from './results';
import { compareStartups, type StartupCase } from './startup';
import { header, row, summarize } from './stats';
import type { TracePhases } from './trace-phases';

const RUNS = 20;
/** Fresh processes per manifest format for the phases (a YAML parse of the cluster takes seconds). */
const PHASE_RUNS = 5;
const TARGET = { op: '<' as const, limit: 100 };
const WARM = 3;
const WEFTCTL = path.join(__dirname, '..', 'cli', 'weftctl.js');
const TRACE_PHASES = path.join(__dirname, 'trace-phases.js');

/** Questions people ask of the synthetic cluster: app-to-app, DNS, monitoring, across namespaces. */
const questions: Omit<TraceQuery, 'kind'>[] = [
  { from: 'ns-010/web-0', to: 'ns-010/api-1', port: '8000' },
  { from: 'ns-010/web-0', to: 'ns-010/db-2', port: '5432' },
  { from: 'ns-011/api-3', to: 'kube-system/web-0', port: '53/UDP' },
  { from: 'monitoring/worker-1', to: 'ns-150/cache-4', port: '9090' },
  { from: 'ns-020/worker-0', to: 'ns-021/db-1', port: '5432' },
  { from: 'ns-199/web-2', to: 'ns-100/web-3', port: '8080' },
  { from: 'ns-050/api-0', to: 'ns-050/cache-2', port: '6379' },
];

/** The cluster as JSON Lists in `json`, and (for the phases) as multi-document YAML in `yaml`. */
function writeCluster(json: string, yaml: string): KubeObject[] {
  const { namespaces, pods, policies } = syntheticCluster();
  for (const [name, items] of [['namespaces', namespaces], ['pods', pods], ['policies', policies]] as const) {
    fs.writeFileSync(path.join(json, `${name}.json`), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    fs.writeFileSync(path.join(yaml, `${name}.yaml`), items.map((o) => stringify(o)).join('---\n'));
  }
  return [...namespaces, ...pods, ...policies];
}

/** Times `fn` WARM + RUNS times; the first WARM are not counted. */
async function timed(fn: (i: number) => unknown): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < WARM + RUNS; i++) {
    const started = performance.now();
    await fn(i);
    if (i >= WARM) samples.push(performance.now() - started);
  }
  return samples;
}

function traceArgs(q: Omit<TraceQuery, 'kind'>): string[] {
  return ['policy', 'trace', '--from', q.from, '--to', q.to, '--port', q.port];
}

/**
 * `script` started as the kernel starts an executable: its shebang's interpreter with the
 * shebang's one argument, then the script (weftctl's: `/usr/bin/env` "-S -u NODE_EXTRA_CA_CERTS node").
 */
function asExecutable(script: string, args: string[]): { cmd: string; args: string[] } {
  const first = fs.readFileSync(script, 'utf8').split('\n', 1)[0];
  const m = /^#!\s*(\S+)(?:\s+(.*?))?\s*$/.exec(first);
  if (!m) throw new Error(`${script} has no shebang`);
  return { cmd: m[1], args: [...(m[2] ? [m[2]] : []), script, ...args] };
}

/** Offline phases in fresh processes, JSON and YAML manifests alternating. */
function offlinePhases(q: Omit<TraceQuery, 'kind'>, dirs: { format: string; dir: string }[]): void {
  const runs = dirs.map(() => [] as TracePhases[]);
  for (let i = 0; i < PHASE_RUNS; i++) {
    dirs.forEach(({ dir }, k) => {
      const r = spawnSync(process.execPath, [TRACE_PHASES, q.from, q.to, q.port, dir], { encoding: 'utf8', maxBuffer: 1 << 20, timeout: 300_000 });
      if (r.status !== 0) throw new Error(`trace-phases ${dir}: exited ${r.status}: ${r.stderr}`);
      runs[k].push(JSON.parse(r.stdout) as TracePhases);
    });
  }
  const phases: [string, keyof TracePhases][] = [
    ['node start-up', 'startMs'],
    ['load the modules', 'loadMs'],
    ['read and parse the manifests', 'readParseMs'],
    ['build the model', 'modelMs'],
    ['trace', 'traceMs'],
  ];
  console.log(`\noffline trace in a fresh process, phase by phase (${PHASE_RUNS} runs per format; verdict ${runs[0][0].verdict})`);
  console.log('(the model reads lazily: the policies and pods a question reaches are read in its trace phase)');
  console.log(header());
  dirs.forEach(({ format }, k) => {
    for (const [name, key] of phases) {
      const samples = runs[k].map((p) => p[key] as number);
      console.log(row(`${format}: ${name}`, summarize(samples)));
      record({ name: `offline phases, ${format}: ${name}`, unit: 'ms', samples });
    }
  });
}

/** Whether weftctl runs from its bundle: said with the CLI figures, which depend on it. */
function bundleState(): string {
  const problem = bundleProblem(path.join(__dirname, '..', 'cli'), path.join(__dirname, '..', '..'));
  return problem === undefined ? 'weftctl ran from its bundle and code cache (npm run build)' : `weftctl ran from its modules, not its bundle: ${problem} (npm run build makes it)`;
}

async function engineOnly(objects: KubeObject[]): Promise<void> {
  let model: PolicyModel | undefined;
  const build = await timed(() => (model = PolicyModel.fromObjects(objects, { source: 'bench' })));
  const built = model!;
  const verdicts = new Map<string, string>();
  const traces = await timed((i) => {
    const q = questions[i % questions.length];
    verdicts.set(`${q.from} -> ${q.to} ${q.port}`, trace(built, { from: q.from, to: q.to, port: parsePortSpec(q.port) }).verdict);
  });
  console.log(row('engine: model from the objects', summarize(build)));
  console.log(row('engine: one trace (model built)', summarize(traces)));
  record({ name: 'engine: model from the objects', unit: 'ms', samples: build });
  record({ name: 'engine: one trace (model built)', unit: 'ms', samples: traces, target: TARGET });
  console.log(`  verdicts: ${[...verdicts].map(([k, v]) => `${k} ${v}`).join('; ')}`);
}

async function online(client: AgentClient, manifests: string, agentPods: () => Promise<number>): Promise<void> {
  const call = await timed(async (i) => {
    const q = questions[i % questions.length];
    await client.policyQuery({ kind: 'trace', ...q });
  });
  console.log(row('online: gRPC call (model built)', summarize(call)));
  record({ name: 'online: gRPC call (model built)', unit: 'ms', samples: call, target: TARGET });
  // A change of the agent's objects: the next question builds the model again.
  const afterChange: number[] = [];
  const template = syntheticCluster({ namespaces: 1 }).pods[0];
  for (let i = 0; i < 5; i++) {
    const before = await agentPods();
    const pod = { ...template, metadata: { ...template.metadata, name: `bench-extra-${i}` }, status: { phase: 'Running', podIP: `10.250.0.${i + 1}`, podIPs: [{ ip: `10.250.0.${i + 1}` }] } };
    fs.writeFileSync(path.join(manifests, `zz-extra-${i}.json`), JSON.stringify(pod));
    await eventually('the agent to hold the new pod', async () => ((await agentPods()) > before ? true : undefined), 20_000);
    const started = performance.now();
    await client.policyQuery({ kind: 'trace', ...questions[i % questions.length] });
    afterChange.push(performance.now() - started);
  }
  console.log(row('online: first call after a change', summarize(afterChange)));
  record({ name: 'online: first call after a change', unit: 'ms', samples: afterChange, target: TARGET });
  console.log('  (median and p90 of 5: the agent builds its model again, once per change of its objects)');
}

/** `cliOnly`: only the CLI processes end to end (the agent is started for the online one). */
export async function benchPolicyTrace(options: { cliOnly?: boolean } = {}): Promise<void> {
  console.log(`\nweftctl policy trace, 1,000 policies over 5,000 pods: offline (--manifests) and online (a real agent's socket); median and p90 of ${RUNS}`);
  console.log('target: under 100 ms');
  const dir = makeBenchDir('weft-bench-ptrace-');
  const ns = createBenchNetns(`weft-bench-pt-${crypto.randomBytes(2).toString('hex')}`);
  try {
    const manifests = path.join(dir, 'manifests');
    const yamlManifests = path.join(dir, 'manifests-yaml');
    fs.mkdirSync(manifests);
    fs.mkdirSync(yamlManifests);
    const objects = writeCluster(manifests, yamlManifests);
    if (!options.cliOnly) {
      step('the engine alone');
      console.log(header());
      await engineOnly(objects);
      step('offline phases in fresh processes');
      offlinePhases(questions[0], [
        { format: 'JSON', dir: manifests },
        { format: 'YAML', dir: yamlManifests },
      ]);
    }
    step('agent start with the cluster');
    const socket = path.join(dir, 'agent.sock');
    const agent = spawnAgent(ns, ['--node-name', 'node-0', '--manifests', manifests, '--pod-bridge', '', '--overlay', 'none', '--masquerade=false', '--cni-socket', '', '--health-listen', '', '--resync-interval', '0'], socket);
    try {
      await waitReady(agent, 300_000);
      const client = createAgentClient(socket, 30_000);
      try {
        if (!options.cliOnly) {
          step('the agent answering over its socket');
          await online(client, manifests, async () => (await client.status()).objectCounts.Pod ?? 0);
        } else {
          // The agent builds its model on the first question, as online() has it done before the CLI runs.
          await client.policyQuery({ kind: 'trace', ...questions[0] });
        }
      } finally {
        client.close();
      }
      const q = questions[0];
      const env = process.env;
      const bare = { ...process.env };
      delete bare.NODE_EXTRA_CA_CERTS;
      const state = bundleState();
      console.log(`\n${state}`);
      benchNote(state);
      const cases: StartupCase[] = [
        { name: 'node -e 0 (reference)', cmd: process.execPath, args: ['-e', '0'], env },
        { name: 'node -e 0, no CA bundle', cmd: process.execPath, args: ['-e', '0'], env: bare },
        { name: 'offline: weftctl --manifests', ...asExecutable(WEFTCTL, [...traceArgs(q), '--manifests', manifests]), env, target: TARGET },
        { name: 'online: weftctl --socket', ...asExecutable(WEFTCTL, [...traceArgs(q), '--socket', socket]), env, target: TARGET },
        { name: 'online: node weftctl.js --socket', cmd: process.execPath, args: [WEFTCTL, ...traceArgs(q), '--socket', socket], env, target: TARGET },
      ];
      compareStartups(`CLI process end to end: ${q.from} -> ${q.to} ${q.port}`, cases, RUNS);
      // A build beside the bench (dist/ written again) can change which one ran halfway.
      const after = bundleState();
      if (after !== state) {
        console.log(`  and after the runs: ${after}: the figures mix both`);
        benchNote(`after the runs: ${after}: the figures mix both`);
      }
      if (env.NODE_EXTRA_CA_CERTS) console.log(`  (this machine sets NODE_EXTRA_CA_CERTS, which weftctl's shebang drops: node parses that bundle at every start otherwise)`);
    } finally {
      await agent.stop();
    }
  } finally {
    deleteBenchNetns(ns);
    removeBenchDir(dir);
  }
}
