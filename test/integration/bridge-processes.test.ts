/**
 * weft-bridge as runtimes run it: one process per call, many at once on a fresh node (no bridge,
 * no tables yet), so bridge creation, gateway addresses, nftables tables and IPAM are raced by
 * processes that share nothing in memory.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { withNetlink } from '../../kernel/netlink';
import { runCni } from '../../lab/cni-exec';
import { ping, runIn } from '../../lab/probe';
import { systemBinary } from '../../kernel/exec';
import { tempNetns } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';

const PODS = 12;

test(`${PODS} ADD processes at once on a fresh node, then ${PODS} DEL processes: all succeed, distinct addresses, nothing left`, async (t) => {
  const node = tempNetns(t, 'node');
  const dataDir = tempDir(t, 'bridge-proc');
  const config = {
    cniVersion: '1.1.0',
    name: 'procs',
    type: 'weft-bridge',
    bridge: 'weft-brp',
    isDefaultGateway: true,
    ipMasq: true,
    macspoofchk: true,
    ipam: { type: 'weft-ipam', dataDir, ranges: [[{ subnet: '10.96.0.0/24' }], [{ subnet: 'fd96::/64' }]] },
  };
  const pods = Array.from({ length: PODS }, (_, i) => ({ netns: tempNetns(t, `p${i}`), containerId: `proc-${i}` }));
  const call = (command: 'ADD' | 'DEL', pod: (typeof pods)[number]) =>
    runCni({ hostNetns: node, plugin: 'weft-bridge', command, config, containerId: pod.containerId, netns: pod.netns, ifName: 'eth0' });

  const adds = await Promise.all(pods.map((pod) => call('ADD', pod)));
  for (const outcome of adds) t.is(outcome.exitCode, 0, outcome.stdout);
  const addresses = adds.map((o) => (o.json?.ips as { address: string }[]).map((ip) => ip.address.split('/')[0]));
  t.is(new Set(addresses.flat()).size, PODS * 2);
  t.true(await ping(pods[0].netns, addresses[PODS - 1][0]));
  t.true(await ping(pods[PODS - 1].netns, addresses[0][1]));

  const dels = await Promise.all(pods.map((pod) => call('DEL', pod)));
  for (const outcome of dels) t.is(outcome.exitCode, 0, outcome.stdout);
  t.deepEqual(fs.readdirSync(path.join(dataDir, 'procs')).filter((f) => /^[0-9a-f.:]+$/.test(f) && /[.:]/.test(f)), [], 'no address allocated');
  const links = await withNetlink(node, async (nl) => (await nl.links.list()).map((l) => l.name));
  t.deepEqual(links.filter((name) => name.startsWith('veth')), [], 'no host veth left');
  t.true(links.includes('weft-brp'), 'the bridge stays, as the reference leaves it');
  const ruleset = (await runIn(node, systemBinary('nft'), ['list', 'ruleset'])).stdout;
  t.notRegex(ruleset, /10\.96\.0\.(?!0\/24)|fd96::[0-9a-f]+(?!\/64)\b|proc-\d+|pod-veth/, 'no element or chain of a pod left');
});
