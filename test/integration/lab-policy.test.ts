/**
 * NetworkPolicy enforced end to end in a 2-node lab (agents, policy compiler, nftables): a
 * policy isolating one pod lets through exactly the pod, port and protocol it names, from the
 * same node and across nodes; changing a label changes who gets through; deleting the policy
 * opens the pod again.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { KubeObject } from '../../agent/objects';
import { labApply } from '../../lab/cluster/apply';
import { openLab } from '../../lab/cluster/inspect';
import { probeMatrix, type Protocol } from '../../lab/cluster/probe';
import { labUp } from '../../lab/cluster/up';
import { withNetlink } from '../../kernel/netlink';
import { runIn } from '../../lab/probe';
import { eventually } from '../helpers/agent-process';
import { tempDir } from '../helpers/tmp';
import { labName, labRoot, weftctlOk } from './lab-fixture';

const policy: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'only-pod-1-0', namespace: 'default' },
  spec: {
    podSelector: { matchLabels: { name: 'pod-0-1' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 'tcp-80', protocol: 'TCP' }] }],
  },
};

/** Pairs (client -> server) that answer, for one protocol and port; self-connections left out. */
async function open(root: string, lab: string, protocol: Protocol, port: number): Promise<string[]> {
  const { state } = openLab(lab, root);
  const m = await probeMatrix(state, { port, protocol, family: 4, timeoutMs: 400 });
  return m.pods.flatMap((c) => m.pods.filter((s) => s !== c && m.cells[c][s].ok).map((s) => `${c.split('/')[1]}>${s.split('/')[1]}`)).sort();
}

const everyPair = (pods: string[]) => pods.flatMap((c) => pods.filter((s) => s !== c).map((s) => `${c}>${s}`)).sort();

test('a policy isolates one pod: only the selected peer, port and protocol get through, on its node and across nodes', async (t) => {
  const lab = labName('pol');
  const root = labRoot(t, lab);
  await labUp({ name: lab, root, nodes: 2, podsPerNode: 2, ports: [80, 81] });
  const pods = ['pod-0-0', 'pod-0-1', 'pod-1-0', 'pod-1-1'];
  const files = tempDir(t, 'pol');
  const write = (name: string, objects: KubeObject[]) => {
    const file = path.join(files, name);
    fs.writeFileSync(file, objects.map((o) => JSON.stringify(o)).join('\n---\n'));
    return file;
  };
  const relabel = (name: string, labels: Record<string, string>) => {
    const { object } = openLab(lab, root).state.pods.find((p) => p.name === name)!;
    return { ...object, metadata: { ...object.metadata, labels } };
  };
  t.deepEqual(await open(root, lab, 'TCP', 80), everyPair(pods));

  // pod-1-0 (the other node) becomes a client; then the policy.
  await labApply({ name: lab, root, files: [write('client.yaml', [relabel('pod-1-0', { app: 'web', name: 'pod-1-0', role: 'client' })])] });
  await labApply({ name: lab, root, files: [write('policy.yaml', [policy])] });
  const isolatedTcp = everyPair(pods).filter((p) => !p.endsWith('>pod-0-1') || p === 'pod-1-0>pod-0-1');
  await eventually('TCP 80 to pod-0-1 only from pod-1-0', async () => {
    const now = await open(root, lab, 'TCP', 80);
    return JSON.stringify(now) === JSON.stringify(isolatedTcp) ? now : undefined;
  }, 15_000);
  t.deepEqual(await open(root, lab, 'TCP', 81), everyPair(pods).filter((p) => !p.endsWith('>pod-0-1')), 'port 81 is not allowed, from anyone');
  t.deepEqual(await open(root, lab, 'UDP', 80), everyPair(pods).filter((p) => !p.endsWith('>pod-0-1')), 'the named port is TCP only');
  // The probes above are on the policy's counters, on the node of the pod it isolates.
  const counters = JSON.parse(await weftctlOk(t, root, ['policy', 'counters', '--lab', lab, '--node', 'node-0', '-o', 'json'])) as { policy: string; direction: string; allowedPackets: number; droppedPackets: number }[];
  const ours = counters.find((c) => c.policy === 'default/only-pod-1-0' && c.direction === 'ingress');
  t.true((ours?.allowedPackets ?? 0) >= 1, 'pod-1-0 connected on TCP 80');
  t.true((ours?.droppedPackets ?? 0) >= 3, 'port 81 and UDP 80 from the other pods were dropped');

  // pod-0-0 (the same node) becomes a client too; pod-1-0 stops being one.
  await labApply({ name: lab, root, files: [write('relabel.yaml', [relabel('pod-0-0', { app: 'web', name: 'pod-0-0', role: 'client' }), relabel('pod-1-0', { app: 'web', name: 'pod-1-0' })])] });
  const swapped = everyPair(pods).filter((p) => !p.endsWith('>pod-0-1') || p === 'pod-0-0>pod-0-1');
  await eventually('TCP 80 to pod-0-1 only from pod-0-0', async () => {
    const now = await open(root, lab, 'TCP', 80);
    return JSON.stringify(now) === JSON.stringify(swapped) ? now : undefined;
  }, 15_000);

  await labApply({ name: lab, root, files: [write('policy-again.yaml', [policy])], delete: true });
  await eventually('pod-0-1 open again', async () => {
    const now = await open(root, lab, 'TCP', 81);
    return JSON.stringify(now) === JSON.stringify(everyPair(pods)) ? now : undefined;
  }, 15_000);

  // pod-1-1 takes pod-1-0's address as well: what it sends from it never leaves its bridge port,
  // while what it sends from its own address arrives (counted by the receiver as datagrams to a
  // port nobody listens on, since a reply to a spoofed source would go to the real owner).
  const { state } = openLab(lab, root);
  const pod = (name: string) => state.pods.find((p) => p.name === name)!;
  const spoofer = pod('pod-1-1');
  const victim = pod('pod-1-0');
  const target = pod('pod-0-0');
  await withNetlink(spoofer.netns, (nl) => nl.addresses.add(spoofer.ifName, `${victim.ips[0]}/32`));
  const sent = 20;
  t.is(await arrivals(target.netns, () => sendUdp(spoofer.netns, spoofer.ips[0], target.ips[0], sent)), sent, 'from its own address');
  t.is(await arrivals(target.netns, () => sendUdp(spoofer.netns, victim.ips[0], target.ips[0], sent)), 0, "from another pod's address");
});

/** UDP datagrams to closed ports that arrived in a namespace while `act` ran (Udp NoPorts). */
async function arrivals(netns: string, act: () => Promise<void>): Promise<number> {
  const noPorts = async () => {
    const { stdout } = await runIn(netns, 'cat', ['/proc/net/snmp']);
    const [names, values] = stdout.split('\n').filter((l) => l.startsWith('Udp: '));
    return Number(values.split(' ')[names.split(' ').indexOf('NoPorts')]);
  };
  const before = await noPorts();
  await act();
  await new Promise((r) => setTimeout(r, 300));
  return (await noPorts()) - before;
}

/** Sends `count` datagrams from `source` (an address the namespace has) to port 9 of `address`. */
async function sendUdp(netns: string, source: string, address: string, count: number): Promise<void> {
  const src = `const s=require('dgram').createSocket('udp4');s.bind(0,process.argv[2],async()=>{for(let i=0;i<Number(process.argv[3]);i++)await new Promise((r)=>s.send('x',9,process.argv[1],r));s.close();});`;
  const { code, stderr } = await runIn(netns, process.execPath, ['-e', src, address, source, String(count)]);
  if (code !== 0) throw new Error(`sending from ${source} failed: ${stderr}`);
}
