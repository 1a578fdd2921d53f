/**
 * What a service port consists of on a node, in terms both backends share: its frontends
 * (cluster IP, external IPs, load-balancer IPs, node port) and its two endpoint lists. The
 * backends' inspectors (nftables-services.ts, iptables-services.ts) say for each part which
 * kernel objects make it work, and whether the kernel has them now.
 */
import net from 'node:net';
import type { ServicePortState } from '../dataplane/service-state';

export type FrontendKind = 'cluster IP' | 'external IP' | 'load-balancer IP' | 'node port';

export interface Frontend {
  kind: FrontendKind;
  /** Empty for a node port: it is served on every node-port address of the port's family. */
  address: string;
  port: number;
}

/** Which part of a service port a kernel object serves. */
export type PortPart = { frontend: number } | { cluster: number } | { external: number };

/** Packets and bytes a kernel object counted. */
export interface Count {
  packets: number;
  bytes: number;
}

/** One rule or set/map element in the kernel, as `weftctl rules` shows it. */
export interface KernelEntry {
  /** Where it is: "map service-ips-v4", "chain svc-1a2b", "nat WEFT-SERVICES", "ipset weft-svc4". */
  location: string;
  /** The rule or element as the kernel lists it (without counters). */
  text: string;
  /** Absent where the kernel keeps no counter for it. */
  counter?: Count;
  /** What it does, in Kubernetes terms. */
  meaning: string;
  /** Also serves other objects (a shared chain, a set used by many pods). */
  shared: boolean;
}

/** A kernel object a part needs: found in the kernel (with what it counted) or missing. */
export interface PartEntry {
  part: PortPart;
  entry: KernelEntry;
  found: boolean;
}

/** Which parts of one port the kernel has. */
export interface PortPresence {
  frontends: boolean[];
  cluster: boolean[];
  external: boolean[];
}

/** The frontends a node serves for a port: node ports only where it has a node-port address of the family. */
export function frontendsOf(p: ServicePortState, nodePortAddresses: readonly string[]): Frontend[] {
  const out: Frontend[] = [{ kind: 'cluster IP', address: p.clusterIp, port: p.port }];
  for (const address of p.externalIps) out.push({ kind: 'external IP', address, port: p.port });
  for (const address of p.loadBalancerIps) out.push({ kind: 'load-balancer IP', address, port: p.port });
  const family = p.family === 4 ? 4 : 6;
  if (p.nodePort !== undefined && nodePortAddresses.some((a) => net.isIP(a) === family)) out.push({ kind: 'node port', address: '', port: p.nodePort });
  return out;
}

/** Whether a port has external frontends, which use the external endpoint list. */
export const hasExternal = (frontends: readonly Frontend[]): boolean => frontends.some((f) => f.kind !== 'cluster IP');

/** "10.0.0.1:80", "[fd00::1]:80". */
export const hostPort = (address: string, port: number): string => (net.isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`);

/** "10.96.0.10:80 (cluster IP)", "node port 30080". */
export function frontendText(f: Frontend): string {
  return f.kind === 'node port' ? `node port ${f.port}` : `${f.kind} ${hostPort(f.address, f.port)}`;
}

/** Which parts are present: a part is, when every kernel object it needs was found. */
export function presenceOf(entries: readonly PartEntry[], frontends: number, cluster: number, external: number): PortPresence {
  const presence: PortPresence = { frontends: Array(frontends).fill(true), cluster: Array(cluster).fill(true), external: Array(external).fill(true) };
  for (const e of entries) {
    if (e.found) continue;
    if ('frontend' in e.part) presence.frontends[e.part.frontend] = false;
    else if ('cluster' in e.part) presence.cluster[e.part.cluster] = false;
    else presence.external[e.part.external] = false;
  }
  return presence;
}

/** "default/web" port "http" (or unnamed) with protocol: how entries name the port. */
export function portLabel(p: ServicePortState): string {
  return `${p.service}${p.portName ? ` port ${p.portName}` : ''} ${p.port}/${p.protocol.toUpperCase()}`;
}
