/**
 * Port sets as policy rules give them: resolution of a rule's ports against a pod's named
 * ports, and the normal form of what a peer may use (sorted, disjoint, adjacent ranges merged,
 * `'all'` absorbing everything).
 */
import type { PolicyProtocol, PortRange } from '../agent/dataplane/policy-state';
import { namedPortKey } from './cluster';
import type { PortEntry } from './parse';

const PROTOCOL_ORDER: Readonly<Record<PolicyProtocol, number>> = { tcp: 0, udp: 1, sctp: 2 };

/** Every port of a protocol (port 0 included: "all ports" is meant literally). */
export const ALL_PORTS = { first: 0, last: 65535 };

/**
 * What a rule's ports allow on one destination: `'all'` for a rule without ports; otherwise the
 * ranges, named ports looked up with `namedPorts` (`name/protocol` to numbers; a name the
 * destination does not define allows nothing on it).
 */
export function resolvePorts(entries: readonly PortEntry[] | null, namedPorts: (key: string) => readonly number[] | undefined): 'all' | PortRange[] {
  if (entries === null) return 'all';
  const out: PortRange[] = [];
  for (const e of entries) {
    if (e.kind === 'all') out.push({ protocol: e.protocol, ...ALL_PORTS });
    else if (e.kind === 'range') out.push({ protocol: e.protocol, first: e.first, last: e.last });
    else for (const port of namedPorts(namedPortKey(e.name, e.protocol)) ?? []) out.push({ protocol: e.protocol, first: port, last: port });
  }
  return out;
}

/** Sorted by protocol (tcp, udp, sctp) and first port; overlapping and adjacent ranges merged. */
export function normalizePortRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => PROTOCOL_ORDER[a.protocol] - PROTOCOL_ORDER[b.protocol] || a.first - b.first || a.last - b.last);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.protocol === r.protocol && r.first <= last.last + 1) last.last = Math.max(last.last, r.last);
    else out.push({ protocol: r.protocol, first: r.first, last: r.last });
  }
  return out;
}

/** Whether a port set allows a packet (any protocol for 'all'; others have no ports to match). */
export function portsAllow(ports: 'all' | readonly PortRange[], protocol: string, port: number | undefined): boolean {
  if (ports === 'all') return true;
  if (port === undefined) return false;
  return ports.some((r) => r.protocol === protocol && r.first <= port && port <= r.last);
}
