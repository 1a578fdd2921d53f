/**
 * What the API server does to a Service on create and update, for the lab: allocates a
 * ClusterIP from the service CIDR (10.96.0.0/16, the first addresses kept back as in
 * Kubernetes), refuses one that is taken or outside the range, keeps the allocated address
 * across updates that do not name it, and refuses to change it. Pure.
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
export function admitService(svc: KubeObject, existing: KubeObject | undefined, all: Iterable<KubeObject>): KubeObject {
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
  if (ip !== 'None') {
    const families = spec.ipFamilies;
    if (Array.isArray(families) && families.some((f) => f !== 'IPv4')) throw new Error(`${where}: spec.ipFamilies: the lab allocates IPv4 ClusterIPs only (headless Services may be dual-stack)`);
    spec.ipFamilies = spec.ipFamilies ?? ['IPv4'];
    spec.ipFamilyPolicy = spec.ipFamilyPolicy ?? 'SingleStack';
  }
  return { ...svc, spec };
}
