/**
 * The lab of the weftctl inspection tests (services, rules, policy drops): 2 nodes of 2 pods on
 * one backend, with Services of every shape weftctl services shows (node port and external IP,
 * affinity with externalTrafficPolicy Local, no endpoints) and a Service problem; helpers to
 * ask node-0's agent and to reach its kernel behind the agent's back.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import type { KernelEntryMessage, ServicesResponseMessage } from '../../agent/api/messages';
import type { KubeObject } from '../../agent/objects';
import { execTool, systemBinary } from '../../kernel/exec';
import { labApply } from '../../lab/cluster/apply';
import { openLab } from '../../lab/cluster/inspect';
import { WHOAMI_PORT } from '../../lab/cluster/pod-server';
import type { AgentBackend } from '../../lab/cluster/state';
import { labUp } from '../../lab/cluster/up';
import { eventually } from '../helpers/agent-process';
import { tempDir } from '../helpers/tmp';
import { labName, labRoot, weftctlOk } from './lab-fixture';

export const service = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec });
export const WHO = { name: 'who', port: 80, targetPort: WHOAMI_PORT, protocol: 'TCP' };

export const INSPECT_SERVICES: KubeObject[] = [
  // The first external IP is not one: reported, and the second is served.
  service('who', { type: 'NodePort', selector: { app: 'web' }, externalIPs: ['not-an-ip', '198.51.100.7'], ports: [WHO, { name: 'udp', port: 81, targetPort: 81, protocol: 'UDP' }] }),
  service('sticky', { selector: { app: 'web' }, sessionAffinity: 'ClientIP', externalTrafficPolicy: 'Local', type: 'NodePort', ports: [WHO] }),
  service('nothing', { selector: { app: 'nobody' }, ports: [WHO] }),
];

/** pod-0-1 (node-0) admits TCP 80 from pod-1-0 only. */
export const ISOLATE_POD_0_1: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'pod-0-1-from-pod-1-0', namespace: 'default' },
  spec: { podSelector: { matchLabels: { name: 'pod-0-1' } }, ingress: [{ from: [{ podSelector: { matchLabels: { name: 'pod-1-0' } } }], ports: [{ port: 80, protocol: 'TCP' }] }] },
};

/** The packets the kernel counted for the entries `pick` chooses; throws (saying what there is) when none is counted. */
export function countedPackets(entries: readonly KernelEntryMessage[], pick: (e: KernelEntryMessage) => boolean, what: string): number {
  const found = entries.filter(pick);
  if (found.length === 0 || found.some((e) => !e.counted)) throw new Error(`no counted ${what} in ${JSON.stringify(entries.map((e) => `${e.location} ${e.text}: ${e.meaning}`), null, 1)}`);
  return found.reduce((n, e) => n + e.packets, 0);
}

/** A 2-node lab with the services above, and the agents' answer once every port is in. */
export async function inspectLab(t: ExecutionContext, backend: AgentBackend, label: string) {
  const lab = labName(`${label}${backend[0]}`);
  const root = labRoot(t, lab);
  await labUp({ name: lab, root, nodes: 2, podsPerNode: 2, ports: [80, 81], backend });
  const files = tempDir(t, label);
  const apply = async (file: string, objects: KubeObject[]) => {
    const full = path.join(files, file);
    fs.writeFileSync(full, objects.map((o) => JSON.stringify(o)).join('\n---\n'));
    await labApply({ name: lab, root, files: [full] });
  };
  await apply('services.yaml', INSPECT_SERVICES);
  const services = async (...args: string[]) => JSON.parse(await weftctlOk(t, root, ['services', '--lab', lab, '-o', 'json', ...args])) as ServicesResponseMessage;
  await eventually('the agent of node-0 to proxy every service port', async () => {
    const r = await services();
    return r.ports.length === 4 && r.ports.every((p) => p.inKernel && p.clusterEndpoints.length === (p.service === 'default/nothing' ? 0 : 4)) ? r : undefined;
  }, 30_000);
  const { state } = openLab(lab, root);
  const node0 = state.nodes[0].netns;
  /** A kernel tool in node-0's namespace, behind the agent's back. */
  const kernel = async (tool: string, args: string[]) => {
    const r = await execTool(systemBinary(tool), args, { netns: node0 });
    if (r.code !== 0) throw new Error(`${tool} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const pod = (name: string) => state.pods.find((p) => p.name === name)!;
  /** weftctl with --lab and node-0's agent, its stdout. */
  const ask = (...args: string[]) => weftctlOk(t, root, [...args, '--lab', lab]);
  return { lab, root, state, apply, services, kernel, pod, ask };
}

