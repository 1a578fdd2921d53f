/**
 * A node namespace with the pod bridge weft0 (10.244.0.1/24, fd00:10:244::1/64), three pods on
 * it (p1, p2, p3 at .11, .12, .13, dual-stack) and a remote host behind an uplink (10.0.0.2,
 * fd00:0:1::2) routed through the node: the stage on which both backends' policy and bridge
 * guard are tested with real traffic. Every namespace is the test's own and removed after it.
 */
import type { ExecutionContext } from 'ava';
import { withNetlink } from '../../kernel/netlink';
import { writeSysctl } from '../../kernel/sysctl';
import { tempNetns } from './netns';

export const BRIDGE = 'weft0';
export const P1 = { v4: '10.244.0.11', v6: 'fd00:10:244::11' };
export const P2 = { v4: '10.244.0.12', v6: 'fd00:10:244::12' };
export const P3 = { v4: '10.244.0.13', v6: 'fd00:10:244::13' };
export const GATEWAY = { v4: '10.244.0.1', v6: 'fd00:10:244::1' };
export const REMOTE = { v4: '10.0.0.2', v6: 'fd00:0:1::2' };

export interface PodBridgeTopology {
  node: string;
  remote: string;
  pods: { p1: string; p2: string; p3: string };
}

export interface TopologyOptions {
  /** Create the bridge with its netfilter calls on (else the agent turns them on). */
  nfCall?: boolean;
  /** Pod ports in hairpin mode, so that a pod reaches itself through a DNAT (kubelet's hairpin-veth). */
  hairpin?: boolean;
  /** A default route of the node via the remote host, as a real node has one (a service address is routable). */
  defaultRoute?: boolean;
}

export async function podBridgeTopology(t: ExecutionContext, label: string, options: TopologyOptions = {}): Promise<PodBridgeTopology> {
  const node = tempNetns(t, `${label}n`);
  const remote = tempNetns(t, `${label}r`);
  writeSysctl(node, 'net.ipv4.ip_forward', 1);
  writeSysctl(node, 'net.ipv6.conf.all.forwarding', 1);
  await withNetlink(node, async (nl) => {
    await nl.links.setUp('lo');
    await nl.links.createBridge({ name: BRIDGE, up: true, ...(options.nfCall ? { bridge: { nfCallIptables: true, nfCallIp6tables: true } } : {}) });
    await nl.addresses.add(BRIDGE, `${GATEWAY.v4}/24`);
    await nl.addresses.add(BRIDGE, `${GATEWAY.v6}/64`, { noDad: true });
    await nl.links.createVeth({ name: 'uplink', peer: { name: 'eth0', netns: remote } });
    await nl.addresses.add('uplink', '10.0.0.1/24');
    await nl.addresses.add('uplink', 'fd00:0:1::1/64', { noDad: true });
    await nl.links.setUp('uplink');
  });
  await withNetlink(remote, async (nl) => {
    await nl.links.setUp('lo');
    await nl.addresses.add('eth0', `${REMOTE.v4}/24`);
    await nl.addresses.add('eth0', `${REMOTE.v6}/64`, { noDad: true });
    await nl.links.setUp('eth0');
    await nl.routes.add({ dst: '10.244.0.0/24', gateway: '10.0.0.1' });
    await nl.routes.add({ dst: 'fd00:10:244::/64', gateway: 'fd00:0:1::1' });
  });
  if (options.defaultRoute) {
    await withNetlink(node, async (nl) => {
      await nl.routes.add({ dst: 'default', gateway: REMOTE.v4 });
      await nl.routes.add({ dst: 'default', family: 6, gateway: REMOTE.v6 });
    });
  }
  const pods: Record<string, string> = {};
  for (const [name, ips] of Object.entries({ p1: P1, p2: P2, p3: P3 })) {
    const ns = tempNetns(t, `${label}${name}`);
    await withNetlink(node, async (nl) => {
      await nl.links.createVeth({ name: `v${name}`, peer: { name: 'eth0', netns: ns } });
      await nl.links.setMaster(`v${name}`, BRIDGE);
      if (options.hairpin) await nl.links.setBridgePort(`v${name}`, { hairpin: true });
      await nl.links.setUp(`v${name}`);
    });
    await withNetlink(ns, async (nl) => {
      await nl.links.setUp('lo');
      await nl.addresses.add('eth0', `${ips.v4}/24`);
      await nl.addresses.add('eth0', `${ips.v6}/64`, { noDad: true });
      await nl.links.setUp('eth0');
      await nl.routes.add({ dst: 'default', gateway: GATEWAY.v4 });
      await nl.routes.add({ dst: 'default', gateway: GATEWAY.v6 });
    });
    pods[name] = ns;
  }
  return { node, remote, pods: pods as PodBridgeTopology['pods'] };
}
