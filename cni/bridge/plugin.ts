/**
 * weft-bridge: attaches a pod to a Linux bridge in the host namespace through a veth pair, with
 * the behaviour of the reference `bridge` plugin, except that a failed ADD undoes everything it
 * did (see cni/attach/rollback.ts).
 *
 * The host veth is named from a hash of containerID and ifname, so DEL finds it without the
 * previous result, and a second ADD of the same attachment fails on the name instead of making
 * a second pair.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { isNetlinkError, openNetlink, type Link, type NetlinkHandle } from '../../kernel/netlink';
import { NftCli, type Transaction } from '../../kernel/nft';
import { readSysctl, writeSysctl } from '../../kernel/sysctl';
import { addressInterface, hasIpam, ipamCheck, ipamDel } from '../attach/ipam';
import { checkInterface, configureInterface, ipsOfInterface, requirePodNetns } from '../attach/container-iface';
import { Rollback } from '../attach/rollback';
import type { AttachmentRequest, CniPlugin, PluginOptions } from '../plugin';
import { CHECK_MISMATCH, CURRENT_VERSION, CniError, ErrorCode, type IPConfig, type Result, type Route } from '../types';
import { parseBridgeConfig, type BridgeConfig } from './config';
import { BridgeFirewall, masqueradeTransaction, owner, spoofCheckTransaction, type PodRules } from './firewall';
import { ensureGatewayAddresses } from './gateway';

/** Result index of the container interface: [bridge, host veth, container]. */
const CONTAINER_INDEX = 2;

/** The process's own namespace: the host when the plugin is built without hostNetns. */
const OWN_NETNS = '/proc/self/ns/net';

export function hostVethName(containerId: string, ifName: string): string {
  return `veth${crypto.createHash('sha256').update(`${containerId}/${ifName}`).digest('hex').slice(0, 8)}`;
}

/** The pod's nftables rules to look for: those its config asks for, as the reference tears down ipMasq. */
function podRules(cfg: BridgeConfig, podOwner: string, hostVeth: string): PodRules {
  return {
    ...(cfg.ipMasq ? { masqueradeOwner: podOwner } : {}),
    ...(cfg.macspoofchk ? { spoofCheckPort: hostVeth } : {}),
  };
}

async function withHandles<T>(hostNetns: string | undefined, podNetns: string, fn: (host: NetlinkHandle, pod: NetlinkHandle) => Promise<T>): Promise<T> {
  const host = await openNetlink(hostNetns);
  try {
    const pod = await openNetlink(podNetns);
    try {
      return await fn(host, pod);
    } finally {
      pod.close();
    }
  } finally {
    host.close();
  }
}

/** A random locally administered unicast MAC. */
function randomMac(): string {
  const bytes = crypto.randomBytes(6);
  bytes[0] = (bytes[0] & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Whether a bridge port other than `ownPort` exists: then the bridge is shared and stays as it is. */
async function hasOtherPorts(nl: NetlinkHandle, bridgeIndex: number, ownPort: string): Promise<boolean> {
  return (await nl.links.list()).some((l) => l.masterIndex === bridgeIndex && l.name !== ownPort);
}

/**
 * The bridge, created when missing, up, and promiscuous when asked. Each change is registered
 * with the rollback, to be undone only while no other pod has joined the bridge.
 */
async function ensureBridge(nl: NetlinkHandle, cfg: BridgeConfig, rollback: Rollback, ownPort: string): Promise<Link> {
  const existing = await nl.links.find(cfg.bridge);
  if (existing && existing.kind !== 'bridge') {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${cfg.bridge} already exists but is a ${existing.kind ?? 'device'}, not a bridge`);
  }
  let created = false;
  if (!existing) {
    try {
      // A MAC of its own: left to the kernel, the bridge takes the lowest MAC of its ports and
      // changes it as pods come and go, which breaks every pod's neighbour entry for the gateway.
      await nl.links.createBridge({ name: cfg.bridge, mtu: cfg.mtu, mac: randomMac(), up: true });
      created = true;
    } catch (err) {
      // Another ADD created it at the same moment.
      if (!isNetlinkError(err, 'EEXIST')) throw err;
    }
  }
  let bridge = await nl.links.get(cfg.bridge);
  const unlessShared = (label: string, undo: () => Promise<void>) =>
    rollback.push(label, async () => {
      if (!(await hasOtherPorts(nl, bridge.index, ownPort))) await undo();
    });
  if (created) {
    // A bridge this ADD made goes with it (and with it its addresses and flags).
    unlessShared(`delete bridge ${cfg.bridge}`, () => nl.links.delete(cfg.bridge));
    if (cfg.promiscMode) await nl.links.setPromisc(cfg.bridge, true);
  } else {
    if (!bridge.up) {
      await nl.links.setUp(cfg.bridge);
      unlessShared(`set ${cfg.bridge} down again`, () => nl.links.setDown(cfg.bridge));
    }
    if (cfg.promiscMode && !bridge.promisc) {
      await nl.links.setPromisc(cfg.bridge, true);
      unlessShared(`turn promiscuous mode of ${cfg.bridge} off again`, () => nl.links.setPromisc(cfg.bridge, false));
    }
  }
  if (!bridge.up || (cfg.promiscMode && !bridge.promisc)) bridge = await nl.links.get(cfg.bridge);
  return bridge;
}

/** Default routes through the gateways, for families the IPAM result has no default route for. */
function defaultRoutes(ips: readonly IPConfig[], routes: readonly Route[]): Route[] {
  const added: Route[] = [];
  for (const ip of ips) {
    if (!ip.gateway) continue;
    const v6 = net.isIPv6(ip.gateway);
    const dst = v6 ? '::/0' : '0.0.0.0/0';
    if (![...routes, ...added].some((r) => r.dst === dst)) added.push({ dst, gw: ip.gateway });
  }
  return added;
}

/**
 * Turns forwarding on in the host for the families the pod has addresses of (isGateway). Written
 * only when off: writing conf.all.forwarding also rewrites every interface's setting. It stays
 * on whatever happens later, as with the reference: other pods may rely on it.
 */
function enableForwarding(hostNetns: string, ips: readonly IPConfig[]): void {
  const keys = [
    ...(ips.some((ip) => !ip.address.includes(':')) ? ['net.ipv4.ip_forward'] : []),
    ...(ips.some((ip) => ip.address.includes(':')) ? ['net.ipv6.conf.all.forwarding'] : []),
  ];
  for (const key of keys) if (readSysctl(hostNetns, key) !== '1') writeSysctl(hostNetns, key, 1);
}

export function createBridgePlugin(options: PluginOptions = {}): CniPlugin {
  const { hostNetns } = options;
  const firewall = new BridgeFirewall(new NftCli({ netns: hostNetns }));

  async function add(req: AttachmentRequest): Promise<Result> {
    const cfg = parseBridgeConfig(req.config);
    requirePodNetns(req.netns);
    const rollback = new Rollback();
    const vethName = hostVethName(req.containerId, req.ifName);
    return withHandles(hostNetns, req.netns, (host, pod) =>
      rollback.guard(async () => {
        if (await pod.links.find(req.ifName)) {
          throw new CniError(ErrorCode.InvalidEnvironment, `container interface ${req.ifName} already exists in ${req.netns}`);
        }
        const bridge = await ensureBridge(host, cfg, rollback, vethName);
        await host.links.createVeth({ name: vethName, mtu: cfg.mtu ?? bridge.mtu, peer: { name: req.ifName, netns: req.netns } });
        // Deleting the host end removes the container end with it.
        rollback.push(`delete veth ${vethName}`, () => host.links.delete(vethName));
        await host.links.setMaster(vethName, cfg.bridge);
        if (cfg.hairpinMode) await host.links.setBridgePort(vethName, { hairpin: true });
        await host.links.setUp(vethName);

        const addressing = await addressInterface(req, rollback, CONTAINER_INDEX);
        const { ips, dns } = addressing;
        const routes = [...addressing.routes, ...(cfg.isDefaultGateway ? defaultRoutes(ips, addressing.routes) : [])];
        if (cfg.isGateway) {
          await ensureGatewayAddresses(host, cfg, ips, { rollback, stillOurs: async () => !(await hasOtherPorts(host, bridge.index, vethName)) });
        }
        await configureInterface(pod, req.ifName, ips, routes, { noDad: !cfg.enabledad });
        // Read last: a port's MAC may change as it joins the bridge (the reference found so too).
        const [bridgeNow, hostVeth, container] = await Promise.all([host.links.get(cfg.bridge), host.links.get(vethName), pod.links.get(req.ifName)]);

        // All of the pod's rules in one nft run (the costliest step of an ADD), none without them.
        const podOwner = owner(req.containerId, req.ifName);
        const rules = [
          cfg.ipMasq ? masqueradeTransaction(req.config.name, podOwner, ips) : undefined,
          cfg.macspoofchk ? spoofCheckTransaction(vethName, podOwner, container.mac ?? '', ips) : undefined,
        ].filter((tx): tx is Transaction => tx !== undefined);
        if (rules.length > 0) {
          rollback.push("remove the pod's nftables rules", () => firewall.remove(podRules(cfg, podOwner, vethName)));
          await firewall.apply(rules);
        }
        // Last, so that a failed ADD never gets here: forwarding is not undone (see enableForwarding).
        if (cfg.isGateway) enableForwarding(hostNetns ?? OWN_NETNS, ips);
        return {
          cniVersion: CURRENT_VERSION,
          interfaces: [
            { name: bridgeNow.name, mac: bridgeNow.mac },
            { name: hostVeth.name, mac: hostVeth.mac },
            { name: container.name, mac: container.mac, sandbox: req.netns },
          ],
          // Without IPAM the attachment is L2 only and the result has no `ips`, as the reference's.
          ...(ips.length > 0 ? { ips } : {}),
          ...(routes.length > 0 ? { routes } : {}),
          dns,
        };
      }),
    );
  }

  async function del(req: AttachmentRequest): Promise<void> {
    const cfg = parseBridgeConfig(req.config);
    const vethName = hostVethName(req.containerId, req.ifName);
    // Each step runs whatever happened to the others: DEL must release all it can.
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<void>) => {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    };
    const deleteVeth = async () => {
      const host = await openNetlink(hostNetns);
      try {
        // Deleting the host end removes the container end with it; the pod's netns may be gone.
        if (await host.links.find(vethName)) await host.links.delete(vethName);
      } catch (err) {
        if (!isNetlinkError(err, 'ENODEV')) throw err;
      } finally {
        host.close();
      }
    };
    const rules = podRules(cfg, owner(req.containerId, req.ifName), vethName);
    // The link and the rules are independent (and each costs a kernel or nft round of its own).
    await Promise.all([attempt(deleteVeth), attempt(() => firewall.remove(rules))]);
    // The addresses go back to the pool last: an ADD that gets one must not meet this pod's rules.
    if (hasIpam(req)) await attempt(() => ipamDel(req));
    if (errors.length > 0) throw errors[0];
  }

  async function check(req: AttachmentRequest): Promise<void> {
    const cfg = parseBridgeConfig(req.config);
    const prev = req.config.prevResult;
    if (!prev) throw new CniError(ErrorCode.InvalidNetworkConfig, 'CHECK needs prevResult, the result of the ADD');
    if (hasIpam(req)) await ipamCheck(req);
    const index = (prev.interfaces ?? []).findIndex((i) => i.name === req.ifName && i.sandbox === req.netns);
    if (index < 0) throw new CniError(CHECK_MISMATCH, `prevResult lists no interface ${req.ifName} in ${req.netns}`);
    const expectedMac = prev.interfaces?.[index].mac;
    await withHandles(hostNetns, req.netns, async (host, pod) => {
      const container = await pod.links.find(req.ifName);
      if (!container) throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} not found in ${req.netns}`);
      if (expectedMac && container.mac !== expectedMac.toLowerCase()) {
        throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} has MAC ${container.mac}, prevResult says ${expectedMac}`);
      }
      if (container.kind !== 'veth') throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} is a ${container.kind ?? 'device'}, not a veth`);
      await checkInterface(pod, req.ifName, ipsOfInterface(prev, index), prev.routes ?? []);
      const bridge = await host.links.find(cfg.bridge);
      if (!bridge) throw new CniError(CHECK_MISMATCH, `bridge ${cfg.bridge} not found`);
      const vethName = hostVethName(req.containerId, req.ifName);
      const hostVeth = await host.links.find(vethName);
      if (!hostVeth) throw new CniError(CHECK_MISMATCH, `host veth ${vethName} not found`);
      if (hostVeth.masterIndex !== bridge.index) throw new CniError(CHECK_MISMATCH, `host veth ${vethName} is not attached to bridge ${cfg.bridge}`);
    });
  }

  return { name: 'weft-bridge', add, del, check };
}

export const bridgePlugin = createBridgePlugin();
