/**
 * The lab's EndpointSlice controller: for every Service with a selector, the slices Kubernetes'
 * controller would maintain -- one per address family and per distinct set of resolved ports
 * (a named targetPort may map to different numbers in different pods), with a ready endpoint
 * per running pod the selector matches, labelled with the Service's name and managed-by the
 * controller. Slices without the managed-by label (written by hand) are left alone. Pure.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import type { KubeObject } from '../../agent/objects';
import { objectKey } from '../../agent/objects';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const CONTROLLER = 'endpointslice-controller.k8s.io';

interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
  appProtocol?: string;
}

interface SlicePort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function selectorMatches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function containerPorts(pod: KubeObject): { name?: string; containerPort: number; protocol: string }[] {
  const containers = Array.isArray(pod.spec?.containers) ? (pod.spec?.containers as unknown[]) : [];
  return containers.flatMap((c) => (isRecord(c) && Array.isArray(c.ports) ? (c.ports as { name?: string; containerPort: number; protocol?: string }[]) : [])).map((p) => ({ ...p, protocol: p.protocol ?? 'TCP' }));
}

/** The Service's ports as this pod serves them; a named targetPort the pod lacks is left out. */
function resolvePorts(ports: ServicePort[], pod: KubeObject): SlicePort[] {
  const out: SlicePort[] = [];
  for (const sp of ports) {
    const protocol = sp.protocol ?? 'TCP';
    const target = sp.targetPort ?? sp.port;
    let port: number | undefined;
    if (typeof target === 'number') port = target;
    else if (/^\d+$/.test(target)) port = Number(target);
    else port = containerPorts(pod).find((cp) => cp.name === target && cp.protocol === protocol)?.containerPort;
    if (port !== undefined) out.push({ name: sp.name ?? '', port, protocol, ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
  }
  return out;
}

function podIPs(pod: KubeObject): string[] {
  const status = pod.status ?? {};
  const list = Array.isArray(status.podIPs) ? (status.podIPs as { ip?: unknown }[]).map((p) => p.ip) : [status.podIP];
  return list.filter((ip): ip is string => typeof ip === 'string' && net.isIP(ip) !== 0);
}

function serviceFamilies(svc: KubeObject): ('IPv4' | 'IPv6')[] {
  const families = svc.spec?.ipFamilies;
  if (Array.isArray(families) && families.length > 0) return families.filter((f): f is 'IPv4' | 'IPv6' => f === 'IPv4' || f === 'IPv6');
  return ['IPv4'];
}

const shortHash = (text: string) => crypto.createHash('sha256').update(text).digest('hex').slice(0, 5);

function slicesFor(svc: KubeObject, pods: KubeObject[]): KubeObject[] {
  const selector = svc.spec?.selector;
  if (!isRecord(selector) || Object.keys(selector).length === 0 || svc.spec?.type === 'ExternalName') return [];
  const ns = svc.metadata.namespace;
  const ports = (Array.isArray(svc.spec?.ports) ? svc.spec?.ports : []) as ServicePort[];
  const matching = pods.filter((p) => p.metadata.namespace === ns && p.status?.phase === 'Running' && selectorMatches(selector as Record<string, string>, p.metadata.labels));
  const out: KubeObject[] = [];
  for (const family of serviceFamilies(svc)) {
    const groups = new Map<string, { ports: SlicePort[]; endpoints: unknown[] }>();
    for (const pod of matching) {
      const ip = podIPs(pod).find((a) => net.isIP(a) === (family === 'IPv4' ? 4 : 6));
      if (!ip) continue;
      const resolved = resolvePorts(ports, pod);
      const key = JSON.stringify(resolved);
      const group = groups.get(key) ?? { ports: resolved, endpoints: [] };
      group.endpoints.push({
        addresses: [ip],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: pod.spec?.nodeName,
        targetRef: { kind: 'Pod', namespace: ns, name: pod.metadata.name, uid: pod.metadata.uid },
      });
      groups.set(key, group);
    }
    // A Service that selects no pod still gets one (empty) slice, as in Kubernetes.
    if (groups.size === 0) groups.set('[]', { ports: [], endpoints: [] });
    for (const [key, group] of groups) {
      const suffix = `${family === 'IPv6' ? 'v6-' : ''}${shortHash(key)}`;
      const name = `${svc.metadata.name.slice(0, 63 - suffix.length - 1)}-${suffix}`;
      out.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name,
          namespace: ns,
          labels: { [SERVICE_NAME_LABEL]: svc.metadata.name, [MANAGED_BY_LABEL]: CONTROLLER },
        },
        addressType: family,
        endpoints: group.endpoints,
        ports: group.ports,
      });
    }
  }
  return out;
}

/**
 * The controller's desired slices given every object, and what to write and delete to get
 * there from the slices it manages now.
 */
export function endpointSliceChanges(objects: Iterable<KubeObject>): { write: KubeObject[]; remove: KubeObject[] } {
  const all = [...objects];
  const pods = all.filter((o) => o.kind === 'Pod');
  const desired = all.filter((o) => o.kind === 'Service').flatMap((svc) => slicesFor(svc, pods));
  const current = new Map(all.filter((o) => o.kind === 'EndpointSlice' && o.metadata.labels?.[MANAGED_BY_LABEL] === CONTROLLER).map((o) => [objectKey(o), o]));
  const write = desired.filter((d) => {
    const now = current.get(objectKey(d));
    return !now || JSON.stringify(now) !== JSON.stringify(d);
  });
  const wanted = new Set(desired.map(objectKey));
  const remove = [...current.values()].filter((c) => !wanted.has(objectKey(c)));
  return { write, remove };
}
