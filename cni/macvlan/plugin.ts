/**
 * weft-macvlan: gives the pod a macvlan device on a parent ("master") interface of the node, with
 * the behaviour of the reference `macvlan` plugin, except that a failed ADD undoes what it did.
 *
 * The device is created directly inside the pod's namespace under its final name (the kernel
 * creates it in the target namespace, and checks the name there, when the request carries
 * one), so there is no temporary name in the host and no rename step.
 */
import { isNetlinkError, openNetlink, type NetlinkHandle } from '../../kernel/netlink';
import { netnsExists } from '../../kernel/netns';
import { checkInterface, configureInterface, ipsOfInterface, requirePodNetns } from '../attach/container-iface';
import { addressInterface, hasIpam, ipamCheck, ipamDel } from '../attach/ipam';
import { Rollback } from '../attach/rollback';
import type { AttachmentRequest, CniPlugin, PluginOptions } from '../plugin';
import { CHECK_MISMATCH, CURRENT_VERSION, CniError, ErrorCode, type Result } from '../types';
import { parseMacvlanConfig, type MacvlanConfig } from './config';
import { findMaster, missingMasterMessage } from './master';
import { announceAddressesOnUp } from './neighbour-notify';

/**
 * Runs `fn` with a handle in the pod's namespace and one where the master lives: the host, or
 * the pod itself with linkInContainer (then both are the same handle).
 */
async function withHandles<T>(
  hostNetns: string | undefined,
  cfg: MacvlanConfig,
  podNetns: string,
  fn: (pod: NetlinkHandle, masterNs: NetlinkHandle) => Promise<T>,
): Promise<T> {
  const pod = await openNetlink(podNetns);
  try {
    if (cfg.linkInContainer) return await fn(pod, pod);
    const host = await openNetlink(hostNetns);
    try {
      return await fn(pod, host);
    } finally {
      host.close();
    }
  } finally {
    pod.close();
  }
}

export function createMacvlanPlugin(options: PluginOptions = {}): CniPlugin {
  const { hostNetns } = options;

  async function add(req: AttachmentRequest): Promise<Result> {
    const cfg = parseMacvlanConfig(req.config, req.args);
    requirePodNetns(req.netns);
    const rollback = new Rollback();
    return withHandles(hostNetns, cfg, req.netns, (pod, masterNs) =>
      rollback.guard(async () => {
        if (await pod.links.find(req.ifName)) {
          throw new CniError(ErrorCode.InvalidEnvironment, `container interface ${req.ifName} already exists in ${req.netns}`);
        }
        const master = await findMaster(masterNs, cfg);
        if (!master.found) throw new CniError(ErrorCode.InvalidNetworkConfig, missingMasterMessage(master, masterNs.netns));
        if (cfg.mtu !== undefined && cfg.mtu > master.link.mtu) {
          throw new CniError(ErrorCode.InvalidNetworkConfig, `mtu ${cfg.mtu} is larger than the MTU ${master.link.mtu} of master ${master.link.name}`);
        }
        await masterNs.links.createMacvlan({
          name: req.ifName,
          master: master.link.index,
          mode: cfg.mode,
          mtu: cfg.mtu,
          mac: cfg.mac,
          ...(cfg.linkInContainer ? {} : { netns: req.netns }),
        });
        rollback.push(`delete ${req.ifName}`, () => pod.links.delete(req.ifName));

        const { ips, routes, dns } = await addressInterface(req, rollback, 0);
        if (ips.length > 0) announceAddressesOnUp(req.netns, req.ifName);
        // No DAD: the address must work when ADD returns, as the reference's settle step ensures.
        await configureInterface(pod, req.ifName, ips, routes, { noDad: true });
        // Read back: the kernel picks the MAC when the config gives none.
        const link = await pod.links.get(req.ifName);
        return {
          cniVersion: CURRENT_VERSION,
          interfaces: [{ name: link.name, mac: link.mac, sandbox: req.netns }],
          // Without IPAM the attachment is L2 only and the result has no `ips`, as the reference's.
          ...(ips.length > 0 ? { ips } : {}),
          ...(routes.length > 0 ? { routes } : {}),
          dns,
        };
      }),
    );
  }

  /** Removes the pod's macvlan if it is still there; a missing namespace or device is success. */
  async function deleteDevice(req: AttachmentRequest): Promise<void> {
    if (!req.netns || !netnsExists(req.netns)) return;
    const pod = await openNetlink(req.netns);
    try {
      const link = await pod.links.find(req.ifName);
      // Only a macvlan is ours: another device under that name was made by someone else.
      if (link?.kind === 'macvlan') await pod.links.delete(link.index);
    } catch (err) {
      if (!isNetlinkError(err, 'ENODEV')) throw err;
    } finally {
      pod.close();
    }
  }

  async function del(req: AttachmentRequest): Promise<void> {
    // The macvlan keys are not read: DEL needs none of them, and a DEL must not fail on them.
    let failure: unknown;
    try {
      await deleteDevice(req);
    } catch (err) {
      failure = err;
    }
    // The allocation is released whatever happened to the device, last so that a new ADD given
    // the address never meets this pod's device.
    if (hasIpam(req)) await ipamDel(req);
    if (failure) throw failure;
  }

  async function check(req: AttachmentRequest): Promise<void> {
    const cfg = parseMacvlanConfig(req.config, req.args);
    const prev = req.config.prevResult;
    if (!prev) throw new CniError(ErrorCode.InvalidNetworkConfig, 'CHECK needs prevResult, the result of the ADD');
    requirePodNetns(req.netns);
    if (hasIpam(req)) await ipamCheck(req);
    const index = (prev.interfaces ?? []).findIndex((i) => i.name === req.ifName && i.sandbox === req.netns);
    if (index < 0) throw new CniError(CHECK_MISMATCH, `prevResult lists no interface ${req.ifName} in ${req.netns}`);
    const expectedMac = prev.interfaces?.[index].mac;
    await withHandles(hostNetns, cfg, req.netns, async (pod, masterNs) => {
      const link = await pod.links.find(req.ifName);
      if (!link) throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} not found in ${req.netns}`);
      if (link.kind !== 'macvlan') throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} is a ${link.kind ?? 'device'}, not a macvlan`);
      const mode = link.info?.macvlan?.mode;
      if (mode !== cfg.mode) throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} is in macvlan mode ${String(mode)}, the config says ${cfg.mode}`);
      if (expectedMac && link.mac !== expectedMac.toLowerCase()) {
        throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} has MAC ${link.mac}, prevResult says ${expectedMac}`);
      }
      const master = await findMaster(masterNs, cfg);
      if (!master.found) throw new CniError(CHECK_MISMATCH, missingMasterMessage(master, masterNs.netns));
      if (link.parentIndex !== master.link.index) {
        throw new CniError(CHECK_MISMATCH, `interface ${req.ifName} is not on master ${master.link.name}`);
      }
      await checkInterface(pod, req.ifName, ipsOfInterface(prev, index), prev.routes ?? []);
    });
  }

  return { name: 'weft-macvlan', add, del, check };
}

export const macvlanPlugin = createMacvlanPlugin();
