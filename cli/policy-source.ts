/**
 * Where `weftctl policy trace|explain|matrix|what-if` get their answers. Offline
 * (--manifests): from manifest files and directories, here. Online (no --manifests): from the
 * agent over its socket (--socket, or --lab/--node), which answers from the objects it enforces.
 * Both run the same question through the same engine (policy/explain/answer.ts): the same
 * result, the same errors. Next: --kubeconfig (a cluster's objects, offline).
 *
 * Each side loads what it needs when it runs: offline the manifest reader (YAML) and the engine,
 * online the gRPC client (agent-socket.ts); neither pays for the other at start-up.
 */
import type { Argv } from 'yargs';
import type { PolicyQuery, PolicyReply } from '../policy/explain/answer';
import { agentOptions, askAgent, type AgentArgs, type StatusName } from './agent-socket';
import { UsageError } from './output';

export interface SourceArgs extends AgentArgs {
  manifests?: string[];
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

async function offline(manifests: string[], query: PolicyQuery): Promise<PolicyReply> {
  const [{ readManifests }, { answerPolicyQuery }, { PolicyModel }] = await Promise.all([import('./manifests-dir'), import('../policy/explain/answer'), import('../policy/explain/model')]);
  const { objects, warnings } = readManifests(manifests, '--manifests');
  for (const w of warnings) warn(w);
  const source = `--manifests ${manifests.join(' ')}`;
  return answerPolicyQuery(query, (futurePolicies) => PolicyModel.fromObjects(objects, { source, futurePolicies }));
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
  if (manifests.length > 0 && (a.socket !== undefined || a.lab !== undefined)) throw new UsageError('--manifests answers offline, --socket/--lab ask an agent: one or the other');
  const reply = manifests.length > 0 ? await offline(manifests, query) : await online(a, query);
  for (const w of reply.warnings) warn(w);
  return reply.result as PolicyReply<Q>['result'];
}
