/**
 * Labs side by side: two labs come up at the same time with the same addresses and node names,
 * each works, and removing one leaves the other intact. A second agent on a node's socket
 * refuses to start, and a second `lab up` of the same name is refused.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { agentArgs } from '../../lab/cluster/agents';
import { labDown } from '../../lab/cluster/down';
import { labPaths } from '../../lab/cluster/names';
import { probeMatrix } from '../../lab/cluster/probe';
import { podKey } from '../../lab/cluster/state';
import { labUp } from '../../lab/cluster/up';
import { inNetns, netnsExists } from '../../kernel/netns';
import { labName, labRoot, leftovers, nothingLeft, weftctl, weftctlOk } from './lab-fixture';

test('two labs side by side; down of one leaves the other working', async (t) => {
  const [a, b] = [labName('a'), labName('b')];
  const root = labRoot(t, a, b);
  const [la, lb] = await Promise.all([a, b].map((name) => labUp({ name, root, nodes: 1, podsPerNode: 2, ports: [80] })));
  for (const { state } of [la, lb]) {
    // Same addresses in both: each lab is a world of its own.
    t.deepEqual(state.pods.map((p) => p.ips[0]).sort(), ['10.244.0.2', '10.244.0.3']);
    const m = await probeMatrix(state, { port: 80, protocol: 'TCP', family: 4 });
    const [p0, p1] = state.pods.map(podKey);
    t.true(m.cells[p0][p1].ok && m.cells[p1][p0].ok);
  }
  await t.throwsAsync(labUp({ name: a, root, nodes: 1, podsPerNode: 0, ports: [80] }), { message: /already exists/ });

  // A second agent on node-0's socket refuses to start, and the first keeps running.
  const node = la.state.nodes[0];
  const agent = node.agent;
  if (!agent) return t.fail('no agent');
  const second = inNetns(node.netns, () =>
    spawn(process.execPath, agentArgs(node.name, labPaths(root, a).manifests, { ...agent, healthListen: '' }), { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let output = '';
  second.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  second.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const [code] = (await once(second, 'close')) as [number];
  t.not(code, 0);
  t.regex(output, /already listens/);
  t.notThrows(() => process.kill(agent.pid, 0));

  await labDown(a, root);
  t.deepEqual(leftovers(root, a), nothingLeft);
  t.true(lb.state.pods.every((p) => netnsExists(p.netns)));
  const m = await probeMatrix(lb.state, { port: 80, protocol: 'TCP', family: 4 });
  const [p0, p1] = lb.state.pods.map(podKey);
  t.true(m.cells[p0][p1].ok);
});

test('concurrent weftctl invocations on one lab are serialised: no pod is lost', async (t) => {
  const lab = labName('lock');
  const root = labRoot(t, lab);
  await labUp({ name: lab, root, nodes: 1, podsPerNode: 0, ports: [80] });
  const pod = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c' }] } });
  const runs = await Promise.all(['p1', 'p2', 'p3'].map((name) => weftctl(root, ['lab', 'apply', '--name', lab, '-f', '-'], pod(name))));
  t.deepEqual(runs.map((r) => r.code), [0, 0, 0], runs.map((r) => r.stderr).join(''));
  const pods = JSON.parse(await weftctlOk(t, root, ['lab', 'get', 'pods', '--name', lab, '-o', 'json'])) as { name: string; ips: string[] }[];
  t.deepEqual(pods.map((p) => p.name), ['p1', 'p2', 'p3']);
  t.is(new Set(pods.map((p) => p.ips[0])).size, 3);
});
