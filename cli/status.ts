/**
 * `weftctl status`: what an agent is doing, from its gRPC Status: sources, objects it holds,
 * the last sync (when, how long, error), local endpoints, backend and rules.
 */
import type { Argv } from 'yargs';
import type { AgentStatus } from '../agent/api/messages';
import { agentOptions, askAgent, type AgentArgs } from './agent-socket';
import { OUTPUT_CHOICES, printJson, table, type OutputFormat } from './output';

interface StatusArgs extends AgentArgs {
  output: OutputFormat;
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

async function status(a: StatusArgs): Promise<void> {
  const { socket, result: st } = await askAgent(a, (client) => client.status());
  if (a.output === 'json') return printJson(st);
  process.stdout.write(statusText(st, socket));
}

export function statusCommand(y: Argv): Argv {
  return y.command(
    'status',
    'show what a weft-agent is doing (sources, objects, last sync, local endpoints)',
    (c) => agentOptions(c).option('output', { alias: 'o', choices: OUTPUT_CHOICES, default: 'table' as OutputFormat }),
    (a) => status(a as StatusArgs),
  );
}
