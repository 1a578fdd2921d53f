/**
 * Where `weftctl policy trace|explain|matrix|what-if` get their answers. Offline
 * (--manifests): from manifest files and directories, here. Online (no --manifests): from the
 * agent over its socket (--socket, or --lab/--node), which answers from the objects it enforces.
 * Offline from a cluster (--kubeconfig): from its objects, listed once (cluster-objects.ts).
 * All run the same question through the same engine (policy/explain/answer.ts): the same
 * result, the same errors.
 *
 * Each side loads what it needs when it runs: offline the manifest reader (YAML) and the engine,
 * online the gRPC client (agent-socket.ts); neither pays for the other at start-up.
 */
import type { Argv } from 'yargs';
import type { ObjectStore } from '../policy/explain/object-store';
import type { PolicyQuery, PolicyReply } from '../policy/explain/answer';
import { agentOptions, askAgent, type AgentArgs, type StatusName } from './agent-socket';
import { UsageError } from './output';

export interface SourceArgs extends AgentArgs {
  manifests?: string[];
  kubeconfig?: string;
}

export function sourceOptions<T>(c: Argv<T>) {
  return agentOptions(
    c
      // A list option takes one value per use (`--manifests a --manifests b`), so that it does
      // not swallow a positional argument after it (`explain --manifests DIR NS/POD`).
      .parserConfiguration({ 'greedy-arrays': false, 'duplicate-arguments-array': true })
      .option('manifests', {
        type: 'string',
        array: true,
        describe:
          'answer offline from the objects (Namespaces, Pods, Nodes, NetworkPolicies, ClusterNetworkPolicies, Services, EndpointSlices) in this manifest directory or file (repeat for more); without it the agent answers (--socket, --lab)',
      })
      .option('kubeconfig', {
        type: 'string',
        describe: "answer offline from a cluster's objects, listed from the API server this kubeconfig names (no path: $KUBECONFIG, else ~/.kube/config)",
        coerce: once('kubeconfig'),
      }),
  );
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

/** Objects from manifests or from a cluster, and where they come from, for messages ("no pod x/y in --manifests DIR"). */
async function objectsOf(a: SourceArgs): Promise<{ objects: ObjectStore; source: string }> {
  const { ObjectStore } = await import('../policy/explain/object-store');
  if (a.kubeconfig !== undefined) {
    const { readClusterObjects } = await import('./cluster-objects');
    const { objects, warnings, server } = await readClusterObjects(a.kubeconfig);
    for (const w of warnings) warn(w);
    return { objects: ObjectStore.of(objects), source: `the cluster at ${server}` };
  }
  const manifests = a.manifests ?? [];
  const { readManifests } = await import('./manifests-dir');
  const { store, warnings } = readManifests(manifests, '--manifests');
  for (const w of warnings) warn(w);
  return { objects: store, source: `--manifests ${manifests.join(' ')}` };
}

async function offline(a: SourceArgs, query: PolicyQuery): Promise<PolicyReply> {
  const [{ objects, source }, { answerPolicyQuery }, { PolicyModel }] = await Promise.all([objectsOf(a), import('../policy/explain/answer'), import('../policy/explain/model')]);
  return answerPolicyQuery(query, (futurePolicies) => PolicyModel.fromCache(objects, { source, futurePolicies }));
}

/** gRPC statuses the agent answers a question it cannot answer with: its words are the message. */
const QUESTION_ERRORS: readonly StatusName[] = ['INVALID_ARGUMENT', 'NOT_FOUND'];

async function online(a: SourceArgs, query: PolicyQuery): Promise<PolicyReply> {
  const { socket, result } = await askAgent(a, (client) => client.policyQuery(query), QUESTION_ERRORS);
  try {
    return { result: JSON.parse(result.resultJson) as PolicyReply['result'], warnings: result.warnings };
  } catch (err) {
    throw new Error(`the agent at ${socket} answered with something that is not JSON: ${(err as Error).message}`);
  }
}

/**
 * The answer to `query`, offline or from the agent; warnings (objects left out, invalid
 * policies) go to stderr.
 */
export async function askPolicy<Q extends PolicyQuery>(a: SourceArgs, query: Q): Promise<PolicyReply<Q>['result']> {
  const manifests = a.manifests ?? [];
  const offlineFrom = [...(manifests.length > 0 ? ['--manifests'] : []), ...(a.kubeconfig !== undefined ? ['--kubeconfig'] : [])];
  if (offlineFrom.length > 1) throw new UsageError('--manifests and --kubeconfig: one or the other');
  if (offlineFrom.length > 0 && (a.socket !== undefined || a.lab !== undefined)) throw new UsageError(`${offlineFrom[0]} answers offline, --socket/--lab ask an agent: one or the other`);
  const reply = offlineFrom.length > 0 ? await offline(a, query) : await online(a, query);
  for (const w of reply.warnings) warn(w);
  return reply.result as PolicyReply<Q>['result'];
}
