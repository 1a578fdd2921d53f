/**
 * weft-macvlan: gives the pod a macvlan device on a parent ("master") interface of the node, with
 * the behaviour of the reference `macvlan` plugin, except that a failed ADD undoes what it did.
 *
 * The device is created directly inside the pod's namespace under its final name (the kernel
 * creates it in the target namespace when the request carries one), so there is no temporary
 * name in the host and no rename step.
 */
import { openNetlink, type Link, type NetlinkHandle } from '../../kernel/netlink';
import { netnsExists } from '../../kernel/netns';
import { checkInterface, configureInterface, ipsOfInterface } from '../attach/container-iface';
import { hasIpam, ipamAdd, ipamCheck, ipamDel } from '../attach/ipam';
import { Rollback } from '../attach/rollback';
import type { AttachmentRequest, CniPlugin, PluginOptions } from '../plugin';
import { CHECK_MISMATCH, CURRENT_VERSION, CniError, ErrorCode, type Result } from '../types';
import { parseMacvlanConfig, type MacvlanConfig } from './config';

/** The interface of the default route (IPv4 first, then IPv6), as the reference picks it. */
async function defaultRouteInterface(nl: NetlinkHandle): Promise<string | undefined> {
  for (const family of [4, 6] as const) {
    const route = (await nl.routes.list({ family })).find((r) => r.dst === (family === 4 ? '0.0.0.0/0' : '::/0') && r.oif !== undefined && r.table === 254);
    if (route?.oif !== undefined) return (await nl.links.find(route.oif))?.name;
  }
  return undefined;
}

async function resolveMaster(nl: NetlinkHandle, cfg: MacvlanConfig): Promise<Link> {
  const name = cfg.master ?? (await defaultRouteInterface(nl));
  if (!name) throw new CniError(ErrorCode.InvalidNetworkConfig, `no master given and no default route in ${nl.netns} to take it from`);
  const master = await nl.links.find(name);
  if (!master) throw new CniError(ErrorCode.InvalidNetworkConfig, `master interface ${name} not found in ${nl.netns}`);
  if (cfg.mtu !== undefined && cfg.mtu > master.mtu) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `mtu ${cfg.mtu} is larger than the MTU ${master.mtu} of master ${name}`);
  }
  return master;
}

export function createMacvlanPlugin(options: PluginOptions = {}): CniPlugin {
  const { hostNetns } = options;

  async function add(req: AttachmentRequest): Promise<Result> {
    const cfg = parseMacvlanConfig(req.config, req.args);
    if (!netnsExists(req.netns)) throw new CniError(ErrorCode.InvalidEnvironment, `network namespace ${req.netns} does not exist`);
    const pod = await openNetlink(req.netns);
    const host = cfg.linkInContainer ? pod : await openNetlink(hostNetns);
    const rollback = new Rollback();
    try {
      return await rollback.guard(async () => {
        if (await pod.links.find(req.ifName)) {
          throw new CniError(ErrorCode.InvalidEnvironment, `container interface ${req.ifName} already exists in ${req.netns}`);
        }
        const master = await resolveMaster(host, cfg);
        await host.links.createMacvlan({
          name: req.ifName,
          master: master.index,
          mode: cfg.mode,
          mtu: cfg.mtu,
          mac: cfg.mac,
          ...(cfg.linkInContainer ? {} : { netns: req.netns }),
        });
        rollback.push(`delete ${req.ifName}`, () => pod.links.delete(req.ifName));

        let ipam: Result = { cniVersion: CURRENT_VERSION };
        if (hasIpam(req)) {
          ipam = await ipamAdd(req);
          rollback.push('release IPAM allocation', () => ipamDel(req));
          if (!ipam.ips?.length) throw new CniError(ErrorCode.InvalidNetworkConfig, `IPAM plugin ${req.config.ipam?.type} returned no IP addresses`);
        }
        const ips = (ipam.ips ?? []).map((ip) => ({ ...ip, interface: 0 }));
        const routes = ipam.routes ?? [];
        // No DAD: the address must work when ADD returns, as the reference's settle step ensures.
        await configureInterface(pod, req.ifName, ips, routes, { noDad: true });
        const link = await pod.links.get(req.ifName);
        return {
          cniVersion: CURRENT_VERSION,
          interfaces: [{ name: link.name, mac: link.mac, sandbox: req.netns }],
          ips,
          ...(routes.length > 0 ? { routes } : {}),
          dns: ipam.dns ?? req.config.dns ?? {},
        };
      });
    } finally {
      pod.close();
      if (host !== pod) host.close();
    }
  }

  async function del(req: AttachmentRequest): Promise<void> {
    parseMacvlanConfig(req.config, req.args);
    let failure: unknown;
    if (req.netns && netnsExists(req.netns)) {
      const pod = await openNetlink(req.netns);
      try {
        const link = await pod.links.find(req.ifName);
        if (link?.kind === 'macvlan') await pod.links.delete(link.index);
      } catch (err) {
        failure = err;
      } finally {
        pod.close();
      }
    }
    // The allocation is released whatever happened to the device.
    if (hasIpam(req)) await ipamDel(req);
    if (failure) throw failure;
  }

  async function check(req: AttachmentRequest): Promise<void> {
    const cfg = parseMacvlanConfig(req.config, req.args);
    const prev = req.config.prevResult;
    if (!prev) throw new CniError(ErrorCode.InvalidNetworkConfig, 'CHECK needs prevResult, the result of the ADD');
    if (hasIpam(req)) await ipamCheck(req);
    const index = (prev.interfaces ?? []).findIndex((i) => i.name === req.ifName && i.sandbox === req.netns);
    if (index < 0) throw new CniError(CHECK_MISMATCH, `prevResult lists no interface ${req.ifName} in ${req.netns}`);
    const pod = await openNetlink(req.netns);
    try {
      const link = await pod.links.find(req.ifName);
      if (!link) throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} not found in ${req.netns}`);
      if (link.kind !== 'macvlan') throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} is a ${link.kind ?? 'device'}, not a macvlan`);
      const mode = link.info?.macvlan?.mode;
      if (mode !== cfg.mode) throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} is in macvlan mode ${String(mode)}, the config says ${cfg.mode}`);
      const expectedMac = prev.interfaces?.[index].mac;
      if (expectedMac && link.mac !== expectedMac.toLowerCase()) {
        throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} has MAC ${link.mac}, prevResult says ${expectedMac}`);
      }
      await checkInterface(pod, req.ifName, ipsOfInterface(prev, index), prev.routes ?? []);
    } finally {
      pod.close();
    }
  }

  return { name: 'weft-macvlan', add, del, check };
}

export const macvlanPlugin = createMacvlanPlugin();
