/**
 * The words of a policy question as people type them: an end of a connection (`NS/POD`, an IP
 * address, `svc/NS/NAME`) and a port (`80`, `53/UDP`). Parsed here, once, for every front end
 * (weftctl offline, the agent's API online), with errors that say what was expected.
 */
import type { PolicyProtocol } from '../../agent/dataplane/policy-state';
import { canonicalIpText } from '../address';

/** A question the objects cannot answer (unknown pod, bad port): said in one line. */
export class QueryError extends Error {
  override name = 'QueryError';
}

/** The question names something the objects do not have (a pod, a Service, a namespace). */
export class NotFoundError extends QueryError {
  override name = 'NotFoundError';
}

export type EndRef =
  | { kind: 'address'; ip: string }
  /** `NS/NAME`: a pod, or a Service when no pod has that name; `pod/NS/NAME` a pod only. */
  | { kind: 'pod'; namespace: string; name: string; explicit: boolean }
  | { kind: 'service'; namespace: string; name: string };

export interface PortSpec {
  protocol: PolicyProtocol;
  port: number;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const PROTOCOLS: Readonly<Record<string, PolicyProtocol>> = { tcp: 'tcp', udp: 'udp', sctp: 'sctp' };

/** `what` names the option in errors ("--to"). Services only where `services` is true. */
export function parseEndRef(text: string, what: string, services: boolean): EndRef {
  const ip = canonicalIpText(text);
  if (ip) return { kind: 'address', ip };
  const parts = text.split('/');
  const expected = `expected NS/POD${services ? ', svc/NS/SERVICE' : ''} or an IP address`;
  let kind: 'pod' | 'service' = 'pod';
  let explicit = false;
  if (parts.length === 3) {
    const prefix = parts.shift()!.toLowerCase();
    if (prefix === 'pod' || prefix === 'pods' || prefix === 'po') explicit = true;
    else if (services && (prefix === 'svc' || prefix === 'service' || prefix === 'services')) kind = 'service';
    else throw new QueryError(`${what} ${JSON.stringify(text)}: ${expected}`);
  }
  const [namespace, name] = parts;
  if (parts.length !== 2 || !NAME.test(namespace) || !NAME.test(name)) throw new QueryError(`${what} ${JSON.stringify(text)}: ${expected}`);
  return kind === 'service' ? { kind, namespace, name } : { kind, namespace, name, explicit };
}

/** `N`, `N/TCP`, `N/udp`, `N/SCTP`: TCP when no protocol is given. */
export function parsePortSpec(text: string, what = '--port'): PortSpec {
  const m = /^(\d{1,5})(?:\/([A-Za-z]+))?$/.exec(text.trim());
  const port = m ? Number(m[1]) : NaN;
  const protocol = m ? PROTOCOLS[(m[2] ?? 'tcp').toLowerCase()] : undefined;
  if (!m || port < 1 || port > 65535) throw new QueryError(`${what} ${JSON.stringify(text)}: expected a port number 1-65535, optionally with /TCP, /UDP or /SCTP`);
  if (!protocol) throw new QueryError(`${what} ${JSON.stringify(text)}: protocol ${m[2]} is not TCP, UDP or SCTP`);
  return { protocol, port };
}

/** "80/TCP", as Kubernetes writes ports. */
export function portSpecText(p: PortSpec): string {
  return `${p.port}/${p.protocol.toUpperCase()}`;
}

/** Sorted by protocol then number, duplicates removed. */
export function uniquePortSpecs(specs: readonly PortSpec[]): PortSpec[] {
  const byKey = new Map(specs.map((s) => [portSpecText(s), s]));
  return [...byKey.values()].sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : a.port - b.port));
}
