/**
 * Where `weftctl policy trace|explain|matrix|what-if` get their objects. Offline, today:
 * manifest files and directories (--manifests). The same questions online (the agent's socket,
 * answering from what it enforces) or from a cluster (--kubeconfig) need only another way to
 * get KubeObjects here: the engine (policy/explain/) takes plain objects.
 */
import type { Argv } from 'yargs';
import type { KubeObject } from '../agent/objects';
import { PolicyModel } from '../policy/explain/model';
import { readManifests } from './manifests-dir';
import { UsageError } from './output';

export interface SourceArgs {
  manifests?: string[];
}

export function sourceOptions<T>(c: Argv<T>) {
  return (
    c
      // A list option takes one value per use (`--manifests a --manifests b`), so that it does
      // not swallow a positional argument after it (`explain --manifests DIR NS/POD`).
      .parserConfiguration({ 'greedy-arrays': false, 'duplicate-arguments-array': true })
      .option('manifests', {
        type: 'string',
        array: true,
        describe: 'answer offline from the objects (Namespaces, Pods, NetworkPolicies, Services, EndpointSlices) in this manifest directory or file (repeat for more)',
      })
  );
  // Next: --kubeconfig (a cluster's objects) and --socket/--lab (online, the agent's view).
}

/**
 * For an option that takes one value: with list options taking one value per use (above), a
 * repeated single option would arrive as a list; it is refused instead.
 */
export function once(name: string): (value: unknown) => unknown {
  return (value) => {
    if (Array.isArray(value)) throw new UsageError(`--${name} may be given once`);
    return value;
  };
}

/** `-o`: a table for people, or other formats (`choices`). */
export function outputOption<T, F extends string>(c: Argv<T>, choices: readonly F[]) {
  return c.option('output', { alias: 'o', choices, default: choices[0], describe: 'output format', coerce: once('output') });
}

export function warn(text: string): void {
  process.stderr.write(`weftctl: warning: ${text}\n`);
}

/** The objects, indexed once; `futurePolicies` are policies a what-if will add. */
export function loadModel(a: SourceArgs, futurePolicies: readonly KubeObject[] = []): PolicyModel {
  if (!a.manifests || a.manifests.length === 0) throw new UsageError('which objects? --manifests DIR (asking the agent or a cluster is not implemented yet)');
  const { objects, warnings } = readManifests(a.manifests, '--manifests');
  const model = PolicyModel.fromObjects(objects, { source: `--manifests ${a.manifests.join(' ')}`, futurePolicies });
  for (const w of warnings) warn(w);
  for (const p of model.problems) warn(`NetworkPolicy ${p.policy} is invalid (the API server would refuse it) and plays no part: ${p.reason}`);
  return model;
}
