/**
 * `weftctl services [-n NS]`: the Services an agent proxies, port by port: frontends, endpoints
 * (pod, node, condition) and whether the kernel has each of them now, then the Services that
 * cannot be fully proxied. Asked of the agent (rpc Services), which reads its rules back.
 */
import type { Argv } from 'yargs';
import type { ServiceEndpointMessage, ServicePortMessage, ServicesResponseMessage } from '../agent/api/messages';
import { agentOptions, askAgent, type AgentArgs, type StatusName } from './agent-socket';
import { table } from './output';
import { outputOption } from './policy-source';
import { printReport, REPORT_FORMATS, type ReportFormat } from './structured-output';

interface ServicesArgs extends AgentArgs {
  namespace?: string;
  output: ReportFormat;
}

/** gRPC statuses whose details are the agent's own answer (not proxying, nothing applied yet). */
export const INSPECT_ANSWERS: readonly StatusName[] = ['NOT_FOUND', 'INVALID_ARGUMENT', 'FAILED_PRECONDITION'];

const hostPort = (address: string, port: number) => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

function frontendsText(p: ServicePortMessage): string {
  return p.frontends
    .map((f) => `${f.kind === 'node port' ? `node port ${f.port}` : `${f.kind} ${hostPort(f.address, f.port)}`}${f.inKernel ? '' : ' (MISSING from the kernel)'}`)
    .join(', ');
}

/** One row per endpoint address, saying which of the two lists it serves and whether the kernel has it for them. */
function endpointRows(p: ServicePortMessage): string[][] {
  const rows = new Map<string, { e: ServiceEndpointMessage; lists: string[]; missing: string[] }>();
  const add = (e: ServiceEndpointMessage, list: string) => {
    const key = hostPort(e.address, e.port);
    const row = rows.get(key) ?? { e, lists: [], missing: [] };
    row.lists.push(list);
    if (!e.inKernel) row.missing.push(list);
    rows.set(key, row);
  };
  for (const e of p.clusterEndpoints) add(e, 'cluster IP');
  for (const e of p.externalEndpoints) add(e, 'external');
  const both = p.externalEndpoints.length > 0 ? ['cluster IP', 'external'] : ['cluster IP'];
  return [...rows].map(([key, { e, lists, missing }]) => [
    key,
    e.pod || '-',
    e.local ? 'this node' : 'other',
    e.condition || '-',
    lists.length === both.length ? 'all' : lists.join(', '),
    missing.length === 0 ? 'yes' : `MISSING${missing.length < lists.length ? ` (${missing.join(', ')})` : ''}`,
  ]);
}

function portBlock(p: ServicePortMessage): string {
  const name = `${p.service}${p.portName ? ` port ${p.portName}` : ''} ${p.frontends[0]?.port ?? ''}/${p.protocol} IPv${p.family}`;
  const lines = [`${name}: ${p.inKernel ? 'in the kernel' : 'NOT fully in the kernel'}`, `  frontends: ${frontendsText(p)}`];
  if (p.notes.length > 0) lines.push(`  ${p.notes.join('; ')}`);
  const rows = endpointRows(p);
  // Without rows, the notes already say why (no endpoints, or none this node may use).
  if (rows.length > 0) lines.push(...table(['ENDPOINT', 'POD', 'NODE', 'CONDITION', 'SERVES', 'KERNEL'], rows).split('\n').map((l) => `  ${l}`));
  return lines.join('\n');
}

export function servicesText(r: ServicesResponseMessage, namespace?: string): string {
  const where = namespace ? ` in namespace ${namespace}` : '';
  const missing = r.ports.filter((p) => !p.inKernel).length;
  const nodePorts = r.nodePortAddresses.length > 0 ? `node ports on ${r.nodePortAddresses.join(', ')}` : 'no node ports';
  const head =
    r.ports.length === 0
      ? `node ${r.nodeName} (${r.backend}) proxies no Service${where}`
      : `node ${r.nodeName} (${r.backend}): ${r.ports.length} service port${r.ports.length === 1 ? '' : 's'}${where}, ${missing === 0 ? 'all' : `${r.ports.length - missing} of them`} in the kernel; ${nodePorts}`;
  const parts = [head, ...r.ports.map(portBlock)];
  if (r.problems.length > 0) parts.push(`Not fully proxied:\n${table(['OBJECT', 'PROBLEM'], r.problems.map((p) => [p.object, p.reason]))}`);
  return `${parts.join('\n\n')}\n`;
}

async function run(a: ServicesArgs): Promise<void> {
  const { result } = await askAgent(a, (client) => client.services(a.namespace ?? ''), INSPECT_ANSWERS);
  printReport(a.output, result, (r) => servicesText(r, a.namespace));
}

export function servicesCommand(y: Argv): Argv {
  return y.command(
    'services',
    'the Services an agent proxies: frontends, endpoints, and whether each is in the kernel now',
    (c) => outputOption(agentOptions(c).option('namespace', { alias: 'n', type: 'string', describe: 'only this namespace' }), REPORT_FORMATS),
    (a) => run(a as unknown as ServicesArgs),
  );
}
