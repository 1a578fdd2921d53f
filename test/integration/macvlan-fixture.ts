/**
 * The set-up the weft-macvlan tests share: a "node" namespace whose veth end `up0` is the master
 * (this kernel has no dummy links), weft-ipam with a data directory of the test's own, and
 * requests built the way cni/skel builds them.
 */
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { createMacvlanPlugin } from '../../cni/macvlan';
import type { AttachmentRequest, CniPlugin } from '../../cni/plugin';
import type { NetConf, Result } from '../../cni/types';
import { withNetlink } from '../../kernel/netlink';
import { WEFT_BIN_DIR } from '../../lab/cni-exec';
import { tempNetns } from '../helpers/netns';
import { snapshot } from '../helpers/snapshot';
import { tempDir } from '../helpers/tmp';

export const NETWORK = 'mv-test';

export interface Node {
  netns: string;
  plugin: CniPlugin;
  dataDir: string;
}

/** A node whose master `up0` has 192.0.2.10/24 and the IPv4 default route. */
export async function node(t: ExecutionContext): Promise<Node> {
  const netns = tempNetns(t, 'node');
  await withNetlink(netns, async (nl) => {
    await nl.links.createVeth({ name: 'up0', up: true, peer: { name: 'up0-peer' } });
    await nl.links.setUp('up0-peer');
    await nl.addresses.add('up0', '192.0.2.10/24');
    await nl.routes.add({ dst: 'default', gateway: '192.0.2.1' });
  });
  const dataDir = tempDir(t, 'macvlan');
  return { netns, plugin: createMacvlanPlugin({ hostNetns: netns }), dataDir };
}

export const V4 = [{ subnet: '10.96.50.0/24' }];
export const V6 = [{ subnet: 'fd96:50::/64' }];
export const DUAL = [V4, V6];

export function config(n: Node, extra: Record<string, unknown> = {}, ranges: object[][] = DUAL, ipamExtra: object = {}): NetConf {
  return {
    cniVersion: '1.1.0',
    name: NETWORK,
    type: 'weft-macvlan',
    master: 'up0',
    ipam: { type: 'weft-ipam', dataDir: n.dataDir, ranges, ...ipamExtra },
    ...extra,
  };
}

export function request(conf: NetConf, netns: string, containerId: string, args: [string, string][] = []): AttachmentRequest {
  return { containerId, netns, ifName: 'eth0', args: new Map(args), path: [WEFT_BIN_DIR], config: conf, rawConfig: Buffer.from(JSON.stringify(conf)) };
}

export function withPrev(req: AttachmentRequest, prevResult: Result): AttachmentRequest {
  return { ...req, config: { ...req.config, prevResult } };
}

export interface Pod {
  netns: string;
  req: AttachmentRequest;
  result: Result;
  /** The pod's address of one family, without the prefix length. */
  ip(v6: boolean): string;
}

export async function pod(t: ExecutionContext, n: Node, conf: NetConf, label: string, args: [string, string][] = []): Promise<Pod> {
  const netns = tempNetns(t, label);
  const req = request(conf, netns, `ctr-${label}`, args);
  const result = await n.plugin.add(req);
  const ip = (v6: boolean) => {
    const found = (result.ips ?? []).map((i) => i.address.split('/')[0]).find((a) => a.includes(':') === v6);
    if (found === undefined) throw new Error(`pod ${label} has no IPv${v6 ? 6 : 4} address`);
    return found;
  };
  return { netns, req, result, ip };
}

/** The addresses weft-ipam holds for the test network (one file per address in its store). */
export function allocated(n: Node): string[] {
  const dir = path.join(n.dataDir, NETWORK);
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$|:/.test(f)).sort() : [];
}

/**
 * Runs an ADD that must fail with `expected` and asserts that node, pod and IPAM store are
 * exactly as before it; returns the error for its code.
 */
export async function failingAdd(t: ExecutionContext, n: Node, req: AttachmentRequest, expected: RegExp): Promise<{ code?: number }> {
  const beforeNode = await snapshot(n.netns);
  const beforePod = await snapshot(req.netns);
  const beforeStore = allocated(n);
  const err = await t.throwsAsync(n.plugin.add(req));
  t.regex(err?.message ?? '', expected);
  t.deepEqual(await snapshot(n.netns), beforeNode, 'node unchanged');
  t.deepEqual(await snapshot(req.netns), beforePod, 'pod unchanged');
  t.deepEqual(allocated(n), beforeStore, 'no address kept');
  return err as { code?: number };
}
