/**
 * weft-ipam as a CNI plugin: the CNI verbs mapped onto the in-process API (allocator.ts). The
 * protocol itself (environment, stdin, versions, error JSON) is cni/skel's job.
 */
import type { AttachmentRequest, CniPlugin, GcRequest, NetworkRequest } from '../cni/plugin';
import { CURRENT_VERSION, type Result } from '../cni/types';
import { allocate, checkAllocation, gc, release, storeStatus } from './allocator';
import { parseIpamConfig, requestedAddresses } from './config';

export const ipamPlugin: CniPlugin = {
  name: 'weft-ipam',

  async add(req: AttachmentRequest): Promise<Result> {
    const conf = parseIpamConfig(req.config);
    const requested = requestedAddresses(req.config, req.args);
    const { ips, routes, dns } = allocate(conf, req.containerId, req.ifName, requested);
    return { cniVersion: CURRENT_VERSION, ips, ...(routes.length > 0 ? { routes } : {}), ...(dns ? { dns } : {}) };
  },

  async del(req: AttachmentRequest): Promise<void> {
    release(parseIpamConfig(req.config), req.containerId, req.ifName);
  },

  async check(req: AttachmentRequest): Promise<void> {
    checkAllocation(parseIpamConfig(req.config), req.containerId, req.ifName, req.config.prevResult?.ips ?? []);
  },

  async status(req: NetworkRequest): Promise<void> {
    storeStatus(parseIpamConfig(req.config));
  },

  async gc(req: GcRequest): Promise<void> {
    gc(parseIpamConfig(req.config), req.validAttachments);
  },
};
