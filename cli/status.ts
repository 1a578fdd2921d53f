/**
 * `weftctl status`: what an agent is doing, from its gRPC Status: sources, objects it holds,
 * the last sync (when, how long, error), local endpoints, backend and rules.
 */
import fs from 'node:fs';
import type { Argv } from 'yargs';
import { createAgentClient } from '../agent/api/client';
import type { AgentStatus } from '../agent/api/messages';
import { openLab } from '../lab/cluster/inspect';
import { stateRoot } from '../lab/cluster/names';
import { OUTPUT_CHOICES, printJson, table, type OutputFormat } from './output';

export const DEFAULT_AGENT_SOCKET = '/run/weft/agent.sock';

interface StatusArgs {
  socket?: string;
  lab?: string;
  node?: string;
  'state-root'?: string;
  output: OutputFormat;
  timeout: number;
}

function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

export function statusText(st: AgentStatus, socket: string): string {
  const sync = st.sync ?? { lastSyncUnixMs: 0, lastSyncDurationMs: 0, lastError: '' };
  const last = Number(sync.lastSyncUnixMs) > 0 ? `${new Date(Number(sync.lastSyncUnixMs)).toISOString()} (${ago(Number(sync.lastSyncUnixMs))}), took ${Number(sync.lastSyncDurationMs).toFixed(1)} ms` : 'never';
  const lines = [
    table(
      ['AGENT', ''],
      [
        ['node', st.nodeName],
        ['socket', socket],
        ['ready', st.ready ? 'yes' : 'no'],
        ['backend', `${st.backend} (${st.rulesLocation}), ${st.rules} rules`],
        ['last sync', last],
        ['last error', sync.lastError || '-'],
        ['local endpoints', String(st.localEndpoints)],
      ],
    ),
    '',
    table(['SOURCE', 'SYNCED', 'SKIPPED'], (st.sources ?? []).map((s) => [s.description, s.synced ? 'yes' : 'no', String(s.skipped)])),
    '',
    table(['KIND', 'OBJECTS'], Object.entries(st.objectCounts ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => [k, String(n)])),
  ];
  return `${lines.join('\n')}\n`;
}

function socketOf(a: StatusArgs): string {
  if (a.socket) return a.socket;
  if (a.lab) {
    const { state } = openLab(a.lab, stateRoot(a['state-root']));
    const node = state.nodes.find((n) => n.name === (a.node ?? state.nodes[0]?.name));
    if (!node?.agent) throw new Error(`lab ${a.lab} has no agent for node ${a.node ?? '(first)'}`);
    return node.agent.socket;
  }
  return DEFAULT_AGENT_SOCKET;
}

async function status(a: StatusArgs): Promise<void> {
  const socket = socketOf(a);
  if (!fs.existsSync(socket)) throw new Error(`no agent socket at ${socket} (is weft-agent running? --socket PATH)`);
  const client = createAgentClient(socket, a.timeout * 1000);
  let st: AgentStatus;
  try {
    st = await client.status();
  } catch (err) {
    const why = (err as { details?: string }).details || (err as Error).message;
    throw new Error(`no answer from the agent at ${socket}: ${why}`, { cause: err });
  } finally {
    client.close();
  }
  if (a.output === 'json') return printJson(st);
  process.stdout.write(statusText(st, socket));
}

export function statusCommand(y: Argv): Argv {
  return y.command(
    'status',
    'show what a weft-agent is doing (sources, objects, last sync, local endpoints)',
    (c) =>
      c
        .option('socket', { type: 'string', describe: `the agent's API socket (default ${DEFAULT_AGENT_SOCKET})` })
        .option('lab', { type: 'string', describe: 'the agent of a lab node instead (with --node; the first node by default)' })
        .option('node', { type: 'string', describe: 'lab node (with --lab)' })
        .option('state-root', { type: 'string', describe: 'lab state root (with --lab)' })
        .option('timeout', { type: 'number', default: 5, describe: 'seconds to wait for an answer' })
        .option('output', { alias: 'o', choices: OUTPUT_CHOICES, default: 'table' as OutputFormat }),
    (a) => status(a as StatusArgs),
  );
}
