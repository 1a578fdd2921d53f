/**
 * `weftctl policy trace` latency at cluster scale: 1,000 policies over 5,000 pods
 * (policy-cluster.ts), offline (--manifests) and online (a real agent reading the same objects
 * from its manifests directory, asked over its socket). Target: under 100 ms.
 *
 * - Offline: the CLI process end to end (start, read and parse the manifests, build the model,
 *   trace, print), next to a bare `node -e 0`; the engine alone, in this process: building the
 *   model from the objects, and one trace on a built model.
 * - Online: the CLI process end to end against the agent, next to `node -e 0`; the gRPC call
 *   alone (the agent's model built); and the first question after a change of the agent's
 *   objects, when the agent builds its model again.
 * Median and p90 of 20 each (the first runs, which warm the JIT and the agent's model, are not
 * counted); traces alternate between pairs that are allowed and denied, in and across namespaces.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createAgentClient, type AgentClient } from '../agent/api/client';
import type { KubeObject } from '../agent/objects';
import { eventually, spawnAgent, waitReady } from '../lab/agent-process';
import type { TraceQuery } from '../policy/explain/answer';
import { PolicyModel } from '../policy/explain/model';
import { parsePortSpec } from '../policy/explain/query';
import { trace } from '../policy/explain/trace';
import { createBenchNetns, deleteBenchNetns, makeBenchDir, removeBenchDir } from './cleanup';
import { syntheticCluster } from './policy-cluster';
import { step } from './progress';
import { record } from './results';
import { compareStartups } from './startup';
import { header, row, summarize } from './stats';

const RUNS = 20;
const TARGET = { op: '<' as const, limit: 100 };
const WARM = 3;
const WEFTCTL = path.join(__dirname, '..', 'cli', 'weftctl.js');

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

function writeCluster(dir: string): KubeObject[] {
  const { namespaces, pods, policies } = syntheticCluster();
  for (const [name, items] of [['namespaces', namespaces], ['pods', pods], ['policies', policies]] as const) {
    fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
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

function cliArgs(q: Omit<TraceQuery, 'kind'>): string[] {
  return [WEFTCTL, 'policy', 'trace', '--from', q.from, '--to', q.to, '--port', q.port];
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
    fs.mkdirSync(manifests);
    const objects = writeCluster(manifests);
    if (!options.cliOnly) {
      step('the engine alone');
      console.log(header());
      await engineOnly(objects);
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
      compareStartups(
        `CLI process end to end: ${q.from} -> ${q.to} ${q.port}`,
        [
          { name: 'node -e 0 (reference)', cmd: process.execPath, args: ['-e', '0'], env },
          { name: 'offline: weftctl --manifests', cmd: process.execPath, args: [...cliArgs(q), '--manifests', manifests], env },
          { name: 'online: weftctl --socket', cmd: process.execPath, args: [...cliArgs(q), '--socket', socket], env },
        ],
        RUNS,
      );
    } finally {
      await agent.stop();
    }
  } finally {
    deleteBenchNetns(ns);
    removeBenchDir(dir);
  }
}
