/**
 * CNI plugins and the agent together, as on a node: weft-bridge called through weft-cni-shim
 * runs inside the agent (its CNI server), registers the pod with the agent's gRPC API, and ADD
 * returns only once the pod's address is in the agent's rules. Without an agent to confirm, the
 * ADD is undone and fails with code 11 (try again later).
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { withNetlink } from '../../kernel/netlink';
import { NftCli } from '../../kernel/nft';
import { runCni, SHIM_BIN_DIR, WEFT_BIN_DIR } from '../../lab/cni-exec';
import { eventually, startAgentProcess, waitReady } from '../helpers/agent-process';
import { tempNetns } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';

function fixture(t: ExecutionContext) {
  const node = tempNetns(t, 'node');
  const dir = tempDir(t, 'reg');
  const manifests = path.join(dir, 'manifests');
  const socket = path.join(dir, 'run', 'agent.sock');
  const cniSocket = path.join(dir, 'run', 'cni.sock');
  const ipamDir = path.join(dir, 'ipam');
  const config = {
    cniVersion: '1.0.0',
    name: 'reg',
    type: 'weft-bridge',
    bridge: 'weft0',
    isGateway: true,
    agentSocket: socket,
    ipam: { type: 'weft-ipam', dataDir: ipamDir, ranges: [[{ subnet: '10.244.1.0/24' }]] },
  };
  const call = (command: 'ADD' | 'DEL', pod: string, podName: string, cniPath: string[]) =>
    runCni({
      hostNetns: node,
      plugin: 'weft-bridge',
      command,
      config,
      containerId: `ctr-${podName}`,
      netns: pod,
      ifName: 'eth0',
      args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: podName },
      cniPath,
      env: { WEFT_CNI_SOCKET: cniSocket },
    });
  const start = () =>
    startAgentProcess(t, node, ['--node-name', 'n1', '--source', 'manifests', '--manifests', manifests, '--cni-socket', cniSocket, '--health-listen', ''], socket);
  const allocated = () => (fs.existsSync(path.join(ipamDir, 'reg')) ? fs.readdirSync(path.join(ipamDir, 'reg')).filter((f) => net.isIP(f) !== 0) : []);
  return { node, call, start, allocated };
}

const localPods = async (node: string) =>
  ((await new NftCli({ netns: node }).listRuleset({ family: 'inet', name: 'weft' }))?.sets.find((s) => s.name === 'local-pods-v4')?.elements ?? []).map(
    (e) => `${e.key[0]} ${e.comment}`,
  );

test('ADD through the shim registers the pod: its address is in the rules when ADD returns; DEL removes it', async (t) => {
  const f = fixture(t);
  const agent = f.start();
  await waitReady(agent);
  const pod = tempNetns(t, 'pod');
  const add = await f.call('ADD', pod, 'web-1', [SHIM_BIN_DIR]);
  t.is(add.exitCode, 0, add.stdout);
  const ip = (add.json?.ips as { address: string }[])[0].address.split('/')[0];
  // No Pod object exists: the agent knows the pod only from the registration.
  t.deepEqual(await localPods(f.node), [`${ip} default/web-1`]);
  const status = await agent.status();
  t.is(status.localEndpoints, 1);
  t.is(status.objectCounts.Pod, 0);

  const del = await f.call('DEL', pod, 'web-1', [SHIM_BIN_DIR]);
  t.is(del.exitCode, 0, del.stdout);
  t.deepEqual(await localPods(f.node), []);
  t.is((await agent.status()).localEndpoints, 0);
  t.deepEqual(f.allocated(), []);
});

test('without an agent to confirm, ADD fails with 11 and leaves no interface or address; DEL still succeeds', async (t) => {
  const f = fixture(t);
  const pod = tempNetns(t, 'pod');
  // The Node.js entry directly (no CNI server either): registration must fail, everything undone.
  const add = await f.call('ADD', pod, 'web-2', [WEFT_BIN_DIR]);
  t.is(add.exitCode, 1, add.stdout);
  t.is(add.json?.code, 11);
  t.regex(String(add.json?.msg), /did not confirm the pod/);
  t.deepEqual(f.allocated(), []);
  const links = await withNetlink(pod, (nl) => nl.links.list());
  t.deepEqual(links.map((l) => l.name), ['lo']);
  const del = await f.call('DEL', pod, 'web-2', [WEFT_BIN_DIR]);
  t.is(del.exitCode, 0, del.stdout);
});

test('a registered pod appears once the agent is up: an ADD during start-up waits for the first sync', async (t) => {
  const f = fixture(t);
  const pod = tempNetns(t, 'pod');
  const agent = f.start();
  // Not waiting for readiness: the ADD may arrive before the agent's first sync.
  const add = await eventually('ADD accepted', async () => {
    const out = await f.call('ADD', pod, 'web-3', [SHIM_BIN_DIR]);
    return out.exitCode === 0 ? out : undefined;
  }, 15_000);
  const ip = (add.json?.ips as { address: string }[])[0].address.split('/')[0];
  t.deepEqual(await localPods(f.node), [`${ip} default/web-3`]);
  t.true((await agent.status()).ready);
});
