/**
 * One offline `weftctl policy trace` in a fresh process, phase by phase, as the CLI runs it
 * (cli/policy-source.ts): loading the modules, reading and parsing the manifests (YAML or JSON)
 * into objects, building the model, tracing (the model reads lazily: what a question reaches,
 * its namespaces' policies and the pods at its addresses, is read while tracing). The policy-trace bench runs it as a child:
 * `node dist/bench/trace-phases.js FROM TO PORT DIR...`, which prints the times as JSON. Times
 * in a fresh process are what a CLI pays: nothing is compiled or optimized yet.
 */

export interface TracePhases {
  /** From the process start to this module running (node's own start-up). */
  startMs: number;
  loadMs: number;
  readParseMs: number;
  modelMs: number;
  traceMs: number;
  verdict: string;
}

async function main([from, to, port, ...dirs]: string[]): Promise<TracePhases> {
  const startMs = performance.now();
  const [{ readManifests }, { answerPolicyQuery }, { PolicyModel }] = await Promise.all([import('../cli/manifests-dir'), import('../policy/explain/answer'), import('../policy/explain/model')]);
  const loaded = performance.now();
  const { store } = readManifests(dirs, '--manifests');
  const parsed = performance.now();
  let modelMs = 0;
  const reply = answerPolicyQuery({ kind: 'trace', from, to, port }, (futurePolicies) => {
    const began = performance.now();
    const model = PolicyModel.fromCache(store, { source: 'bench', futurePolicies });
    modelMs = performance.now() - began;
    return model;
  });
  const traceMs = performance.now() - parsed - modelMs;
  return { startMs, loadMs: loaded - startMs, readParseMs: parsed - loaded, modelMs, traceMs, verdict: reply.result.verdict };
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (phases) => process.stdout.write(`${JSON.stringify(phases)}\n`),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
