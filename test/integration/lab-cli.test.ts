/**
 * The lab through weftctl as a real process: a 2 nodes x 2 pods lab with real agents comes up,
 * same-node pods reach each other over TCP and UDP (answered with the server's namespace/name),
 * get/status/exec report what is there, and `lab down` leaves no namespace, process, link or
 * file behind. Cross-node traffic needs the overlay (a later step), so it is not asserted.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { withNetlink } from '../../kernel/netlink';
import type { NodeRow, PodRow } from '../../lab/cluster/inspect';
import { labName, labRoot, leftovers, nothingLeft, sameNodePairs, weftctl, weftctlOk, type Matrix } from './lab-fixture';

async function rootLinks(): Promise<string[]> {
  // Only read: the root namespace is never changed.
  return withNetlink(undefined, async (nl) => (await nl.links.list()).map((l) => l.name).sort());
}

test('lab up 2x2, probe TCP and UDP, get, status, exec, down leaves nothing', async (t) => {
  const lab = labName('cli');
  const root = labRoot(t, lab);
  const linksBefore = await rootLinks();

  const up = JSON.parse(await weftctlOk(t, root, ['lab', 'up', '--name', lab, '--nodes', '2', '--pods-per-node', '2', '-o', 'json'])) as { pods: PodRow[]; nodes: NodeRow[] };
  t.is(up.pods.length, 4);
  t.deepEqual(up.pods.map((p) => p.node).sort(), ['node-0', 'node-0', 'node-1', 'node-1']);
  for (const p of up.pods) {
    t.is(p.namespace, 'default');
    t.is(p.labels.app, 'web');
    // Dual-stack: an IPv4 from the node's /24 first, then an IPv6 from its /64.
    const i = p.node.slice('node-'.length);
    t.true(p.ips[0].startsWith(`10.244.${i}.`), p.ips.join(','));
    t.regex(p.ips[1], /^fd00:10:244:/);
  }
  t.deepEqual(up.nodes.map((n) => [n.name, n.underlayIPs[0], n.podCIDRs[0], n.agentAlive]), [
    ['node-0', '192.0.2.10', '10.244.0.0/24', true],
    ['node-1', '192.0.2.11', '10.244.1.0/24', true],
  ]);

  const pairs = sameNodePairs(up.pods);
  t.is(pairs.length, 4);
  for (const [protocol, port] of [['TCP', '80'], ['UDP', '81']]) {
    const matrix = JSON.parse(await weftctlOk(t, root, ['lab', 'probe', '--name', lab, '--protocol', protocol, '--port', port, '-o', 'json'])) as Matrix;
    t.is(Object.keys(matrix).length, 4);
    for (const [client, server] of pairs) t.true(matrix[client][server], `${protocol} ${port} ${client} -> ${server}`);
  }
  // A port no pod serves: refused everywhere, so "ok" really means an answer.
  const closed = JSON.parse(await weftctlOk(t, root, ['lab', 'probe', '--name', lab, '--port', '8080', '-o', 'json'])) as Matrix;
  for (const [client, server] of pairs) t.false(closed[client][server]);
  const table = await weftctlOk(t, root, ['lab', 'probe', '--name', lab]);
  t.regex(table, /default\/pod-0-0\s+ok/);

  const pods = JSON.parse(await weftctlOk(t, root, ['lab', 'get', 'pods', '--name', lab, '-o', 'json'])) as PodRow[];
  t.deepEqual(pods.map((p) => `${p.namespace}/${p.name}`), ['default/pod-0-0', 'default/pod-0-1', 'default/pod-1-0', 'default/pod-1-1']);
  t.true(pods.every((p) => p.serverAlive));

  const status = JSON.parse(await weftctlOk(t, root, ['status', '--lab', lab, '--node', 'node-1', '-o', 'json'])) as { nodeName: string; ready: boolean; objectCounts: Record<string, number> };
  t.is(status.nodeName, 'node-1');
  t.true(status.ready);
  t.is(status.objectCounts.Pod, 4);
  t.is(status.objectCounts.Node, 2);
  t.regex(await weftctlOk(t, root, ['status', '--lab', lab]), /last sync\s+\d{4}-/);

  // exec runs in the pod's namespace and passes the exit code through.
  const addr = await weftctlOk(t, root, ['lab', 'exec', '--name', lab, 'default/pod-1-0', '--', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
  t.true(addr.includes(pods[2].ips[0]));
  t.is((await weftctl(root, ['lab', 'exec', '--name', lab, 'pod-0-0', '--', 'sh', '-c', 'exit 3'])).code, 3);

  const err = await weftctl(root, ['lab', 'get', 'pods', '--name', 'no-such-lab']);
  t.is(err.code, 1);
  t.regex(err.stderr, /^weftctl: lab no-such-lab does not exist/);
  t.is(err.stderr.trim().split('\n').length, 1);

  t.regex(await weftctlOk(t, root, ['lab', 'down', '--name', lab]), /removed/);
  t.deepEqual(leftovers(root, lab), nothingLeft);
  t.deepEqual(await rootLinks(), linksBefore);
  t.deepEqual(fs.readdirSync(root), []);
  // Idempotent.
  t.regex(await weftctlOk(t, root, ['lab', 'down', '--name', lab]), /does not exist/);
  t.false(fs.existsSync(path.join(root, lab)));
});
