/**
 * Readers for the loosely typed fields of Services and EndpointSlices: each returns the value
 * or a reason, so that the caller can report the field by its path and go on with the rest of
 * the object. Pure.
 */
import type { ServiceProtocol } from '../dataplane/service-state';

export type Read<T> = { ok: true; value: T } | { ok: false; reason: string };

export const ok = <T>(value: T): Read<T> => ({ ok: true, value });
export const bad = <T>(reason: string): Read<T> => ({ ok: false, reason });

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An absent field: Kubernetes clients send absent optional fields as missing or null. */
export function absent(v: unknown): v is undefined | null {
  return v === undefined || v === null;
}

/** A TCP/UDP/SCTP port number, 1-65535. */
export function readPortNumber(v: unknown): Read<number> {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) return ok(v);
  return bad(`Invalid value ${JSON.stringify(v)}: must be a port number between 1 and 65535`);
}

const PROTOCOLS = new Map<unknown, Read<ServiceProtocol>>([
  ['TCP', ok('tcp')],
  ['UDP', ok('udp')],
  ['SCTP', ok('sctp')],
]);

/** A Kubernetes protocol name; absent means TCP, as the API server defaults it. */
export function readProtocol(v: unknown): Read<ServiceProtocol> {
  const p = absent(v) ? PROTOCOLS.get('TCP') : PROTOCOLS.get(v);
  return p ?? bad(`Unsupported value ${JSON.stringify(v)}: supported values: "TCP", "UDP", "SCTP"`);
}

/** A port name; absent means '' (an unnamed port), as the API server defaults it. */
export function readPortName(v: unknown): Read<string> {
  if (absent(v)) return ok('');
  return typeof v === 'string' ? ok(v) : bad(`Invalid value ${JSON.stringify(v)}: must be a string`);
}

/** A list field: absent means empty. */
export function readList(v: unknown): Read<unknown[]> {
  if (absent(v)) return ok([]);
  return Array.isArray(v) ? ok(v) : bad(`Invalid value: must be a list, not ${typeof v}`);
}

const UNSET: Read<boolean | undefined> = ok(undefined);
const TRUE: Read<boolean | undefined> = ok(true);
const FALSE: Read<boolean | undefined> = ok(false);

/** An optional boolean (an endpoint condition): absent stays undefined. */
export function readOptionalBoolean(v: unknown): Read<boolean | undefined> {
  // Shared results: this runs three times for every endpoint of every slice.
  if (absent(v)) return UNSET;
  if (typeof v === 'boolean') return v ? TRUE : FALSE;
  return bad(`Invalid value ${JSON.stringify(v)}: must be true or false`);
}
