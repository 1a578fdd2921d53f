/**
 * The yardstick for the data-path benchmarks: the same paths weft builds, made by hand with the
 * same kernel features and nothing else (no agent, no nftables rules): two nodes on an underlay
 * switch, each with a bridge and pods on veth pairs, joined by a VXLAN device with static FDB,
 * neighbour and route entries, or by plain routes (host-gw). Namespaces are the bench's own and
 * removed by cleanup().
 */
import crypto from 'node:crypto';
import { withNetlink } from '../kernel/netlink';
import { NftCli, Transaction } from '../kernel/nft';
import { writeSysctl } from '../kernel/sysctl';
import { createBenchNetns, deleteBenchNetns } from './cleanup';

export type PathMode = 'vxlan' | 'host-gw';

export interface HandmadePod {
  ns: string;
  ip: string;
  node: number;
}

export interface HandmadeCluster {
  /** Two pods on node 1, one on node 2. */
  pods: HandmadePod[];
  cleanup(): void;
}

const mac = (node: number) => `0a:58:c0:00:02:${(20 + node).toString(16).padStart(2, '0')}`;

/**
 * `podMtu`: the pods' MTU, the same as the weft path under comparison has. `masquerade` adds the
 * one NAT rule every node of a real cluster has (pod traffic leaving the cluster), and with it
 * connection tracking on every packet: the cost a bare path does not pay.
 */
export async function buildHandmade(mode: PathMode, podMtu: number, options: { masquerade?: boolean } = {}): Promise<HandmadeCluster> {
  const tag = crypto.randomBytes(2).toString('hex');
  const created: string[] = [];
  const netns = (label: string) => {
    const p = createBenchNetns(`weft-bench-${tag}-${label}`);
    created.push(p);
    return p;
  };
  const cleanup = () => created.splice(0).forEach((p) => deleteBenchNetns(p));
  try {
    const sw = netns('sw');
    await withNetlink(sw, async (nl) => {
      await nl.links.createBridge({ name: 'sw', up: true });
    });
    const nodes = [1, 2].map((i) => ({ i, ns: netns(`node${i}`), address: `192.0.2.${20 + i}` }));
    for (const n of nodes) {
      await withNetlink(sw, async (nl) => {
        await nl.links.createVeth({ name: `p${n.i}`, peer: { name: 'eth0', netns: n.ns } });
        await nl.links.setMaster(`p${n.i}`, 'sw');
        await nl.links.setUp(`p${n.i}`);
      });
      writeSysctl(n.ns, 'net.ipv4.ip_forward', 1);
      await withNetlink(n.ns, async (nl) => {
        await nl.links.setUp('lo');
        await nl.addresses.add('eth0', `${n.address}/24`);
        await nl.links.setUp('eth0');
        await nl.links.createBridge({ name: 'br0', mtu: podMtu, up: true });
        await nl.addresses.add('br0', `10.99.${n.i}.1/24`);
        if (mode === 'vxlan') {
          await nl.links.createVxlan({ name: 'hv.1', vni: 1, local: n.address, port: 8472, learning: false, mac: mac(n.i), mtu: podMtu });
          await nl.addresses.add('hv.1', `10.99.${n.i}.0/32`);
          await nl.links.setUp('hv.1');
        }
      });
    }
    if (options.masquerade) {
      for (const n of nodes) {
        const table = { family: 'ip' as const, name: 'hand' };
        await new NftCli({ netns: n.ns }).run(
          new Transaction(table)
            .add({ kind: 'table' })
            .add({ kind: 'chain', name: 'post', type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' })
            .add({ kind: 'rule', chain: 'post', rule: `ip saddr 10.99.${n.i}.0/24 ip daddr != 10.99.0.0/16 masquerade` }),
        );
      }
    }
    for (const n of nodes) {
      const peer = nodes.find((p) => p.i !== n.i)!;
      await withNetlink(n.ns, async (nl) => {
        if (mode === 'vxlan') {
          await nl.fdb.replace({ link: 'hv.1', mac: mac(peer.i), dst: peer.address });
          await nl.neighbours.replace({ link: 'hv.1', ip: `10.99.${peer.i}.0`, mac: mac(peer.i) });
          await nl.routes.add({ dst: `10.99.${peer.i}.0/24`, gateway: `10.99.${peer.i}.0`, dev: 'hv.1', onLink: true });
        } else {
          await nl.routes.add({ dst: `10.99.${peer.i}.0/24`, gateway: peer.address });
        }
      });
    }
    const pods: HandmadePod[] = [];
    for (const [k, nodeIndex] of [1, 1, 2].entries()) {
      const node = nodes[nodeIndex - 1];
      const ns = netns(`pod${k}`);
      const ip = `10.99.${nodeIndex}.${10 + k}`;
      await withNetlink(node.ns, async (nl) => {
        await nl.links.createVeth({ name: `vp${k}`, mtu: podMtu, peer: { name: 'eth0', netns: ns } });
        await nl.links.setMaster(`vp${k}`, 'br0');
        await nl.links.setUp(`vp${k}`);
      });
      await withNetlink(ns, async (nl) => {
        await nl.links.setUp('lo');
        await nl.addresses.add('eth0', `${ip}/24`);
        await nl.links.setUp('eth0');
        await nl.routes.add({ dst: 'default', gateway: `10.99.${nodeIndex}.1` });
      });
      pods.push({ ns, ip, node: nodeIndex });
    }
    return { pods, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}
