/**
 * The agent's answers to weftctl services and rules: what it last applied, checked against the
 * kernel through its backend's inspector (agent/inspect/), in Kubernetes words from the policy
 * model of its objects. The agent hands in how to get its state (agent.ts), so that this module
 * needs no access to the agent's internals.
 */
import type { ObjectCache } from '../cache';
import type { DataPlaneBackend } from '../dataplane/node-state';
import type { NodePolicy } from '../dataplane/policy-state';
import type { ServiceState } from '../dataplane/service-state';
import { InspectError } from '../inspect/errors';
import { kernelInspector, type KernelInspector } from '../inspect/kernel-inspector';
import { isolatingPolicies, PodWords } from '../inspect/pod-words';
import { TIER_NAME, tierDecision, tierRuleWords } from '../inspect/tier-words';
import type { PolicyDrop, DropNamer } from '../drops/drop-log';
import type { PolicyDrops } from '../drops/listen';
import { presenceOf, frontendsOf, hasExternal, type KernelEntry, type PartEntry, type PortPresence } from '../inspect/service-parts';
import { inNamespace, servicesReport } from '../inspect/services-report';
import { QueryError } from '../../policy/explain/query';
import type { ModelPod, PolicyModel } from '../../policy/explain/model';
import type { KernelEntryMessage, PolicyDropMessage, RulesObjectMessage, RulesRequestMessage, RulesResponseMessage, ServicesResponseMessage } from './messages';
import { CachedPolicyModel } from './policy-answers';

export interface InspectSources {
  nodeName: string;
  backend: DataPlaneBackend;
  cache: ObjectCache;
  /** Whether the agent proxies Services (--proxy). */
  proxying: boolean;
  /** The services the last successful sync put in the kernel; undefined before. */
  appliedServices: () => ServiceState | undefined;
  /** Whether the agent enforces NetworkPolicy. */
  enforcingPolicy: boolean;
  /** The reader of the drop log, once started. */
  drops?: () => PolicyDrops | undefined;
  /**
   * The policies the kernel may hold now, most likely first: the one the last successful sync
   * applied, the one a sync is applying (the kernel may have it before the apply returns), and
   * the one before the last (a drop logged just before a sync is read after it). Which
   * ClusterNetworkPolicy rule a tier's element or drop stands for. None before the first sync
   * or without NetworkPolicy enforcement.
   */
  tierPolicies?: () => readonly NodePolicy[];
}

/** What a PolicyDrops request gets: the recent drops it asks for, and new ones as they come. */
export interface DropsView {
  recent: PolicyDropMessage[];
  follow(listener: (drop: PolicyDropMessage) => void): () => void;
}

export function dropMessage(d: PolicyDrop): PolicyDropMessage {
  return {
    firstSeenUnixMs: d.firstSeen,
    lastSeenUnixMs: d.lastSeen,
    packets: d.packets,
    direction: d.direction,
    family: d.family,
    protocol: d.protocol,
    source: d.source,
    sourcePort: d.sourcePort ?? 0,
    sourcePod: d.sourcePod ?? '',
    destination: d.destination,
    destinationPort: d.destinationPort ?? 0,
    destinationPod: d.destinationPod ?? '',
    pod: d.pod ?? '',
    policies: [...d.policies],
    tcpFlags: d.tcpFlags ?? '',
    tier: d.tier ? TIER_NAME[d.tier] : '',
    clusterPolicy: d.clusterPolicy ?? '',
    rule: d.rule ?? '',
  };
}

/** The kernel was not readable: said with the backend's words. */
async function reading<T>(what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new InspectError('UNAVAILABLE', `reading ${what} from the kernel failed: ${(err as Error).message}`, { cause: err });
  }
}

function entryMessage(e: KernelEntry, missing = false): KernelEntryMessage {
  return { location: e.location, text: e.text, counted: e.counter !== undefined, packets: e.counter?.packets ?? 0, bytes: e.counter?.bytes ?? 0, meaning: e.meaning, shared: e.shared, missing };
}

/** The entries of a service's ports, each once (ports share chains and sets). */
function uniqueEntries(entries: readonly PartEntry[]): KernelEntryMessage[] {
  const seen = new Set<string>();
  const out: KernelEntryMessage[] = [];
  for (const e of entries) {
    // The first meaning wins: an iptables endpoint chain serves the cluster and the external list alike.
    const id = `${e.entry.location}\0${e.entry.text}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(entryMessage(e.entry, !e.found));
  }
  return out;
}

/** "namespace/name", or INVALID_ARGUMENT. */
function objectName(text: string, what: string): [string, string] {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(text);
  if (!m) throw new InspectError('INVALID_ARGUMENT', `${what} ${JSON.stringify(text)}: expected NAMESPACE/NAME`);
  return [m[1], m[2]];
}

export class Inspection {
  /** Built when a question needs Kubernetes words (pods of addresses, isolating policies). */
  readonly models: CachedPolicyModel;
  private readonly inspector?: KernelInspector;
  private readonly source: string;

  constructor(private readonly src: InspectSources) {
    this.source = `the objects of the agent on ${src.nodeName}`;
    this.models = new CachedPolicyModel(src.cache, this.source);
    this.inspector = kernelInspector(src.backend);
  }

  private get kernel(): KernelInspector {
    if (!this.inspector) throw new InspectError('UNIMPLEMENTED', `the ${this.src.backend.name} backend of this agent cannot be inspected`);
    return this.inspector;
  }

  private appliedServices(): ServiceState {
    const { src } = this;
    if (!src.proxying) throw new InspectError('FAILED_PRECONDITION', `the agent on ${src.nodeName} does not proxy Services (weft-agent --proxy)`);
    const state = src.appliedServices();
    if (!state) throw new InspectError('UNAVAILABLE', `the agent on ${src.nodeName} has not applied services yet (no successful sync)`);
    return state;
  }

  /** The model of the agent's objects now. */
  model(): PolicyModel {
    return this.models.current();
  }

  async services(namespace: string): Promise<ServicesResponseMessage> {
    const state = this.appliedServices();
    const kernel = this.kernel;
    const ports = state.ports.filter((p) => inNamespace(p.service, namespace));
    const entries = await reading(`weft's ${kernel.backend} objects`, () => kernel.services(ports, state.nodePortAddresses, false));
    const presence = new Map<string, PortPresence>();
    for (const p of ports) {
      const frontends = frontendsOf(p, state.nodePortAddresses);
      presence.set(p.key, presenceOf(entries.get(p.key) ?? [], frontends.length, p.clusterEndpoints.length, hasExternal(frontends) ? p.externalEndpoints.length : 0));
    }
    return servicesReport({ nodeName: this.src.nodeName, backend: kernel.backend, state, cache: this.src.cache, presence, namespace });
  }

  async rules(request: RulesRequestMessage): Promise<RulesResponseMessage> {
    if (!request.pod && !request.service) throw new InspectError('INVALID_ARGUMENT', 'which object? a pod or a Service');
    const objects: RulesObjectMessage[] = [];
    if (request.service) objects.push(await this.serviceRules(request.service));
    if (request.pod) objects.push(await this.podRules(request.pod));
    return { nodeName: this.src.nodeName, backend: this.src.backend.name, rulesLocation: this.src.backend.location, objects };
  }

  private async serviceRules(name: string): Promise<RulesObjectMessage> {
    const [namespace, service] = objectName(name, 'Service');
    const state = this.appliedServices();
    const kernel = this.kernel;
    const ports = state.ports.filter((p) => p.service === `${namespace}/${service}`);
    if (ports.length === 0) {
      const known = this.src.cache.get('Service', service, namespace);
      throw new InspectError('NOT_FOUND', known ? `Service ${name} has no port the agent on ${this.src.nodeName} proxies (headless, ExternalName, or see weftctl services)` : `no Service ${name} in ${this.source}`);
    }
    const entries = await reading(`weft's ${kernel.backend} objects`, () => kernel.services(ports, state.nodePortAddresses, true));
    return { kind: 'service', name, addresses: [], entries: uniqueEntries(ports.flatMap((p) => entries.get(p.key) ?? [])) };
  }

  /** A pod of the agent's objects, or NOT_FOUND saying which pods there are. */
  private pod(name: string, model: PolicyModel): ModelPod {
    const [namespace, pod] = objectName(name, 'pod');
    try {
      return model.requirePod(namespace, pod);
    } catch (err) {
      if (err instanceof QueryError) throw new InspectError('NOT_FOUND', err.message, { cause: err });
      throw err;
    }
  }

  private async podRules(name: string): Promise<RulesObjectMessage> {
    const kernel = this.kernel;
    const model = this.model();
    const found = this.pod(name, model);
    const words = new PodWords(model, found.id, found.addresses, this.src.tierPolicies?.() ?? []);
    const entries = found.addresses.length === 0 ? [] : await reading(`weft's ${kernel.backend} objects`, () => kernel.pod(words));
    return { kind: 'pod', name: found.id, addresses: [...found.addresses], entries: entries.map((e) => entryMessage(e)) };
  }

  /**
   * Kubernetes names for a denied packet, from the objects as they are when it is logged: the
   * pods of its addresses, and the policies isolating the pod of this node that dropped it; for
   * a tier's drop, the rule that denied it, looked up in the tiers the agent applied (what the
   * kernel decides by), with its policy's priority from the objects.
   */
  dropNamer(): DropNamer {
    return (headers, direction, tier) => {
      const model = this.model();
      const source = model.podAt(headers.source);
      const destination = model.podAt(headers.destination);
      const [local, address, peer] = direction === 'ingress' ? [destination, headers.destination, headers.source] : [source, headers.source, headers.destination];
      const named = {
        ...(source ? { sourcePod: source.id } : {}),
        ...(destination ? { destinationPod: destination.id } : {}),
        ...(local ? { pod: local.id } : {}),
        policies: isolatingPolicies(model, address, direction),
      };
      if (!tier) return named;
      // Ports are the destination's in both directions, as the tiers' are.
      const packet = { tier, direction, local: address, peer, protocol: headers.protocol, ...(headers.destinationPort !== undefined ? { port: headers.destinationPort } : {}) };
      const decided = tierDecision(this.src.tierPolicies?.() ?? [], packet, (v) => v === 'drop');
      // None drops it: the objects changed more than once between the packet and its reading.
      if (!decided) return named;
      const { words, policy } = tierRuleWords(model, decided.rule, 'drop');
      return { ...named, ...(policy !== undefined ? { clusterPolicy: policy } : {}), rule: words };
    };
  }

  /** The drops a request asks for (all, or to and from one pod); InspectError when it cannot have them. */
  policyDrops(request: { pod: string }): DropsView {
    const { src } = this;
    if (!src.enforcingPolicy) throw new InspectError('FAILED_PRECONDITION', `the agent on ${src.nodeName} does not enforce NetworkPolicy`);
    const drops = src.drops?.();
    if (!drops) throw new InspectError('UNAVAILABLE', `the agent on ${src.nodeName} is not reading its drop log yet`);
    if (drops.unavailable) throw new InspectError('UNAVAILABLE', `the agent on ${src.nodeName} cannot read its drop log: ${drops.unavailable}`);
    let wanted = (_d: PolicyDrop) => true;
    if (request.pod) {
      const pod = this.pod(request.pod, this.model());
      const addresses = new Set(pod.addresses);
      wanted = (d) => d.sourcePod === pod.id || d.destinationPod === pod.id || addresses.has(d.source) || addresses.has(d.destination);
    }
    return {
      recent: drops.log.recent().filter(wanted).map(dropMessage),
      follow: (listener) => drops.log.follow((d) => wanted(d) && listener(dropMessage(d))),
    };
  }
}

/** The API server's callbacks of an inspection (server.ts AgentApiOptions). */
export function inspectionCallbacks(i: Inspection): { services: Inspection['services']; rules: Inspection['rules']; policyDrops: Inspection['policyDrops'] } {
  return { services: (namespace) => i.services(namespace), rules: (request) => i.rules(request), policyDrops: (request) => i.policyDrops(request) };
}
