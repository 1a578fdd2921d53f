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
import { netnsExists } from '../../kernel/netns';
import { writeSysctl } from '../../kernel/sysctl';
import { hasIpam, ipamAdd, ipamCheck, ipamDel } from '../attach/ipam';
import { checkInterface, configureInterface, ipsOfInterface } from '../attach/container-iface';
import { Rollback } from '../attach/rollback';
import type { AttachmentRequest, CniPlugin, PluginOptions } from '../plugin';
import { CHECK_MISMATCH, CURRENT_VERSION, CniError, ErrorCode, type IPConfig, type Result, type Route } from '../types';
import { parseBridgeConfig, type BridgeConfig } from './config';
import { BridgeFirewall, owner } from './firewall';
import { ensureGatewayAddresses } from './gateway';

/** Result index of the container interface: [bridge, host veth, container]. */
const CONTAINER_INDEX = 2;

export function hostVethName(containerId: string, ifName: string): string {
  return `veth${crypto.createHash('sha256').update(`${containerId}/${ifName}`).digest('hex').slice(0, 8)}`;
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

/** The bridge, created when missing; `created` tells the caller whether this call made it. */
async function ensureBridge(nl: NetlinkHandle, cfg: BridgeConfig): Promise<{ bridge: Link; created: boolean }> {
  const existing = await nl.links.find(cfg.bridge);
  let created = false;
  if (existing) {
    if (existing.kind !== 'bridge') throw new CniError(ErrorCode.InvalidNetworkConfig, `${cfg.bridge} already exists but is a ${existing.kind ?? 'device'}, not a bridge`);
  } else {
    try {
      await nl.links.createBridge({ name: cfg.bridge, mtu: cfg.mtu, up: true });
      created = true;
    } catch (err) {
      // Another ADD created it at the same moment.
      if (!isNetlinkError(err, 'EEXIST')) throw err;
    }
  }
  let bridge = await nl.links.get(cfg.bridge);
  if (!bridge.up) await nl.links.setUp(cfg.bridge);
  if (cfg.promiscMode && !bridge.promisc) await nl.links.setPromisc(cfg.bridge, true);
  if (!bridge.up || (cfg.promiscMode && !bridge.promisc)) bridge = await nl.links.get(cfg.bridge);
  return { bridge, created };
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

function enableForwarding(hostNetns: string | undefined, ips: readonly IPConfig[]): void {
  const ns = hostNetns ?? '/proc/self/ns/net';
  if (ips.some((ip) => !ip.address.includes(':'))) writeSysctl(ns, 'net.ipv4.ip_forward', 1);
  if (ips.some((ip) => ip.address.includes(':'))) writeSysctl(ns, 'net.ipv6.conf.all.forwarding', 1);
}

export function createBridgePlugin(options: PluginOptions = {}): CniPlugin {
  const { hostNetns } = options;
  const firewall = new BridgeFirewall(hostNetns);

  async function add(req: AttachmentRequest): Promise<Result> {
    const cfg = parseBridgeConfig(req.config);
    if (!netnsExists(req.netns)) throw new CniError(ErrorCode.InvalidEnvironment, `network namespace ${req.netns} does not exist`);
    const rollback = new Rollback();
    return withHandles(hostNetns, req.netns, (host, pod) =>
      rollback.guard(async () => {
        if (await pod.links.find(req.ifName)) {
          throw new CniError(ErrorCode.InvalidEnvironment, `container interface ${req.ifName} already exists in ${req.netns}`);
        }
        const { bridge, created } = await ensureBridge(host, cfg);
        if (created) {
          // A bridge this ADD made goes with it, unless another pod has joined it meanwhile.
          rollback.push(`delete bridge ${cfg.bridge}`, async () => {
            const ports = (await host.links.list()).filter((l) => l.masterIndex === bridge.index);
            if (ports.length === 0) await host.links.delete(cfg.bridge);
          });
        }
        const vethName = hostVethName(req.containerId, req.ifName);
        await host.links.createVeth({ name: vethName, mtu: cfg.mtu ?? bridge.mtu, peer: { name: req.ifName, netns: req.netns } });
        rollback.push(`delete veth ${vethName}`, () => host.links.delete(vethName));
        await host.links.setMaster(vethName, cfg.bridge);
        if (cfg.hairpinMode) await host.links.setBridgePort(vethName, { hairpin: true });
        await host.links.setUp(vethName);

        let ipam: Result = { cniVersion: CURRENT_VERSION };
        if (hasIpam(req)) {
          ipam = await ipamAdd(req);
          rollback.push('release IPAM allocation', () => ipamDel(req));
          if (!ipam.ips?.length) throw new CniError(ErrorCode.InvalidNetworkConfig, `IPAM plugin ${req.config.ipam?.type} returned no IP addresses`);
        }
        const ips = (ipam.ips ?? []).map((ip) => ({ ...ip, interface: CONTAINER_INDEX }));
        const routes = [...(ipam.routes ?? []), ...(cfg.isDefaultGateway ? defaultRoutes(ips, ipam.routes ?? []) : [])];
        if (cfg.isGateway) {
          await ensureGatewayAddresses(host, cfg, ips);
          enableForwarding(hostNetns, ips);
        }
        await configureInterface(pod, req.ifName, ips, routes, { noDad: !cfg.enabledad });
        const [hostVeth, container] = await Promise.all([host.links.get(vethName), pod.links.get(req.ifName)]);

        const podOwner = owner(req.containerId, req.ifName);
        if (cfg.ipMasq && ips.length > 0) {
          rollback.push('remove masquerade', () => firewall.removeMasquerade(podOwner));
          await firewall.addMasquerade(req.config.name, podOwner, ips);
        }
        if (cfg.macspoofchk) {
          rollback.push('remove spoof check', () => firewall.removeSpoofCheck(vethName));
          await firewall.addSpoofCheck(vethName, podOwner, container.mac ?? '', ips);
        }
        return {
          cniVersion: CURRENT_VERSION,
          interfaces: [
            { name: bridge.name, mac: bridge.mac },
            { name: hostVeth.name, mac: hostVeth.mac },
            { name: container.name, mac: container.mac, sandbox: req.netns },
          ],
          ips,
          ...(routes.length > 0 ? { routes } : {}),
          dns: ipam.dns ?? req.config.dns ?? {},
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
    await attempt(async () => {
      const host = await openNetlink(hostNetns);
      try {
        // Deleting the host end removes the container end with it.
        if (await host.links.find(vethName)) await host.links.delete(vethName);
      } catch (err) {
        if (!isNetlinkError(err, 'ENODEV')) throw err;
      } finally {
        host.close();
      }
    });
    if (cfg.ipMasq) await attempt(() => firewall.removeMasquerade(owner(req.containerId, req.ifName)));
    if (cfg.macspoofchk) await attempt(() => firewall.removeSpoofCheck(vethName));
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
