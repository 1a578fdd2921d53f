/**
 * What the API server does to a Service on create and update, for the lab: allocates a
 * ClusterIP from the service CIDR (10.96.0.0/16, the first addresses kept back as in
 * Kubernetes), refuses one that is taken or outside the range, keeps the allocated address
 * across updates that do not name it, and refuses to change it. Likewise node ports (NodePort
 * and LoadBalancer services) and health-check node ports (LoadBalancer with
 * externalTrafficPolicy Local) from 30000-32767. Pure.
 */
import type { KubeObject } from '../../agent/objects';
import { objectKey } from '../../agent/objects';

const BASE = [10, 96];
/** .0.0 is the network, .0.1 is kubernetes.default, .0.10 is DNS by convention. */
const FIRST_DYNAMIC = 16;
const SIZE = 65536;

function toIp(offset: number): string {
  return `${BASE[0]}.${BASE[1]}.${offset >> 8}.${offset & 255}`;
}

function offsetOf(ip: string): number | undefined {
  const m = /^10\.96\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a <= 255 && b <= 255 ? a * 256 + b : undefined;
}

function clusterIpOf(svc: KubeObject | undefined): string | undefined {
  const ip = svc?.spec?.clusterIP;
  return typeof ip === 'string' && ip !== '' ? ip : undefined;
}

/** The Service as stored: with its ClusterIP (and clusterIPs) filled in. */
export function admitService(svc: KubeObject, existing: KubeObject | undefined, stored: Iterable<KubeObject>): KubeObject {
  // Read twice (addresses, then node ports): an iterator would be spent after the first.
  const all = [...stored];
  const where = `Service ${svc.metadata.namespace}/${svc.metadata.name}`;
  const spec = { ...(svc.spec ?? {}) };
  const type = spec.type ?? 'ClusterIP';
  if (!['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'].includes(String(type))) throw new Error(`${where}: spec.type: Unsupported value ${JSON.stringify(type)}`);
  if (type === 'ExternalName') return { ...svc, spec };
  const wanted = clusterIpOf(svc);
  const before = clusterIpOf(existing);
  if (before && wanted && wanted !== before) throw new Error(`${where}: spec.clusterIP: Invalid value ${JSON.stringify(wanted)}: field is immutable (it is ${before})`);
  let ip = wanted ?? before;
  if (ip !== 'None') {
    const used = new Set<number>();
    for (const o of all) {
      if (o.kind !== 'Service' || objectKey(o) === objectKey(svc)) continue;
      const off = offsetOf(clusterIpOf(o) ?? '');
      if (off !== undefined) used.add(off);
    }
    if (ip === undefined) {
      let off = FIRST_DYNAMIC;
      while (off < SIZE - 1 && used.has(off)) off++;
      if (off >= SIZE - 1) throw new Error(`${where}: the service range 10.96.0.0/16 is full`);
      ip = toIp(off);
    } else {
      const off = offsetOf(ip);
      if (off === undefined || off === 0 || off === SIZE - 1) throw new Error(`${where}: spec.clusterIP: Invalid value ${JSON.stringify(ip)}: not in the lab's service range 10.96.0.0/16`);
      if (used.has(off) && ip !== before) throw new Error(`${where}: spec.clusterIP: Invalid value ${JSON.stringify(ip)}: provided IP is already allocated`);
    }
  }
  spec.clusterIP = ip;
  spec.clusterIPs = [ip];
  spec.type = type;
  Object.assign(spec, admitNodePorts(where, spec, existing, all, objectKey(svc)));
  if (ip !== 'None') {
    const families = spec.ipFamilies;
    if (Array.isArray(families) && families.some((f) => f !== 'IPv4')) throw new Error(`${where}: spec.ipFamilies: the lab allocates IPv4 ClusterIPs only (headless Services may be dual-stack)`);
    spec.ipFamilies = spec.ipFamilies ?? ['IPv4'];
    spec.ipFamilyPolicy = spec.ipFamilyPolicy ?? 'SingleStack';
  }
  return { ...svc, spec };
}

/** The API server's default --service-node-port-range. */
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

interface PortSpec {
  name?: unknown;
  protocol?: unknown;
  nodePort?: unknown;
  [field: string]: unknown;
}

const portsOf = (spec: Record<string, unknown> | undefined): PortSpec[] =>
  Array.isArray(spec?.ports) ? (spec.ports as unknown[]).filter((p): p is PortSpec => typeof p === 'object' && p !== null) : [];

/** A node port a client named: 0 and absent mean "allocate one", as in the API. */
const requested = (v: unknown): unknown => (v === undefined || v === null || v === 0 ? undefined : v);

function wantsNodePorts(spec: Record<string, unknown> | undefined): boolean {
  return spec?.type === 'NodePort' || (spec?.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
}

function wantsHealthCheckPort(spec: Record<string, unknown> | undefined): boolean {
  return spec?.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
}

/** The node ports and health-check port a stored Service holds. */
function nodePortsHeld(svc: KubeObject): number[] {
  const held = portsOf(svc.spec).map((p) => p.nodePort);
  held.push(svc.spec?.healthCheckNodePort);
  return held.filter((n): n is number => typeof n === 'number' && n > 0);
}

/**
 * spec.ports[].nodePort and spec.healthCheckNodePort as the API server leaves them: named ones
 * checked (in range, not held by another Service), missing ones taken over from the stored
 * Service (node ports by port name) or else allocated, lowest free first (the API server picks
 * at random; the lab prefers predictable numbers). One Service may use a number for two
 * protocols of a port (DNS on TCP and UDP), never twice for one protocol.
 */
function admitNodePorts(where: string, spec: Record<string, unknown>, existing: KubeObject | undefined, all: Iterable<KubeObject>, self: string): Record<string, unknown> {
  const taken = new Set<number>();
  for (const o of all) if (o.kind === 'Service' && objectKey(o) !== self) for (const n of nodePortsHeld(o)) taken.add(n);
  const ports = portsOf(spec).map((p) => ({ ...p }));
  const used = new Set<number>();
  const check = (path: string, value: unknown): number => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < NODE_PORT_MIN || value > NODE_PORT_MAX) {
      throw new Error(`${where}: ${path}: Invalid value: ${JSON.stringify(value)}: provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`);
    }
    if (taken.has(value)) throw new Error(`${where}: ${path}: Invalid value: ${value}: provided port is already allocated`);
    return value;
  };
  const allocate = (path: string): number => {
    for (let n = NODE_PORT_MIN; n <= NODE_PORT_MAX; n++) if (!taken.has(n) && !used.has(n)) return n;
    throw new Error(`${where}: ${path}: Internal error: range of valid node ports ${NODE_PORT_MIN}-${NODE_PORT_MAX} is full`);
  };

  if (!wantsNodePorts(spec)) {
    // A LoadBalancer without allocated node ports may still name some; other types may not.
    ports.forEach((p, i) => {
      if (requested(p.nodePort) === undefined) return;
      if (spec.type !== 'LoadBalancer') throw new Error(`${where}: spec.ports[${i}].nodePort: Forbidden: may not be used when \`type\` is '${String(spec.type)}'`);
      used.add((p.nodePort = check(`spec.ports[${i}].nodePort`, p.nodePort)));
    });
  } else {
    const seen = new Set<string>();
    ports.forEach((p, i) => {
      if (requested(p.nodePort) === undefined) return;
      const n = check(`spec.ports[${i}].nodePort`, p.nodePort);
      const id = `${n}/${String(p.protocol ?? 'TCP')}`;
      if (seen.has(id)) throw new Error(`${where}: spec.ports[${i}].nodePort: Duplicate value: ${JSON.stringify(id)}`);
      seen.add(id);
      used.add((p.nodePort = n));
    });
    // Ports the update does not give a node port keep the one they had, by name.
    const before = new Map<string, number>();
    if (existing && wantsNodePorts(existing.spec)) {
      for (const p of portsOf(existing.spec)) if (typeof p.nodePort === 'number' && p.nodePort > 0) before.set(String(p.name ?? ''), p.nodePort);
    }
    for (const p of ports) {
      if (requested(p.nodePort) !== undefined) continue;
      const kept = before.get(String(p.name ?? ''));
      if (kept !== undefined && !used.has(kept) && !taken.has(kept)) used.add((p.nodePort = kept));
    }
    ports.forEach((p, i) => {
      if (requested(p.nodePort) === undefined) used.add((p.nodePort = allocate(`spec.ports[${i}].nodePort`)));
    });
  }

  const out: Record<string, unknown> = Array.isArray(spec.ports) ? { ports } : {};
  const hc = requested(spec.healthCheckNodePort);
  if (!wantsHealthCheckPort(spec)) {
    if (hc !== undefined) throw new Error(`${where}: spec.healthCheckNodePort: Invalid value: ${JSON.stringify(hc)}: may only be set when \`type\` is 'LoadBalancer' and \`externalTrafficPolicy\` is 'Local'`);
    return out;
  }
  if (hc !== undefined) {
    const n = check('spec.healthCheckNodePort', hc);
    if (used.has(n)) throw new Error(`${where}: spec.healthCheckNodePort: Invalid value: ${n}: provided port is already allocated`);
    out.healthCheckNodePort = n;
    return out;
  }
  const kept = existing && wantsHealthCheckPort(existing.spec) ? requested(existing.spec?.healthCheckNodePort) : undefined;
  out.healthCheckNodePort = typeof kept === 'number' && !used.has(kept) && !taken.has(kept) ? kept : allocate('spec.healthCheckNodePort');
  return out;
}
