/**
 * `weftctl policy drops` against the agents of a 2-node lab, on each backend: real connections
 * between lab pods that NetworkPolicies deny (a TCP connection and a UDP datagram denied at the
 * destination's ingress, a UDP datagram denied at the source's egress) are streamed to a
 * follower as they happen, named in Kubernetes terms (pods, ports, direction, the isolating
 * policies), and listed afterwards; an allowed connection is not; --pod keeps the drops to and
 * from one pod; Ctrl-C ends --follow with exit code 0; bad input is one line and exit code 1.
 */
import { spawn } from 'node:child_process';
import test from 'ava';
import type { PolicyDropMessage } from '../../agent/api/messages';
import type { KubeObject } from '../../agent/objects';
import { childEnv } from '../../lab/child-env';
import { probeFromPod } from '../../lab/cluster/probe';
import { eventually } from '../helpers/agent-process';
import { inspectLab, ISOLATE_POD_0_1 } from './inspect-lab';
import { WEFTCTL, weftctl } from './lab-fixture';

/** pod-0-0 (node-0) may send TCP 80 only: its UDP is denied at egress. */
const POD_0_0_TCP_ONLY: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'pod-0-0-tcp-only', namespace: 'default' },
  spec: { podSelector: { matchLabels: { name: 'pod-0-0' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 80, protocol: 'TCP' }] }] },
};

/** `weftctl policy drops --follow -o json` as a process: the drops it printed so far, and Ctrl-C. */
function follow(root: string, lab: string) {
  const child = spawn(process.execPath, [WEFTCTL, 'policy', 'drops', '--follow', '-o', 'json', '--lab', lab], { env: childEnv({ WEFT_LAB_ROOT: root }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    drops: () => stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as PolicyDropMessage),
    stderr: () => stderr,
    interrupt: async () => {
      child.kill('SIGINT');
      return exited;
    },
    kill: () => child.kill('SIGKILL'),
  };
}

const flow = (d: PolicyDropMessage) => `${d.direction} ${d.protocol} ${d.sourcePod} -> ${d.destinationPod}:${d.destinationPort} by ${d.policies.join(',')}`;

for (const backend of ['nftables', 'iptables'] as const) {
  test(`${backend}: denied TCP and UDP between lab pods are streamed as they happen and listed after, with pods, ports and policies`, async (t) => {
    const lab = await inspectLab(t, backend, 'drp');
    const [server, allowed, denied, egress] = ['pod-0-1', 'pod-1-0', 'pod-1-1', 'pod-0-0'].map((n) => lab.pod(n));
    const follower = follow(lab.root, lab.lab);
    t.teardown(() => follower.kill());
    await lab.apply('policies.yaml', [ISOLATE_POD_0_1, POD_0_0_TCP_ONLY]);
    await eventually('the policies to be in force', async () => {
      const [tcp] = await probeFromPod(denied, server.ips[0], 80, 'TCP', 1, 500);
      const [udp] = await probeFromPod(egress, denied.ips[0], 81, 'UDP', 1, 500);
      return 'error' in tcp && 'error' in udp ? true : undefined;
    }, 30_000);

    // What each pair really gets: one allowed connection, three denied ones.
    t.true((await probeFromPod(allowed, server.ips[0], 80, 'TCP', 3, 2000)).every((a) => 'answer' in a), 'pod-1-0 reaches pod-0-1 on TCP 80');
    t.true((await probeFromPod(denied, server.ips[0], 80, 'TCP', 2, 500)).every((a) => 'error' in a));
    t.true((await probeFromPod(denied, server.ips[0], 81, 'UDP', 2, 500)).every((a) => 'error' in a));
    t.true((await probeFromPod(egress, denied.ips[0], 81, 'UDP', 2, 500)).every((a) => 'error' in a));
    const wanted = [
      'ingress TCP default/pod-1-1 -> default/pod-0-1:80 by default/pod-0-1-from-pod-1-0',
      'ingress UDP default/pod-1-1 -> default/pod-0-1:81 by default/pod-0-1-from-pod-1-0',
      'egress UDP default/pod-0-0 -> default/pod-1-1:81 by default/pod-0-0-tcp-only',
    ];
    const streamed = await eventually('the follower to print the three denied flows', () => {
      const seen = new Set(follower.drops().map(flow));
      return wanted.every((w) => seen.has(w)) ? follower.drops() : undefined;
    }, 20_000);
    t.false(streamed.some((d) => d.sourcePod === 'default/pod-1-0' && d.destinationPod === 'default/pod-0-1' && d.destinationPort === 80), 'the allowed connection is not a drop');
    const tcp = streamed.find((d) => flow(d) === wanted[0])!;
    t.like(tcp, { family: 4, source: denied.ips[0], destination: server.ips[0], pod: 'default/pod-0-1', tcpFlags: 'SYN' });
    t.true(tcp.sourcePort > 0);
    t.like(streamed.find((d) => flow(d) === wanted[2]), { source: egress.ips[0], destination: denied.ips[0], pod: 'default/pod-0-0' });
    t.is(await follower.interrupt(), 0, 'Ctrl-C ends --follow cleanly');
    t.is(follower.stderr(), '');

    // Afterwards: the recent drops, all of them or those of one pod, as JSON and as a table.
    const listed = JSON.parse(await lab.ask('policy', 'drops', '-o', 'json')) as PolicyDropMessage[];
    t.true(wanted.every((w) => listed.some((d) => flow(d) === w)));
    const ofPod = JSON.parse(await lab.ask('policy', 'drops', '--pod', 'default/pod-0-0', '-o', 'json')) as PolicyDropMessage[];
    t.deepEqual([...new Set(ofPod.map(flow))], [wanted[2]]);
    const text = await lab.ask('policy', 'drops', '--pod', 'default/pod-0-0');
    t.regex(text, new RegExp(`^TIME \\(UTC\\) +DIRECTION +PROTO +SOURCE +DESTINATION +PACKETS +DENIED BY\\n\\d\\d:\\d\\d:\\d\\d\\.\\d{3} +egress +UDP +default/pod-0-0 ${egress.ips[0].replace(/\./g, '\\.')}:\\d+ +default/pod-1-1 ${denied.ips[0].replace(/\./g, '\\.')}:81 +\\d+ +default/pod-0-0-tcp-only\\n`));
    t.is(await lab.ask('policy', 'drops', '--pod', 'default/pod-1-0'), 'no connection to or from default/pod-1-0 denied by NetworkPolicy or ClusterNetworkPolicy was logged recently\n');
  });
}

test('policy drops: bad input and unreachable agents are one line `weftctl: ...` and exit code 1', async (t) => {
  const lab = await inspectLab(t, 'nftables', 'dbad');
  const fails = async (args: string[], message: RegExp) => {
    const r = await weftctl(lab.root, ['policy', 'drops', ...args]);
    t.is(r.code, 1, args.join(' '));
    t.is(r.stdout, '');
    t.regex(r.stderr, message);
    t.is(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  };
  await fails(['--lab', lab.lab, '--pod', 'default/nope'], /^weftctl: no pod default\/nope in the objects of the agent on node-0 \(pods in default: pod-0-0, pod-0-1, pod-1-0, pod-1-1\)\n$/);
  await fails(['--lab', lab.lab, '--follow', '--pod', 'nope/x'], /^weftctl: no pod nope\/x in the objects of the agent on node-0 \(no pod at all in namespace nope\)\n$/);
  await fails(['--lab', lab.lab, '--pod', 'x'], /^weftctl: pod "x": expected NAMESPACE\/NAME\n$/);
  await fails(['--socket', `${lab.root}/none.sock`, '--follow'], /^weftctl: no agent socket at \S+\/none\.sock \(is weft-agent running\? --socket PATH\)\n$/);
});
