/**
 * ClusterNetworkPolicy objects (policy.networking.k8s.io/v1alpha2) into checked, normalised
 * rules, validated the way the API server validates them with the upstream CRD installed (an
 * object it would refuse is reported and not used at all), in a form a compiler can use: pod
 * peers are policy/parse.ts's PodPeer (so ClusterIndex finds their pods), ports are its
 * PortEntry (so policy/ports.ts resolves them), rules keep their order.
 *
 * What upstream says, and where (https://github.com/kubernetes-sigs/network-policy-api, main at
 * 0eec1b0; the reference implementation read alongside: https://github.com/kubernetes-sigs/
 * kube-network-policies, plugins/npa-v1alpha2/clusternetworkpolicy.go):
 *  - apis/v1alpha2/clusternetworkpolicy_types.go, config/crd/{standard,experimental}/
 *    policy.networking.k8s.io_clusternetworkpolicies.yaml, site-src/api-overview.md,
 *    site-src/blog/posts/ClusterNetworkPolicy.md, npeps/npep-285-combine-crds.md, and the
 *    conformance suite (conformance/tests/*.go, conformance/base/**.yaml).
 *  - Cluster-scoped. spec.tier (required): Admin or Baseline. spec.priority (required): 0..1000,
 *    lower first within a tier. spec.subject (required): exactly one of `namespaces` (a label
 *    selector on namespaces: all their pods) or `pods` ({namespaceSelector (optional, empty =
 *    every namespace), podSelector (required)}); host-network pods are never subjects.
 *  - spec.ingress / spec.egress: at most 25 rules each, in precedence order (the first matching
 *    rule of a policy decides for it). A rule: `action` (Accept, Deny, Pass; required), `name`
 *    (optional, at most 100 characters), `from` / `to` (required, 1..25 peers), `protocols`
 *    (optional, 1..25 entries; absent: every protocol and port).
 *  - Ingress peers: exactly one of `namespaces` (selector) or `pods` (namespaceSelector +
 *    podSelector). Egress peers: those, `networks` (1..25 CIDRs, a set; matches any address in
 *    them, pod addresses included), `nodes` (experimental: a selector on Node labels, matching
 *    the addresses in node.status.addresses) and `domainNames` (experimental, Accept only).
 *    Ingress has no networks or nodes peers in v1alpha2.
 *  - protocols[]: exactly one of tcp / udp / sctp ({destinationPort: {number} | {range: {start,
 *    end}}}, start < end strictly, 1..65535) or destinationNamedPort (a container port name on
 *    the destination pod). `tcp: {}` is refused by the CRD (minProperties: 1) although
 *    api-overview.md says an omitted destinationPort means every port; a maintainer confirmed
 *    that a nil destinationPort is invalid (kubernetes-sigs/kube-network-policies PR #303): we
 *    refuse it. The experimental CRD refuses a destinationNamedPort in an egress rule that has
 *    networks, nodes or domainNames peers (CEL); we apply that check (we read nodes peers, so
 *    we are on the experimental channel).
 *  - A peer with none of the fields we know (a newer CRD's field) must "fail closed": an Accept
 *    rule treats it as matching nothing; a Deny or Pass rule becomes "Deny all". We do the same
 *    for domainNames, which we cannot resolve. We read "Deny all" as: the rule denies every peer
 *    on every port (its protocols dropped too), the safest reading.
 *  - Equal priorities: "the implementation can apply any of the matching policies". We order
 *    by priority, then name (as kube-network-policies does), and the evaluator reports ties.
 *  - Pass in the Baseline tier is allowed in v1alpha2 (no CEL rule forbids it; the blog post
 *    lists it as parity with Admin): it skips the rest of the Baseline tier, which leaves the
 *    default (allowed). (BaselineAdminNetworkPolicy, v1alpha1, had no Pass.)
 *  - Evaluation (types.go Tier doc, api-overview.md), per direction (egress at the source,
 *    ingress at the destination; a connection needs both): the Admin tier by priority, first
 *    matching rule: Accept allows (no NetworkPolicy or Baseline rule of that direction is
 *    consulted), Deny denies, Pass skips the rest of the Admin tier; then NetworkPolicy: if it
 *    isolates the pod for the direction it decides; else the Baseline tier (Accept, Deny,
 *    Pass); else allowed. See policy/cluster-policy/evaluate.ts.
 *  - Hairpin (api-overview.md, 2026): a pod connecting to its own pod IP is not subject to
 *    ClusterNetworkPolicy; through a Service IP that comes back to it, it is.
 *  - Nodes peers: kube-network-policies matches InternalIP and ExternalIP addresses; so do we.
 *  - Named ports resolve on the destination (the subject for ingress, the peer pod for egress);
 *    to an address no pod holds, a name matches nothing.
 * Our choices where upstream says nothing: a pod without Pod object (registered by the CNI
 * plugin first) is selected by a subject whose pod selector is empty (its namespace is known),
 * like NetworkPolicy's pod selectors; it is never a pod peer. Unknown fields elsewhere are
 * ignored (the API server prunes them).
 */
import type { KubeObject } from '../../agent/objects';
import { formatCidrBlock, parseCidrBlock, type CidrBlock } from '../address';
import { memoByIdentity } from '../memo';
import type { Direction, PodPeer, PortEntry } from '../parse';
import { EMPTY_SELECTOR, parseSelector, type Selector } from '../selector';

export type Tier = 'Admin' | 'Baseline';
export const TIERS: readonly Tier[] = ['Admin', 'Baseline'];
export type Action = 'Accept' | 'Deny' | 'Pass';

/** The pods a policy applies to: pods of the namespaces the first selects, matching the second. */
export interface ClusterSubject {
  /** How the object says it, for words. */
  field: 'namespaces' | 'pods';
  namespaceSelector: Selector;
  podSelector: Selector;
}

/** `namespaces` or `pods`: pods (never host-network) by namespace labels and pod labels. */
export type ClusterPodPeer = PodPeer & { field: 'namespaces' | 'pods'; namespaceSelector: Selector };

export interface NetworksPeer {
  kind: 'networks';
  /** In the object's order (host bits cleared; the CRD refuses duplicates). */
  cidrs: CidrBlock[];
  identity: string;
}

export interface NodesPeer {
  kind: 'nodes';
  selector: Selector;
  identity: string;
}

export type ClusterPeer = ClusterPodPeer | NetworksPeer | NodesPeer;

export interface ClusterProtocol {
  text: string;
  entries: PortEntry[];
}

export interface ClusterRule {
  /** Position in spec.ingress or spec.egress: the rule's precedence within its policy. */
  index: number;
  name?: string;
  /** What the rule does: the declared action, except Deny for a Deny or Pass failing closed. */
  action: Action;
  /**
   * The peers it matches; null: every peer (a rule failing closed). An Accept rule whose every
   * peer is unsupported has none and matches nothing.
   */
  peers: ClusterPeer[] | null;
  /**
   * null: every protocol and port. A destinationNamedPort is one entry per protocol (a pod's
   * port names are unique, so at most one of them resolves on any pod).
   */
  ports: PortEntry[] | null;
  /** spec...protocols one by one: its words ("80/TCP", "8080-8090/UDP", "named port web") and entries. */
  protocols: ClusterProtocol[] | null;
  /** Why the rule fails closed (unsupported peers), when it does. */
  failClosed?: string;
}

export interface ParsedClusterPolicy {
  /** metadata.name: cluster-scoped, so the name is the identity. */
  name: string;
  tier: Tier;
  priority: number;
  subject: ClusterSubject;
  /** Rules per direction, in precedence order; empty: the policy does not affect the direction. */
  ingress: ClusterRule[];
  egress: ClusterRule[];
  /** What the object asks that weft reads differently (fail-closed peers), in words. */
  notes: string[];
}

export type ClusterParseResult = { ok: true; policy: ParsedClusterPolicy } | { ok: false; policy: string; reason: string };

const ACTIONS: ReadonlySet<string> = new Set<Action>(['Accept', 'Deny', 'Pass']);
const PROTOCOL_FIELDS = [
  ['tcp', 'tcp'],
  ['udp', 'udp'],
  ['sctp', 'sctp'],
] as const;
/** The most rules, peers, protocols or networks one list may hold (the CRD's maxItems). */
const MAX_ITEMS = 25;
const INGRESS_PEER_FIELDS = ['namespaces', 'pods'] as const;
const EGRESS_PEER_FIELDS = ['namespaces', 'pods', 'networks', 'nodes'] as const;
/** Upstream fields we know but cannot enforce: they fail closed like unknown ones. */
const UNSUPPORTED_PEER_FIELDS: ReadonlySet<string> = new Set(['domainNames']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const present = (raw: Record<string, unknown>, field: string): boolean => raw[field] !== undefined && raw[field] !== null;
const isPortNumber = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;

/** A required list of 1..25 objects; anything else is an error. */
function objectList(raw: unknown, path: string, errors: string[], required: boolean): Record<string, unknown>[] | undefined {
  if (raw === undefined || raw === null) {
    if (required) errors.push(`${path}: must be specified (at least one item)`);
    return undefined;
  }
  if (!Array.isArray(raw)) return void errors.push(`${path}: must be a list`);
  if (raw.length === 0) return void errors.push(`${path}: must have at least one item`);
  if (raw.length > MAX_ITEMS) return void errors.push(`${path}: may have at most ${MAX_ITEMS} items`);
  const out: Record<string, unknown>[] = [];
  raw.forEach((item: unknown, i) => {
    if (isRecord(item)) out.push(item);
    else errors.push(`${path}[${i}]: must be an object`);
  });
  return out;
}

/** A NamespacedPod: podSelector required, namespaceSelector absent = every namespace. */
function parseNamespacedPod(raw: unknown, path: string, errors: string[]): { namespaceSelector: Selector; podSelector: Selector } | undefined {
  if (!isRecord(raw)) return void errors.push(`${path}: must be an object`);
  if (!present(raw, 'podSelector')) return void errors.push(`${path}.podSelector: must be specified ({} selects every pod)`);
  const podSelector = parseSelector(raw.podSelector, `${path}.podSelector`, errors);
  const namespaceSelector = present(raw, 'namespaceSelector') ? parseSelector(raw.namespaceSelector, `${path}.namespaceSelector`, errors) : EMPTY_SELECTOR;
  return podSelector && namespaceSelector ? { namespaceSelector, podSelector } : undefined;
}

function parseSubject(raw: unknown, errors: string[]): ClusterSubject | undefined {
  if (!isRecord(raw)) return void errors.push('spec.subject: must be specified (namespaces or pods)');
  const fields = (['namespaces', 'pods'] as const).filter((f) => present(raw, f));
  if (fields.length !== 1) return void errors.push(`spec.subject: must specify exactly one of namespaces, pods${fields.length ? ` (has ${fields.join(', ')})` : ''}`);
  if (fields[0] === 'namespaces') {
    const namespaceSelector = parseSelector(raw.namespaces, 'spec.subject.namespaces', errors);
    return namespaceSelector ? { field: 'namespaces', namespaceSelector, podSelector: EMPTY_SELECTOR } : undefined;
  }
  const pods = parseNamespacedPod(raw.pods, 'spec.subject.pods', errors);
  return pods ? { field: 'pods', ...pods } : undefined;
}

function podPeer(field: 'namespaces' | 'pods', namespaceSelector: Selector, podSelector: Selector): ClusterPodPeer {
  // The identity PodPeer has in policy/parse.ts: equal peers share ClusterIndex's memo.
  return { kind: 'pods', field, namespaceSelector, podSelector, identity: `pods nssel(${namespaceSelector.canonical}) sel(${podSelector.canonical})` };
}

function parseNetworks(raw: unknown, path: string, errors: string[]): NetworksPeer | undefined {
  if (!Array.isArray(raw) || raw.length === 0) return void errors.push(`${path}: must be a list of at least one CIDR`);
  if (raw.length > MAX_ITEMS) return void errors.push(`${path}: may have at most ${MAX_ITEMS} CIDRs`);
  const before = errors.length;
  const cidrs: CidrBlock[] = [];
  const seen = new Set<string>();
  raw.forEach((text: unknown, i) => {
    const block = typeof text === 'string' && text.length <= 43 ? parseCidrBlock(text) : undefined;
    if (!block) return void errors.push(`${path}[${i}]: ${JSON.stringify(text)} is not a valid CIDR`);
    if (seen.has(text as string)) return void errors.push(`${path}[${i}]: ${text} is listed twice (networks is a set)`);
    seen.add(text as string);
    cidrs.push(block);
  });
  if (errors.length > before) return undefined;
  const texts = [...new Set(cidrs.map(formatCidrBlock))].sort();
  return { kind: 'networks', cidrs, identity: `networks ${texts.join(',')}` };
}

type PeerResult = { peer: ClusterPeer } | { unsupported: string } | undefined;

function parsePeer(raw: Record<string, unknown>, direction: Direction, path: string, errors: string[]): PeerResult {
  const known: readonly string[] = direction === 'ingress' ? INGRESS_PEER_FIELDS : EGRESS_PEER_FIELDS;
  const fields = Object.keys(raw).filter((f) => present(raw, f));
  const ours = fields.filter((f) => known.includes(f));
  // Upstream's own fields count for "exactly one" (the CRD refuses two); unknown ones it prunes.
  const upstream = fields.filter((f) => known.includes(f) || (direction === 'egress' && UNSUPPORTED_PEER_FIELDS.has(f)));
  if (fields.length === 0) return void errors.push(`${path}: must specify a peer (${known.join(', ')})`);
  if (upstream.length > 1) return void errors.push(`${path}: must specify exactly one of ${known.join(', ')} (has ${upstream.join(', ')})`);
  // A field we do not know (a newer CRD) or cannot enforce: upstream says fail closed.
  if (ours.length === 0) return { unsupported: fields.join(', ') };
  const field = ours[0];
  if (field === 'namespaces') {
    const namespaceSelector = parseSelector(raw.namespaces, `${path}.namespaces`, errors);
    return namespaceSelector ? { peer: podPeer('namespaces', namespaceSelector, EMPTY_SELECTOR) } : undefined;
  }
  if (field === 'pods') {
    const pods = parseNamespacedPod(raw.pods, `${path}.pods`, errors);
    return pods ? { peer: podPeer('pods', pods.namespaceSelector, pods.podSelector) } : undefined;
  }
  if (field === 'nodes') {
    const selector = parseSelector(raw.nodes, `${path}.nodes`, errors);
    return selector ? { peer: { kind: 'nodes', selector, identity: `nodes sel(${selector.canonical})` } } : undefined;
  }
  const networks = parseNetworks(raw.networks, `${path}.networks`, errors);
  return networks ? { peer: networks } : undefined;
}

function parseDestinationPort(raw: unknown, path: string, errors: string[]): { first: number; last: number } | undefined {
  if (!isRecord(raw)) return void errors.push(`${path}: must be specified (number or range)`);
  const fields = ['number', 'range'].filter((f) => present(raw, f));
  if (fields.length !== 1) return void errors.push(`${path}: must specify exactly one of number, range`);
  if (fields[0] === 'number') {
    if (!isPortNumber(raw.number)) return void errors.push(`${path}.number: ${JSON.stringify(raw.number)} must be a port number (1-65535)`);
    return { first: raw.number, last: raw.number };
  }
  const range = raw.range;
  if (!isRecord(range)) return void errors.push(`${path}.range: must be an object with start and end`);
  const { start, end } = range;
  if (!isPortNumber(start)) return void errors.push(`${path}.range.start: ${JSON.stringify(start)} must be a port number (1-65535)`);
  if (!isPortNumber(end)) return void errors.push(`${path}.range.end: ${JSON.stringify(end)} must be a port number (1-65535)`);
  if (start >= end) return void errors.push(`${path}.range: start ${start} must be less than end ${end}`);
  return { first: start, last: end };
}

function parseProtocol(raw: Record<string, unknown>, path: string, errors: string[]): ClusterProtocol | undefined {
  const fields = ['tcp', 'udp', 'sctp', 'destinationNamedPort'].filter((f) => present(raw, f));
  if (fields.length !== 1) return void errors.push(`${path}: must specify exactly one of tcp, udp, sctp, destinationNamedPort${fields.length ? ` (has ${fields.join(', ')})` : ''}`);
  if (fields[0] === 'destinationNamedPort') {
    const name = raw.destinationNamedPort;
    if (typeof name !== 'string' || name === '') return void errors.push(`${path}.destinationNamedPort: must be a port name`);
    return { entries: PROTOCOL_FIELDS.map(([, protocol]) => ({ protocol, kind: 'named' as const, name })), text: `named port ${name}` };
  }
  const [field, protocol] = PROTOCOL_FIELDS.find(([f]) => f === fields[0])!;
  const attributes = raw[field];
  if (!isRecord(attributes) || !present(attributes, 'destinationPort')) {
    return void errors.push(`${path}.${field}: must specify destinationPort (number or range): the CRD refuses an empty ${field}`);
  }
  const ports = parseDestinationPort(attributes.destinationPort, `${path}.${field}.destinationPort`, errors);
  if (!ports) return undefined;
  const text = `${ports.first === ports.last ? ports.first : `${ports.first}-${ports.last}`}/${protocol.toUpperCase()}`;
  return { entries: [{ protocol, kind: 'range', ...ports }], text };
}

function parseRule(raw: Record<string, unknown>, index: number, direction: Direction, errors: string[], notes: string[]): ClusterRule | undefined {
  const path = `spec.${direction}[${index}]`;
  const before = errors.length;
  const { action, name } = raw;
  if (typeof action !== 'string' || !ACTIONS.has(action)) errors.push(`${path}.action: ${JSON.stringify(action)} is not Accept, Deny or Pass`);
  if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > 100)) errors.push(`${path}.name: must be a string of at most 100 characters`);
  const peerField = direction === 'ingress' ? 'from' : 'to';
  const peers: ClusterPeer[] = [];
  const unsupported: string[] = [];
  (objectList(raw[peerField], `${path}.${peerField}`, errors, true) ?? []).forEach((p, i) => {
    const result = parsePeer(p, direction, `${path}.${peerField}[${i}]`, errors);
    if (result && 'peer' in result) peers.push(result.peer);
    else if (result) unsupported.push(`${peerField}[${i}] (${result.unsupported})`);
  });
  const protocols = objectList(raw.protocols, `${path}.protocols`, errors, false);
  const parsedProtocols = protocols?.map((p, i) => parseProtocol(p, `${path}.protocols[${i}]`, errors));
  if (direction === 'egress' && Array.isArray(raw[peerField]) && protocols?.some((p) => present(p, 'destinationNamedPort'))) {
    const bad = (raw[peerField] as unknown[]).some((p) => isRecord(p) && ['networks', 'nodes', 'domainNames'].some((f) => present(p, f)));
    if (bad) errors.push(`${path}: networks, nodes and domainNames peers cannot be used with destinationNamedPort (they have no named ports)`);
  }
  if (errors.length > before) return undefined;
  const checked = parsedProtocols ? parsedProtocols.filter((p): p is ClusterProtocol => p !== undefined) : null;
  const ports = checked ? checked.flatMap((p) => p.entries) : null;
  const rule: ClusterRule = { index, ...(typeof name === 'string' && name !== '' ? { name } : {}), action: action as Action, peers, ports, protocols: checked };
  if (unsupported.length === 0) return rule;
  const what = `${path}: ${unsupported.join(', ')} ${unsupported.length === 1 ? 'is a peer' : 'are peers'} weft does not support`;
  if (action === 'Accept') {
    const failClosed = `${what}: it matches nothing (fail closed)`;
    notes.push(failClosed);
    return { ...rule, failClosed };
  }
  const failClosed = `${what}: the ${action} rule denies everything (fail closed)`;
  notes.push(failClosed);
  return { ...rule, action: 'Deny', peers: null, ports: null, protocols: null, failClosed };
}

function parseRules(raw: unknown, direction: Direction, errors: string[], notes: string[]): ClusterRule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > MAX_ITEMS) {
    errors.push(`spec.${direction}: must be a list of at most ${MAX_ITEMS} rules`);
    return [];
  }
  const rules: ClusterRule[] = [];
  raw.forEach((item: unknown, index) => {
    if (!isRecord(item)) return void errors.push(`spec.${direction}[${index}]: must be an object`);
    const rule = parseRule(item, index, direction, errors, notes);
    if (rule) rules.push(rule);
  });
  return rules;
}

/**
 * Checks and normalises one ClusterNetworkPolicy; an object with any error is not used at all.
 * Objects are replaced, never mutated, by the cache: each is parsed once.
 */
export const parseClusterPolicy: (object: KubeObject) => ClusterParseResult = memoByIdentity((object: KubeObject) => parseUncached(object));

function parseUncached(object: KubeObject): ClusterParseResult {
  const name = object.metadata.name;
  const spec = object.spec;
  if (!isRecord(spec)) return { ok: false, policy: name, reason: 'spec: must be an object' };
  const errors: string[] = [];
  const notes: string[] = [];
  const { tier, priority } = spec;
  if (tier !== 'Admin' && tier !== 'Baseline') errors.push(`spec.tier: ${JSON.stringify(tier)} is not Admin or Baseline`);
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 1000) errors.push(`spec.priority: ${JSON.stringify(priority)} must be an integer from 0 to 1000`);
  const subject = parseSubject(spec.subject, errors);
  const ingress = parseRules(spec.ingress, 'ingress', errors, notes);
  const egress = parseRules(spec.egress, 'egress', errors, notes);
  if (errors.length > 0 || !subject) return { ok: false, policy: name, reason: errors.join('; ') };
  return { ok: true, policy: { name, tier: tier as Tier, priority: priority as number, subject, ingress, egress, notes } };
}

/** Admin before Baseline, then by priority, then by name: the order rules are consulted in. */
export function compareClusterPolicies(a: ParsedClusterPolicy, b: ParsedClusterPolicy): number {
  return TIERS.indexOf(a.tier) - TIERS.indexOf(b.tier) || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Parses every object: the usable ones in evaluation order, and the problems of the others by name. */
export function parseClusterPolicies(objects: readonly KubeObject[]): { policies: ParsedClusterPolicy[]; problems: { policy: string; reason: string }[] } {
  const results = objects.map(parseClusterPolicy);
  return {
    policies: results.flatMap((r) => (r.ok ? [r.policy] : [])).sort(compareClusterPolicies),
    problems: results.flatMap((r) => (r.ok ? [] : [{ policy: r.policy, reason: r.reason }])).sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0)),
  };
}
