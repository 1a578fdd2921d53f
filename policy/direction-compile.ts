/**
 * One direction of NetworkPolicy for one node (compile.ts says what it computes), kept across
 * compiles so that a pod change costs what it touches:
 *
 *  - The grants of a policy are rebuilt only when its targets (the local pods it selects)
 *    changed; peers are shared by identity and live while a grant names them.
 *  - Classes live in a ClassSpace, told which peers came and went, whose pods changed and
 *    which addresses' pods changed.
 *  - A class's allowances depend on the grants naming its peers, its named-port resolution and
 *    its families: they are recomputed only for classes whose addresses changed and classes
 *    of peers whose grants changed; the others keep their PeerClass, the very same object.
 *
 * The policies are given once (compile.ts starts a new DirectionCompiler when they change);
 * local pods and pods may change from one compile to the next. The targets of a policy are
 * looked at again only when the local pods of its namespace changed, and the allowances of a
 * class only for the namespaces whose grants changed (a grant allows its own namespace's pods).
 */
import type { Allowance, DirectionPolicy, PeerClass, PortRange } from '../agent/dataplane/policy-state';
import { compareBigInt, type AddressRange } from './address';
import { ClassSpace, rangeCidrs } from './class-space';
import { namedPortKey, type PodAddress, type PodRecord } from './cluster';
import type { ClusterIndex, PeerPodsChange } from './cluster-index';
import type { Direction, ParsedPolicy, Peer, PortEntry } from './parse';
import { classKey, EVERY_ADDRESS, type ClassBuild, type ClassPeer } from './peer-classes';
import { normalizePortRanges, resolvePorts } from './ports';
import { selectorMatches } from './selector';

/** A peer of the rules in force, or the pseudo-peer "any" (every address). */
interface PeerInfo extends ClassPeer<PeerInfo> {
  peer: Peer | 'any';
  /** The grants naming it: it lives while there is one. */
  grants: Set<Grant>;
  /** Egress: the named ports of those grants, with how many name each. */
  nameCounts: Map<string, number>;
}

interface Grant {
  policy: string;
  namespace: string;
  targets: readonly PodRecord[];
  /** null: any peer (anyPeer). */
  peers: PeerInfo[] | null;
  ports: PortEntry[] | null;
  /** Ingress: the ports on each target (named ports resolve on the target), once. */
  targetPorts?: ('all' | PortRange[])[];
  /** The last allowance computation that took it in (each counts a grant once). */
  stamp: number;
}

/** A policy with rules of the direction that selects local pods: its targets and its grants. */
interface InForce {
  targets: readonly PodRecord[];
  grants: Grant[];
}

/** What changed in the cluster since the last compile (absent: this is the first). */
export interface PodChanges {
  /** Per peer identity (ClusterIndex.update). */
  peers: ReadonlyMap<string, PeerPodsChange>;
  /** Addresses of the pods that changed, old and new. */
  addresses: readonly PodAddress[];
}

/** What one compile changed, step to step. */
interface Round {
  /** Peers met for the first time. */
  created: PeerInfo[];
  /** Peers whose named ports may have changed. */
  renamed: Set<PeerInfo>;
  /** Grants withdrawn and grants made. */
  changedGrants: Grant[];
  /** Whether any policy's targets changed (isolation, and what any peer may do). */
  targetsChanged: boolean;
}

/** What a class allows, per local address and namespace of its grants (grants act on their own namespace's pods). */
interface ClassOutput {
  key: string;
  families: string;
  builds: AllowBuild[];
  out: PeerClass | null;
}

const NO_NAMES = (): undefined => undefined;
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const compareAddress = (a: PodAddress, b: PodAddress) => a.family - b.family || compareBigInt(a.value, b.value);
const EMPTY: readonly PodRecord[] = [];

function sameList<T>(a: readonly T[] | undefined, b: readonly T[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What a peer matches, as the class space takes it. */
function matchOf(peer: Peer | 'any', index: ClusterIndex): Pick<PeerInfo, 'ranges' | 'pods' | 'addresses'> {
  if (peer === 'any') return { ranges: EVERY_ADDRESS, pods: [], addresses: [] };
  if (peer.kind === 'ipBlock') return { ranges: peer.ranges.map((r): AddressRange => ({ family: peer.family, first: r.first, last: r.last })), pods: [], addresses: [] };
  return { ranges: [], pods: index.podsMatching(peer), addresses: [] };
}

class AllowBuild {
  all = false;
  ranges: PortRange[] = [];
  readonly policies = new Set<string>();
  private done: Allowance | undefined;

  /** `namespace`: of the grants adding to it. */
  constructor(
    readonly address: PodAddress,
    readonly namespace: string,
  ) {}

  add(ports: 'all' | PortRange[], policy: string): void {
    if (ports === 'all') this.all = true;
    else if (ports.length === 0) return;
    else for (const r of ports) this.ranges.push(r);
    this.policies.add(policy);
  }

  /** Once built, not added to any more. */
  allowance(): Allowance {
    return (this.done ??= { localIp: this.address.text, ports: this.all ? 'all' : normalizePortRanges(this.ranges), policies: [...this.policies].sort(compareText) });
  }
}

/**
 * The build of (namespace, address) in `map`, by address (an address is one pod's), unless
 * pods of two namespaces claim it: the other namespace's is under "namespace/address".
 */
function allowOf(map: Map<string, AllowBuild>, address: PodAddress, namespace: string): AllowBuild {
  let a = map.get(address.text);
  if (a && a.namespace !== namespace) a = map.get(`${namespace}/${address.text}`);
  if (!a) {
    a = new AllowBuild(address, namespace);
    map.set(map.has(address.text) ? `${namespace}/${address.text}` : address.text, a);
  }
  return a;
}

/** Sorted by local address (IPv4 first, then by value); builds of one address are combined. */
function allowancesOf(builds: readonly AllowBuild[]): Allowance[] {
  const sorted = [...builds].sort((x, y) => compareAddress(x.address, y.address));
  const out: Allowance[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i + 1;
    while (j < sorted.length && sorted[j].address.text === sorted[i].address.text) j++;
    if (j === i + 1) out.push(sorted[i].allowance());
    else {
      const all = new AllowBuild(sorted[i].address, sorted[i].namespace);
      for (const b of sorted.slice(i, j)) {
        if (b.all) all.all = true;
        for (const r of b.ranges) all.ranges.push(r);
        for (const policy of b.policies) all.policies.add(policy);
      }
      out.push(all.allowance());
    }
    i = j;
  }
  return out;
}

export class DirectionCompiler {
  private readonly egress: boolean;
  private readonly space: ClassSpace<PeerInfo>;
  private readonly peers = new Map<string, PeerInfo>();
  private nextId = 0;
  /** The policies with rules of this direction, per namespace. */
  private readonly policiesIn = new Map<string, ParsedPolicy[]>();
  private readonly inForce = new Map<ParsedPolicy, InForce>();
  /** The local pods (known ones) per namespace, and the unknown ones, at the last compile. */
  private localBefore = new Map<string, PodRecord[]>();
  private unknownBefore: readonly PodRecord[] = [];
  private readonly outputs = new Map<ClassBuild<PeerInfo>, ClassOutput>();
  private last: DirectionPolicy | undefined;
  /** Counts allowance computations (Grant.stamp). */
  private stamp = 0;

  constructor(
    private readonly direction: Direction,
    private readonly index: ClusterIndex,
    policies: readonly ParsedPolicy[],
  ) {
    this.egress = direction === 'egress';
    this.space = new ClassSpace(this.egress, index);
    for (const policy of policies) {
      if (!policy[direction]) continue;
      const list = this.policiesIn.get(policy.namespace);
      if (list) list.push(policy);
      else this.policiesIn.set(policy.namespace, [policy]);
    }
  }

  /** `local`: the node's pods (index.localPods); `changes`: since the last compile. */
  compile(local: readonly PodRecord[], changes: PodChanges | undefined): DirectionPolicy {
    const localIn = new Map<string, PodRecord[]>();
    const unknown: PodRecord[] = [];
    for (const pod of local) {
      if (pod.labels === null) unknown.push(pod);
      else (localIn.get(pod.namespace) ?? localIn.set(pod.namespace, []).get(pod.namespace)!).push(pod);
    }
    const round: Round = { created: [], renamed: new Set(), changedGrants: [], targetsChanged: false };
    this.retarget(localIn, round);
    const moved = this.place(round, changes);
    const classes = this.classesAfter(moved, round.changedGrants);
    if (this.last && !round.targetsChanged && sameList(unknown, this.unknownBefore)) {
      return classes === this.last.classes ? this.last : (this.last = { ...this.last, classes });
    }
    this.unknownBefore = unknown;
    return (this.last = { ...this.isolation(unknown), classes });
  }

  /** 1. Targets, and grants where they changed: only in namespaces whose local pods changed. */
  private retarget(localIn: Map<string, PodRecord[]>, round: Round): void {
    const namespaces = new Set<string>();
    for (const [ns, pods] of localIn) if (!sameList(pods, this.localBefore.get(ns))) namespaces.add(ns);
    for (const ns of this.localBefore.keys()) if (!localIn.has(ns)) namespaces.add(ns);
    for (const ns of namespaces) {
      for (const policy of this.policiesIn.get(ns) ?? []) {
        const targets = (localIn.get(ns) ?? EMPTY).filter((p) => selectorMatches(policy.podSelector, p.labels));
        const before = this.inForce.get(policy);
        if (sameList(before?.targets ?? EMPTY, targets)) continue;
        round.targetsChanged = true;
        if (before) this.withdraw(policy, before, round);
        if (targets.length === 0) continue;
        const grants = this.grantsOf(policy, targets, round.created);
        for (const g of grants) this.acquire(g, round.renamed);
        round.changedGrants.push(...grants);
        this.inForce.set(policy, { targets, grants });
      }
    }
    this.localBefore = localIn;
  }

  /** 2. Peers that came and went, their pods and named ports, into the class space; the classes that moved. */
  private place(round: Round, changes: PodChanges | undefined): Set<ClassBuild<PeerInfo>> {
    const fresh = new Set(round.created);
    const gone: PeerInfo[] = [];
    for (const g of round.changedGrants) {
      for (const p of g.peers ?? []) {
        if (p.grants.size === 0 && this.peers.get(p.identity) === p) {
          this.peers.delete(p.identity);
          if (!fresh.has(p)) gone.push(p);
        }
      }
    }
    if (changes) {
      for (const [identity, change] of changes.peers) {
        const p = this.peers.get(identity);
        if (p && !fresh.has(p) && p.peer !== 'any' && p.peer.kind === 'pods') this.space.setPods(p, this.index.podsMatching(p.peer), change.removed, change.added);
      }
    }
    for (const p of gone) this.space.removePeer(p);
    for (const p of round.created) {
      if (p.grants.size === 0) continue;
      p.names = new Set(p.nameCounts.keys());
      this.space.addPeer(p);
    }
    for (const p of round.renamed) {
      if (fresh.has(p) || p.grants.size === 0) continue;
      const names = new Set(p.nameCounts.keys());
      if (names.size !== p.names.size || [...names].some((n) => !p.names.has(n))) this.space.setNames(p, names);
    }
    if (changes) this.space.touch(changes.addresses);
    return this.space.settle();
  }

  /**
   * 3. Allowances: of the classes whose addresses changed (all of it if their families did), and
   * of the namespaces whose grants changed in the classes of those grants' peers. The classes
   * with allowances, sorted by key (the same list when none changed).
   */
  private classesAfter(moved: Set<ClassBuild<PeerInfo>>, changedGrants: readonly Grant[]): PeerClass[] {
    const regrant = new Map<ClassBuild<PeerInfo>, Set<string>>();
    // The first compile: every class has moved (it is new).
    if (this.last) for (const g of changedGrants) {
      for (const p of g.peers ?? []) {
        if (p.grants.size === 0) continue;
        for (const c of p.classes) (regrant.get(c) ?? regrant.set(c, new Set()).get(c)!).add(g.namespace);
      }
    }
    let changed = false;
    for (const c of new Set([...moved, ...regrant.keys()])) {
      const before = this.outputs.get(c);
      if (c.ranges.length === 0) {
        if (before) this.outputs.delete(c), (changed = true);
        continue;
      }
      const families = [...c.families].join(',');
      const same = before !== undefined && before.families === families;
      const redo = same ? regrant.get(c) : undefined;
      let builds: AllowBuild[];
      if (!same) builds = this.allowancesOfClass(c, undefined);
      else if (redo) builds = [...before.builds.filter((b) => !redo.has(b.namespace)), ...this.allowancesOfClass(c, redo)];
      else builds = before.builds;
      const allow = builds === before?.builds ? (before.out?.allow ?? []) : allowancesOf(builds);
      const key = before?.key ?? classKey(this.direction, c);
      this.outputs.set(c, { key, families, builds, out: allow.length > 0 ? { key, cidrs: c.ranges.flatMap(rangeCidrs), allow } : null });
      changed = true;
    }
    if (!changed && this.last) return this.last.classes;
    return [...this.outputs.values()].flatMap((o) => (o.out ? [o.out] : [])).sort((a, b) => compareText(a.key, b.key));
  }

  /** 4. Isolation and what any peer may do, from the policies in force (few grants: cheap). */
  private isolation(unknown: readonly PodRecord[]): Omit<DirectionPolicy, 'classes'> {
    const isolated = new Map<string, PodAddress>();
    const isolatedBy = new Map<string, Set<string>>();
    for (const pod of unknown) for (const a of pod.addresses) isolated.set(a.text, a);
    const anyPeer = new Map<string, AllowBuild>();
    for (const [policy, { targets, grants }] of this.inForce) {
      for (const pod of targets) {
        for (const a of pod.addresses) {
          isolated.set(a.text, a);
          (isolatedBy.get(a.text) ?? isolatedBy.set(a.text, new Set()).get(a.text)!).add(policy.id);
        }
      }
      for (const grant of grants) {
        if (grant.peers !== null) continue;
        for (const target of grant.targets) {
          const ports = resolvePorts(grant.ports, this.egress ? NO_NAMES : (key) => target.namedPorts.get(key));
          if (ports !== 'all' && ports.length === 0) continue;
          for (const a of target.addresses) allowOf(anyPeer, a, grant.namespace).add(ports, grant.policy);
        }
      }
    }
    const order = [...isolated.values()].sort(compareAddress).map((a) => a.text);
    const by = Object.fromEntries(order.filter((ip) => isolatedBy.has(ip)).map((ip) => [ip, [...isolatedBy.get(ip)!].sort(compareText)]));
    return { isolated: order, isolatedBy: by, anyPeer: allowancesOf([...anyPeer.values()]) };
  }

  private peerOf(peer: Peer | 'any', created: PeerInfo[]): PeerInfo {
    const identity = peer === 'any' ? 'any' : peer.identity;
    let info = this.peers.get(identity);
    if (!info) {
      info = { id: this.nextId++, peer, identity, ...matchOf(peer, this.index), names: new Set(), classes: [], grants: new Set(), nameCounts: new Map() };
      this.peers.set(identity, info);
      created.push(info);
    }
    return info;
  }

  /**
   * The grants of a policy's rules for its targets. Egress rules without peers but with named
   * ports cannot go to `anyPeer` (what the name means depends on the destination): their named
   * part is a grant to the pseudo-peer "any", which covers every address.
   */
  private grantsOf(policy: ParsedPolicy, targets: readonly PodRecord[], created: PeerInfo[]): Grant[] {
    const grants: Grant[] = [];
    const grant = (peers: PeerInfo[] | null, ports: PortEntry[] | null) => grants.push({ policy: policy.id, namespace: policy.namespace, targets, peers, ports, targetPorts: undefined, stamp: 0 });
    for (const rule of policy[this.direction]!) {
      const named = rule.ports?.filter((e) => e.kind === 'named') ?? [];
      if (rule.peers === null) {
        if (this.egress && named.length > 0) {
          grant(null, rule.ports!.filter((e) => e.kind !== 'named'));
          grant([this.peerOf('any', created)], named);
        } else grant(null, rule.ports);
        continue;
      }
      grant(
        rule.peers.map((p) => this.peerOf(p, created)),
        rule.ports,
      );
    }
    return grants;
  }

  /** A grant names its peers (and, for egress, their named ports). */
  private acquire(g: Grant, renamed: Set<PeerInfo>): void {
    for (const p of g.peers ?? []) {
      p.grants.add(g);
    }
    this.countNames(g, 1, renamed);
  }

  private withdraw(policy: ParsedPolicy, before: InForce, round: Round): void {
    for (const g of before.grants) {
      for (const p of g.peers ?? []) {
        p.grants.delete(g);
      }
      this.countNames(g, -1, round.renamed);
    }
    round.changedGrants.push(...before.grants);
    this.inForce.delete(policy);
  }

  private countNames(g: Grant, delta: number, renamed: Set<PeerInfo>): void {
    if (!this.egress || !g.peers || !g.ports) return;
    for (const e of g.ports) {
      if (e.kind !== 'named') continue;
      const key = namedPortKey(e.name, e.protocol);
      for (const p of g.peers) {
        const n = (p.nameCounts.get(key) ?? 0) + delta;
        if (n > 0) p.nameCounts.set(key, n);
        else p.nameCounts.delete(key);
        renamed.add(p);
      }
    }
  }

  /**
   * Each grant naming a peer of the class adds, for its targets' addresses, its ports to the
   * class: the builds of the grants of the namespaces in `only` (all: undefined).
   */
  private allowancesOfClass(c: ClassBuild<PeerInfo>, only: ReadonlySet<string> | undefined): AllowBuild[] {
    const map = new Map<string, AllowBuild>();
    const stamp = ++this.stamp;
    const add = (grant: Grant) => {
      if (grant.stamp === stamp || (only && !only.has(grant.namespace))) return;
      grant.stamp = stamp;
      const classPorts = this.egress ? resolvePorts(grant.ports, (key) => c.resolution.get(key)) : 'all';
      const targetPorts = this.egress ? undefined : (grant.targetPorts ??= grant.targets.map((t) => resolvePorts(grant.ports, (key) => t.namedPorts.get(key))));
      grant.targets.forEach((target, i) => {
        const ports = targetPorts ? targetPorts[i] : classPorts;
        if (ports !== 'all' && ports.length === 0) return;
        for (const a of target.addresses) if (c.families.has(a.family)) allowOf(map, a, grant.namespace).add(ports, grant.policy);
      });
    };
    for (const p of c.peers) for (const grant of p.grants) add(grant);
    return [...map.values()];
  }
}
