/**
 * NetworkPolicy objects (networking.k8s.io/v1) into checked, normalised rules, validated the way
 * the API server validates them (a policy it would have refused is reported and not used at
 * all), with the defaults it applies: protocol TCP, policyTypes implied from the spec.
 */
import type { PolicyProtocol } from '../agent/dataplane/policy-state';
import type { KubeObject } from '../agent/objects';
import { formatCidrBlock, parseCidrBlock, subtractRanges, type CidrBlock, type Family } from './address';
import { EMPTY_SELECTOR, parseSelector, type Selector } from './selector';
import { memoByIdentity } from './memo';

export type Direction = 'ingress' | 'egress';
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

/** Pods selected by namespace (the policy's own, or those a selector matches) and pod labels. */
export interface PodPeer {
  kind: 'pods';
  /** The one namespace (a peer with only podSelector: the policy's own); else namespaceSelector. */
  namespace?: string;
  namespaceSelector?: Selector;
  /** An absent podSelector selects every pod, like the empty one. */
  podSelector: Selector;
  /** Canonical text: equal peers, even of different policies, have equal identities. */
  identity: string;
}

export interface IpBlockPeer {
  kind: 'ipBlock';
  family: Family;
  cidr: CidrBlock;
  except: CidrBlock[];
  /** The cidr minus the excepts: sorted, disjoint, inclusive. */
  ranges: { first: bigint; last: bigint }[];
  identity: string;
}

export type Peer = PodPeer | IpBlockPeer;

/** One entry of `ports`, defaults applied. */
export type PortEntry =
  | { protocol: PolicyProtocol; kind: 'all' }
  | { protocol: PolicyProtocol; kind: 'range'; first: number; last: number }
  | { protocol: PolicyProtocol; kind: 'named'; name: string };

export interface Rule {
  /** Position in the policy's ingress or egress list, for explain. */
  index: number;
  /** null: `from`/`to` absent or empty, every peer. */
  peers: Peer[] | null;
  /** null: `ports` absent or empty, every protocol and port. */
  ports: PortEntry[] | null;
}

export interface ParsedPolicy {
  /** "namespace/name". */
  id: string;
  namespace: string;
  name: string;
  podSelector: Selector;
  /** Rules per direction; null when the policy does not apply to that direction. */
  ingress: Rule[] | null;
  egress: Rule[] | null;
}

export type ParseResult = { ok: true; policy: ParsedPolicy } | { ok: false; policy: string; reason: string };

const PROTOCOLS: Readonly<Record<string, PolicyProtocol>> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

/** IANA_SVC_NAME, what a named port must be: 1-15 of [a-z0-9-], a letter, no leading, trailing or double "-". */
export function isPortName(name: string): boolean {
  return name.length >= 1 && name.length <= 15 && /^[a-z0-9]+(-[a-z0-9]+)*$/.test(name) && /[a-z]/.test(name);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isPortNumber = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;

/** A list field: absent and null are empty; anything but a list of objects is an error. */
function listOf(raw: unknown, path: string, errors: string[]): Record<string, unknown>[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    errors.push(`${path}: must be a list`);
    return [];
  }
  const out: Record<string, unknown>[] = [];
  raw.forEach((item: unknown, i) => {
    if (isRecord(item)) out.push(item);
    else errors.push(`${path}[${i}]: must be an object`);
  });
  return out;
}

function parseIpBlock(raw: unknown, path: string, errors: string[]): IpBlockPeer | undefined {
  if (!isRecord(raw)) return void errors.push(`${path}: must be an object`);
  const cidr = typeof raw.cidr === 'string' ? parseCidrBlock(raw.cidr) : undefined;
  if (!cidr) return void errors.push(`${path}.cidr: ${JSON.stringify(raw.cidr)} is not a valid CIDR`);
  const except: CidrBlock[] = [];
  const before = errors.length;
  const exceptList = raw.except === undefined || raw.except === null ? [] : raw.except;
  if (!Array.isArray(exceptList)) errors.push(`${path}.except: must be a list`);
  else {
    exceptList.forEach((text: unknown, i) => {
      const block = typeof text === 'string' ? parseCidrBlock(text) : undefined;
      if (!block) return void errors.push(`${path}.except[${i}]: ${JSON.stringify(text)} is not a valid CIDR`);
      // The API server wants a strict subset: same family, inside, and longer prefix.
      if (block.family !== cidr.family || block.first < cidr.first || block.last > cidr.last || block.prefix <= cidr.prefix) {
        return void errors.push(`${path}.except[${i}]: ${text} must be a strict subset of cidr ${formatCidrBlock(cidr)}`);
      }
      except.push(block);
    });
  }
  if (errors.length > before) return undefined;
  const exceptTexts = [...new Set(except.map(formatCidrBlock))].sort();
  return {
    kind: 'ipBlock',
    family: cidr.family,
    cidr,
    except,
    ranges: subtractRanges(cidr, except),
    identity: `ip ${formatCidrBlock(cidr)}${exceptTexts.length ? ` except ${exceptTexts.join(',')}` : ''}`,
  };
}

function parsePeer(raw: Record<string, unknown>, policyNamespace: string, path: string, errors: string[]): Peer | undefined {
  const has = (field: string) => raw[field] !== undefined && raw[field] !== null;
  const count = ['podSelector', 'namespaceSelector', 'ipBlock'].filter(has).length;
  if (count === 0) return void errors.push(`${path}: must specify a peer (podSelector, namespaceSelector or ipBlock)`);
  if (has('ipBlock')) {
    if (count > 1) return void errors.push(`${path}: may not specify both ipBlock and another peer`);
    return parseIpBlock(raw.ipBlock, `${path}.ipBlock`, errors);
  }
  const podSelector = has('podSelector') ? parseSelector(raw.podSelector, `${path}.podSelector`, errors) : EMPTY_SELECTOR;
  const namespaceSelector = has('namespaceSelector') ? parseSelector(raw.namespaceSelector, `${path}.namespaceSelector`, errors) : undefined;
  if (!podSelector || (has('namespaceSelector') && !namespaceSelector)) return undefined;
  if (namespaceSelector) {
    return { kind: 'pods', namespaceSelector, podSelector, identity: `pods nssel(${namespaceSelector.canonical}) sel(${podSelector.canonical})` };
  }
  return { kind: 'pods', namespace: policyNamespace, podSelector, identity: `pods ns(${policyNamespace}) sel(${podSelector.canonical})` };
}

function parsePort(raw: Record<string, unknown>, path: string, errors: string[]): PortEntry | undefined {
  const { protocol: protocolRaw, port, endPort } = raw;
  const protocolText = protocolRaw === undefined || protocolRaw === null ? 'TCP' : protocolRaw;
  const protocol = typeof protocolText === 'string' ? PROTOCOLS[protocolText] : undefined;
  const before = errors.length;
  if (!protocol) errors.push(`${path}.protocol: ${JSON.stringify(protocolRaw)} is not supported (TCP, UDP, SCTP)`);
  const hasEnd = endPort !== undefined && endPort !== null;
  if (hasEnd && !isPortNumber(endPort)) errors.push(`${path}.endPort: ${JSON.stringify(endPort)} must be a port number (1-65535)`);
  let entry: PortEntry | undefined;
  if (port === undefined || port === null) {
    if (hasEnd) errors.push(`${path}.port: must be specified when endPort is specified`);
    else if (protocol) entry = { protocol, kind: 'all' };
  } else if (typeof port === 'string') {
    if (!isPortName(port)) errors.push(`${path}.port: ${JSON.stringify(port)} is neither a port number nor a valid port name`);
    else if (hasEnd) errors.push(`${path}.endPort: may not be specified when port is a name (${port})`);
    else if (protocol) entry = { protocol, kind: 'named', name: port };
  } else if (!isPortNumber(port)) {
    errors.push(`${path}.port: ${JSON.stringify(port)} must be a port number (1-65535) or a port name`);
  } else if (hasEnd && isPortNumber(endPort) && endPort < port) {
    errors.push(`${path}.endPort: ${endPort} must be greater than or equal to port ${port}`);
  } else if (protocol) {
    entry = { protocol, kind: 'range', first: port, last: hasEnd && isPortNumber(endPort) ? endPort : port };
  }
  return errors.length > before ? undefined : entry;
}

function parseRules(raw: unknown, direction: Direction, policyNamespace: string, errors: string[]): Rule[] {
  const peerField = direction === 'ingress' ? 'from' : 'to';
  const rules: Rule[] = [];
  listOf(raw, `spec.${direction}`, errors).forEach((rule, index) => {
    const path = `spec.${direction}[${index}]`;
    const peers = listOf(rule[peerField], `${path}.${peerField}`, errors)
      .map((p, i) => parsePeer(p, policyNamespace, `${path}.${peerField}[${i}]`, errors))
      .filter((p): p is Peer => p !== undefined);
    const ports = listOf(rule.ports, `${path}.ports`, errors)
      .map((p, i) => parsePort(p, `${path}.ports[${i}]`, errors))
      .filter((p): p is PortEntry => p !== undefined);
    rules.push({ index, peers: peers.length ? peers : null, ports: ports.length ? ports : null });
  });
  return rules;
}

function policyTypesOf(spec: Record<string, unknown>, errors: string[]): Set<Direction> {
  const raw = spec.policyTypes;
  const types = new Set<Direction>();
  if (raw !== undefined && raw !== null) {
    if (!Array.isArray(raw)) errors.push('spec.policyTypes: must be a list');
    else {
      raw.forEach((t: unknown, i) => {
        if (t === 'Ingress') types.add('ingress');
        else if (t === 'Egress') types.add('egress');
        else errors.push(`spec.policyTypes[${i}]: ${JSON.stringify(t)} is not Ingress or Egress`);
      });
      if (raw.length > 2) errors.push('spec.policyTypes: may not have more than two entries');
    }
  }
  if (types.size === 0 && (!Array.isArray(raw) || raw.length === 0)) {
    // The API server's default: Ingress always, Egress when there is at least one egress rule.
    types.add('ingress');
    if (Array.isArray(spec.egress) && spec.egress.length > 0) types.add('egress');
  }
  return types;
}

/**
 * Checks and normalises one NetworkPolicy; a policy with any error is not used at all. Objects
 * are replaced, never mutated, by the cache: each is parsed once.
 */
export const parsePolicy: (object: KubeObject) => ParseResult = memoByIdentity((object: KubeObject) => parseUncached(object));

function parseUncached(object: KubeObject): ParseResult {
  const namespace = object.metadata.namespace ?? 'default';
  const id = `${namespace}/${object.metadata.name}`;
  const errors: string[] = [];
  const spec = object.spec;
  if (!isRecord(spec)) return { ok: false, policy: id, reason: 'spec: must be an object' };
  const podSelector = spec.podSelector === undefined || spec.podSelector === null ? EMPTY_SELECTOR : parseSelector(spec.podSelector, 'spec.podSelector', errors);
  const types = policyTypesOf(spec, errors);
  const ingress = parseRules(spec.ingress, 'ingress', namespace, errors);
  const egress = parseRules(spec.egress, 'egress', namespace, errors);
  if (errors.length > 0 || !podSelector) return { ok: false, policy: id, reason: errors.join('; ') };
  return {
    ok: true,
    policy: {
      id,
      namespace,
      name: object.metadata.name,
      podSelector,
      ingress: types.has('ingress') ? ingress : null,
      egress: types.has('egress') ? egress : null,
    },
  };
}

/** Parses every policy: the usable ones sorted by id, and the problems of the others. */
export function parsePolicies(objects: readonly KubeObject[]): { policies: ParsedPolicy[]; problems: { policy: string; reason: string }[] } {
  const policies: ParsedPolicy[] = [];
  const problems: { policy: string; reason: string }[] = [];
  for (const object of objects) {
    const result = parsePolicy(object);
    if (result.ok) policies.push(result.policy);
    else problems.push({ policy: result.policy, reason: result.reason });
  }
  const byId = (a: { id: string } | { policy: string }, b: { id: string } | { policy: string }) => {
    const x = 'id' in a ? a.id : a.policy;
    const y = 'id' in b ? b.id : b.policy;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  policies.sort(byId);
  problems.sort(byId);
  return { policies, problems };
}
