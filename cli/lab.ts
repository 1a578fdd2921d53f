/**
 * `weftctl lab ...`: a multi-node cluster of network namespaces on this machine (lab/cluster):
 * up, apply, probe, get, exec, node add/remove, down, list.
 */
import fs from 'node:fs';
import net from 'node:net';
import type { Argv } from 'yargs';
import { labApply, type ApplyChange } from '../lab/cluster/apply';
import { labDown, labsWithNamespaces } from '../lab/cluster/down';
import { labAddNode, labRemoveNode } from '../lab/cluster/membership';
import { execIn, findPod, nodeRows, openLab, podRows, serviceRows } from '../lab/cluster/inspect';
import { stateRoot } from '../lab/cluster/names';
import { probeMatrix, probeTarget, type Protocol, type ProbeMatrix } from '../lab/cluster/probe';
import { DEFAULT_PORTS, labUp } from '../lab/cluster/up';
import type { AgentBackend } from '../lab/cluster/state';
import type { OverlayMode } from '../overlay/mtu';
import { labelsText, OUTPUT_CHOICES, printJson, table, UsageError, type OutputFormat } from './output';

export const DEFAULT_LAB = 'weft';

interface LabArgs {
  name: string;
  'state-root'?: string;
  output: OutputFormat;
}

function labOptions<T>(y: Argv<T>) {
  return y
    .option('name', { type: 'string', default: process.env.WEFT_LAB || DEFAULT_LAB, describe: 'lab name (env WEFT_LAB)', defaultDescription: `"${DEFAULT_LAB}"` })
    .option('state-root', { type: 'string', describe: 'where labs keep their state (env WEFT_LAB_ROOT; default /run/weft/lab)' })
    .option('output', { alias: 'o', choices: OUTPUT_CHOICES, default: 'table' as OutputFormat, describe: 'output format' });
}

const rootOf = (a: LabArgs) => stateRoot(a['state-root']);

function parsePorts(text: string): number[] {
  const ports = text.split(',').map((s) => Number(s.trim()));
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new UsageError(`invalid --ports ${JSON.stringify(text)} (e.g. 80,81)`);
  return [...new Set(ports)];
}

const ms = (n: number) => `${(n / 1000).toFixed(2)} s`;

async function up(a: LabArgs & { nodes: number; 'pods-per-node': number; ports: string; 'agent-timeout': number; overlay: OverlayMode; backend: AgentBackend }): Promise<void> {
  const progress = a.output === 'json' ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  const { state, timings } = await labUp({
    name: a.name,
    root: rootOf(a),
    nodes: a.nodes,
    podsPerNode: a['pods-per-node'],
    ports: parsePorts(a.ports),
    overlay: a.overlay,
    backend: a.backend,
    agentTimeoutMs: a['agent-timeout'] * 1000,
    progress,
  });
  if (a.output === 'json') {
    printJson({ name: state.name, nodes: nodeRows(state), pods: podRows(state), timings });
    return;
  }
  process.stdout.write(`lab ${state.name} is up in ${ms(timings.totalMs)}: ${state.nodes.length} node(s), ${state.pods.length} pod(s), IPv4+IPv6 pods\n\n`);
  printPods(a, state);
}

function printPods(a: LabArgs, state: ReturnType<typeof openLab>['state']): void {
  const rows = podRows(state);
  if (a.output === 'json') return printJson(rows);
  const wide = a.output === 'wide';
  const headers = ['NAMESPACE', 'NAME', 'NODE', 'IPS', ...(wide ? ['PORTS', 'SERVER', 'NETNS'] : []), 'LABELS'];
  process.stdout.write(
    `${table(
      headers,
      rows.map((r) => [
        r.namespace,
        r.name,
        r.node,
        r.ips.join(','),
        ...(wide ? [`tcp:${r.tcp.join(',') || '-'} udp:${r.udp.join(',') || '-'}`, r.serverAlive ? 'running' : 'DEAD', r.netns] : []),
        labelsText(r.labels),
      ]),
    )}\n`,
  );
}

function get(a: LabArgs & { what: string }): void {
  const { state, manifests } = openLab(a.name, rootOf(a));
  if (a.what === 'pods') return printPods(a, state);
  if (a.what === 'nodes') {
    const rows = nodeRows(state);
    if (a.output === 'json') return printJson(rows);
    const wide = a.output === 'wide';
    process.stdout.write(
      `${table(
        ['NAME', 'UNDERLAY', 'POD CIDRS', 'PODS', 'AGENT PID', 'AGENT', ...(wide ? ['SOCKET', 'NETNS'] : [])],
        rows.map((r) => [
          r.name,
          r.underlayIPs.join(','),
          r.podCIDRs.join(','),
          String(r.pods),
          String(r.agentPid ?? '-'),
          r.agentAlive ? 'running' : 'DEAD',
          ...(wide ? [r.agentSocket ?? '-', r.netns] : []),
        ]),
      )}\n`,
    );
    return;
  }
  const rows = serviceRows(manifests);
  if (a.output === 'json') return printJson(rows);
  if (rows.length === 0) {
    process.stdout.write('no services\n');
    return;
  }
  process.stdout.write(
    `${table(
      ['NAMESPACE', 'NAME', 'TYPE', 'CLUSTER-IP', 'PORTS', 'SELECTOR', 'ENDPOINTS'],
      rows.map((r) => [r.namespace, r.name, r.type, r.clusterIP, r.ports.join(',') || '-', labelsText(r.selector), r.endpoints.join(',') || '<none>']),
    )}\n`,
  );
}

function changeLine(c: ApplyChange): string {
  const ns = c.namespace && c.namespace !== 'default' ? ` -n ${c.namespace}` : '';
  return `${c.kind.toLowerCase()}/${c.name}${ns} ${c.action}${c.detail ? ` (${c.detail})` : ''}`;
}

async function apply(a: LabArgs & { filename: string[]; delete: boolean }): Promise<void> {
  const changes = await labApply({ name: a.name, root: rootOf(a), files: a.filename, delete: a.delete });
  if (a.output === 'json') return printJson(changes);
  for (const c of changes) process.stdout.write(`${changeLine(c)}\n`);
}

/** The matrix with numbered columns: pod names are too long to head columns. */
export function matrixText(m: ProbeMatrix, wide: boolean): string {
  const index = new Map(m.pods.map((p, i) => [p, String(i + 1)]));
  const headers = ['', 'FROM \\ TO', ...m.pods.map((p) => index.get(p) as string)];
  const rows = m.pods.map((client) => [index.get(client) as string, client, ...m.pods.map((server) => (m.cells[client]?.[server]?.ok ? 'ok' : '-'))]);
  const ok = m.pods.reduce((n, c) => n + m.pods.filter((s) => m.cells[c]?.[s]?.ok).length, 0);
  let text = `${m.protocol} port ${m.port} over IPv${m.family} (rows: client, columns: server; ok = answered with the server's namespace/name)\n`;
  text += `${table(headers, rows)}\n${ok} of ${m.pods.length * m.pods.length} ok, probed in ${ms(m.durationMs)}\n`;
  if (wide) {
    const failures = m.pods.flatMap((c) => m.pods.filter((s) => !m.cells[c]?.[s]?.ok).map((s) => [c, s, m.cells[c]?.[s]?.detail ?? '']));
    if (failures.length > 0) text += `\n${table(['FROM', 'TO', 'WHY'], failures)}\n`;
  }
  return text;
}

/** A --to target: an IP address, or a Service of the lab (NS/NAME, or NAME in default) by its cluster IP. */
function targetAddress(manifests: string, to: string): { host: string; what: string } {
  if (net.isIP(to)) return { host: to, what: to };
  const [namespace, name] = to.includes('/') ? to.split('/', 2) : ['default', to];
  const svc = serviceRows(manifests).find((s) => s.namespace === namespace && s.name === name);
  if (!svc) throw new UsageError(`--to ${JSON.stringify(to)}: no such Service in the lab, and not an IP address`);
  if (!net.isIP(svc.clusterIP)) throw new UsageError(`--to ${to}: the Service has no cluster IP (${svc.clusterIP || 'none'})`);
  return { host: svc.clusterIP, what: `service/${namespace}/${name} (${svc.clusterIP})` };
}

async function probeTo(a: LabArgs & { port: number; timeout: number; to: string; count: number }, protocol: Protocol): Promise<void> {
  const { state, manifests } = openLab(a.name, rootOf(a));
  if (!Number.isInteger(a.count) || a.count < 1 || a.count > 1000) throw new UsageError(`invalid --count ${a.count} (1 to 1000)`);
  const target = targetAddress(manifests, a.to);
  const rows = await probeTarget(state, target.host, { port: a.port, protocol, timeoutMs: a.timeout, count: a.count });
  if (a.output === 'json') return printJson(rows);
  const spread = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort(([x], [y]) => (x < y ? -1 : 1))
      .map(([k, n]) => `${k} x${n}`)
      .join(', ');
  process.stdout.write(`${a.count} ${protocol} probes per pod to ${target.what} port ${a.port}\n`);
  process.stdout.write(table(['FROM', 'ANSWERED BY'], Object.entries(rows).map(([client, counts]) => [client, spread(counts)])));
}

async function probe(a: LabArgs & { port: number; protocol: string; family: number; timeout: number; to?: string; count: number }): Promise<void> {
  const { state } = openLab(a.name, rootOf(a));
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) throw new UsageError(`invalid --port ${a.port}`);
  const protocol = a.protocol.toUpperCase();
  if (protocol !== 'TCP' && protocol !== 'UDP') throw new UsageError(`invalid --protocol ${JSON.stringify(a.protocol)} (TCP or UDP)`);
  if (a.to !== undefined) return probeTo({ ...a, to: a.to }, protocol);
  const m = await probeMatrix(state, { port: a.port, protocol, family: a.family === 6 ? 6 : 4, timeoutMs: a.timeout });
  if (a.output === 'json') {
    const out: Record<string, Record<string, boolean>> = {};
    for (const c of m.pods) out[c] = Object.fromEntries(m.pods.map((s) => [s, m.cells[c]?.[s]?.ok === true]));
    return printJson(out);
  }
  process.stdout.write(matrixText(m, a.output === 'wide'));
}

async function exec(a: LabArgs & { pod?: string; node?: string; '--'?: (string | number)[]; cmd?: string[] }): Promise<void> {
  const { state } = openLab(a.name, rootOf(a));
  const argv = [...(a.cmd ?? []), ...(a['--'] ?? [])].map(String);
  let netns: string;
  if (a.node) {
    const node = state.nodes.find((n) => n.name === a.node);
    if (!node) throw new Error(`node ${a.node} not found in lab ${a.name} (${state.nodes.map((n) => n.name).join(', ')})`);
    netns = node.netns;
  } else if (a.pod) netns = findPod(state, a.pod).netns;
  else throw new UsageError('give a pod (NS/POD) or --node NODE');
  // Ctrl-C is for the command; weftctl waits for it and passes its status on.
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  try {
    process.exitCode = await execIn(netns, argv);
  } finally {
    process.off('SIGINT', ignore);
  }
}

async function addNode(a: LabArgs & { pods: number; 'agent-timeout': number }): Promise<void> {
  const started = performance.now();
  const { node, pods } = await labAddNode({ name: a.name, root: rootOf(a), pods: a.pods, agentTimeoutMs: a['agent-timeout'] * 1000 });
  if (a.output === 'json') return printJson({ node: node.name, underlayIPs: [node.underlay.v4, node.underlay.v6], podCIDRs: [node.podCIDRs.v4, node.podCIDRs.v6], pods: pods.map((p) => ({ namespace: p.namespace, name: p.name, ips: p.ips })), durationMs: performance.now() - started });
  process.stdout.write(`node/${node.name} added in ${ms(performance.now() - started)} (underlay ${node.underlay.v4}, pod CIDRs ${node.podCIDRs.v4},${node.podCIDRs.v6})\n`);
  for (const p of pods) process.stdout.write(`pod/${p.name} created (${p.node} ${p.ips.join(',')})\n`);
}

async function removeNode(a: LabArgs & { node: string }): Promise<void> {
  const started = performance.now();
  const removed = await labRemoveNode({ name: a.name, root: rootOf(a), node: a.node });
  if (a.output === 'json') return printJson({ ...removed, durationMs: performance.now() - started });
  for (const p of removed.pods) process.stdout.write(`pod/${p} deleted\n`);
  process.stdout.write(`node/${removed.node} removed in ${ms(performance.now() - started)}\n`);
}

async function down(a: LabArgs): Promise<void> {
  const started = performance.now();
  const report = await labDown(a.name, rootOf(a));
  if (a.output === 'json') return printJson({ name: a.name, ...report, durationMs: performance.now() - started });
  process.stdout.write(
    report.existed
      ? `lab ${a.name} removed in ${ms(performance.now() - started)} (${report.pods} pod(s), ${report.namespaces} namespace(s))\n`
      : `lab ${a.name} does not exist; nothing to remove\n`,
  );
}

function list(a: LabArgs): void {
  const root = rootOf(a);
  let dirs: string[] = [];
  try {
    dirs = fs.readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    dirs = [];
  }
  const withNs = labsWithNamespaces();
  const names = [...new Set([...dirs, ...withNs])].sort();
  const rows = names.map((name) => {
    try {
      const { state } = openLab(name, root);
      return { name, phase: state.phase as string, nodes: state.nodes.length, pods: state.pods.length, namespaces: withNs.includes(name) };
    } catch {
      // namespaces without state under this root (another root, or a crash)
      return { name, phase: 'no state (lab down removes what is left)', nodes: 0, pods: 0, namespaces: withNs.includes(name) };
    }
  });
  if (a.output === 'json') return printJson(rows);
  if (rows.length === 0) {
    process.stdout.write(`no labs (state root ${root})\n`);
    return;
  }
  process.stdout.write(`${table(['NAME', 'PHASE', 'NODES', 'PODS'], rows.map((r) => [r.name, r.phase, String(r.nodes), String(r.pods)]))}\n`);
}

export function labCommand(y: Argv): Argv {
  return y.command('lab', 'a multi-node cluster of network namespaces on this machine', (lab) =>
    labOptions(lab)
      .command(
        'up',
        'create a lab: an underlay switch, nodes with a weft-agent each, pods attached through CNI',
        (c) =>
          c
            .option('nodes', { type: 'number', default: 2, describe: 'number of nodes' })
            .option('pods-per-node', { type: 'number', default: 2, describe: 'default pods per node (default/pod-<node>-<i>, label app=web)' })
            .option('ports', { type: 'string', default: DEFAULT_PORTS.join(','), describe: 'ports pods serve on TCP and UDP when they declare none' })
            .option('agent-timeout', { type: 'number', default: 30, describe: 'seconds to wait for each agent to be ready' })
            .option('overlay', { choices: ['vxlan', 'host-gw', 'hybrid'] as const, default: 'vxlan' as const, describe: 'how the agents route between nodes (the nodes share one L2 segment, so hybrid routes directly)' })
            .option('backend', { choices: ['nftables', 'iptables'] as const, default: 'nftables' as const, describe: 'how the agents write their rules (weft-agent --backend)' }),
        (a) => up(a),
      )
      .command(
        'apply',
        'create, update or delete objects as kubectl apply / delete -f would (Pods are scheduled and attached)',
        (c) =>
          c
            .option('filename', { alias: 'f', type: 'string', array: true, demandOption: true, describe: 'file or directory of manifests ("-" for stdin)' })
            .option('delete', { type: 'boolean', default: false, describe: 'delete the objects named in the files instead' }),
        (a) => apply(a),
      )
      .command(
        'probe',
        'connect from every pod to every pod and print the matrix (with --to: from every pod to one Service or address)',
        (c) =>
          c
            .option('port', { type: 'number', default: 80 })
            .option('protocol', { type: 'string', default: 'TCP', describe: 'TCP or UDP' })
            .option('family', { type: 'number', choices: [4, 6], default: 4, describe: 'probe the pods\' IPv4 or IPv6 addresses' })
            .option('timeout', { type: 'number', default: 1000, describe: 'milliseconds per connection' })
            .option('to', { type: 'string', describe: 'probe this target from every pod instead: a Service (NS/NAME) or an address' })
            .option('count', { type: 'number', default: 10, describe: 'with --to: probes per pod' }),
        (a) => probe(a),
      )
      .command(
        'get <what>',
        'list pods, nodes or services',
        (c) => c.positional('what', { choices: ['pods', 'nodes', 'services'] as const, demandOption: true, describe: 'what to list' }),
        (a) => get(a),
      )
      .command(
        'exec [pod] [cmd..]',
        'run a command in a pod\'s (or with --node, a node\'s) network namespace: lab exec NS/POD -- CMD ARGS',
        (c) =>
          c
            .positional('pod', { type: 'string', describe: 'NS/POD, or POD in namespace default' })
            .positional('cmd', { type: 'string', array: true })
            .option('node', { type: 'string', describe: 'run in this node\'s namespace instead' })
            .parserConfiguration({ 'populate--': true, 'unknown-options-as-args': true }),
        (a) => exec(a),
      )
      .command('node', 'add a node to a running lab, or remove one (the other agents follow the Node objects)', (node) =>
        node
          .command(
            'add',
            'add a node with its own agent, registered as a new Node object',
            (c) =>
              c
                .option('pods', { type: 'number', default: 0, describe: 'default pods to start on it (default/pod-<node>-<i>)' })
                .option('agent-timeout', { type: 'number', default: 30, describe: 'seconds to wait for its agent to be ready' }),
            (a) => addNode(a),
          )
          .command(
            'remove <node>',
            'delete a node\'s pods and its Node object, then the node itself',
            (c) => c.positional('node', { type: 'string', demandOption: true, describe: 'node name, e.g. node-2' }),
            (a) => removeNode(a),
          )
          .demandCommand(1, 'which node command? (add, remove)'),
      )
      .command('down', 'remove a lab and everything it created (succeeds when there is none)', (c) => c, (a) => down(a))
      .command('list', 'list the labs on this machine', (c) => c, (a) => list(a))
      .demandCommand(1, 'which lab command? (up, apply, probe, get, exec, node, down, list)'),
  );
}
