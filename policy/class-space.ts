/**
 * The address space of both families cut into peer classes (peer-classes.ts says what a class
 * is), kept up to date as peers come and go and pods change, so that a change costs what it
 * touches rather than a sweep over every address.
 *
 * Per family the space is tiled by pieces: maximal runs of addresses with the same class (or
 * with none). A piece's class follows from two things: the range peers covering it (the
 * background, recomputed when a range peer comes or goes) and, for a single address, the point
 * there: the peers matching the pods at that address (or the node address), the pods (their
 * named ports), and for egress whether one of their named ports is relevant. Every change marks
 * what it can affect as dirty: a pod change its addresses, a peer its ranges and its points (and
 * for a range peer naming named ports, the pods in its ranges that have one), a peer's named
 * ports the same. settle() recomputes the pieces of the
 * dirty regions from the background and the points there, splices them into the tiling (merging
 * with the neighbours, so that the tiling stays maximal: exactly the ranges a sweep over
 * everything would give) and says which classes gained or lost pieces.
 *
 * Peers are added in any order; a peer's `pods` may only change through setPods, and its
 * `names` only through setNames. Classes are the same objects for as long as they have
 * addresses; each peer's `classes` lists those it is part of.
 */
import { compareBigInt, maxAddress, rangeToCidrs, type AddressRange, type Family } from './address';
import type { PodAddress, PodRecord } from './cluster';
import type { ClusterIndex } from './cluster-index';
import type { ClassBuild, ClassPeer } from './peer-classes';

const FAMILIES: readonly Family[] = [4, 6];

/** A maximal run of addresses of one class (none: undefined). Never changed once in the tiling. */
interface Piece<P extends ClassPeer<P>> extends AddressRange {
  cls: ClassBuild<P> | undefined;
  /** Its CIDRs, once asked for. */
  cidrs?: string[];
  /** The window pass that made it: until that pass is done, it is nobody's and may grow. */
  made: number;
}

/** A single address that is more than its background: what is there decides its class. */
interface Point<P> {
  address: PodAddress;
  /** The peers matching a pod at this address or the address itself, sorted by id. */
  peers: readonly P[];
  peersKey: string;
  pods: readonly PodRecord[];
}

/** From `first` to the next segment's first: the range peers covering it, sorted by id. */
interface Segment<P> {
  first: bigint;
  peers: P[];
  key: string;
}

/** The CIDRs of a class's range (a ClassSpace's ranges are immutable: each is converted once). */
export function rangeCidrs(range: AddressRange): string[] {
  const piece = range as AddressRange & { cidrs?: string[] };
  return (piece.cidrs ??= rangeToCidrs(range));
}

const byId = <P extends { id: number }>(a: P, b: P) => a.id - b.id;
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const idsKey = (peers: readonly { id: number }[]) => peers.map((p) => p.id).join(',');

/** The union of two lists sorted by id. */
function mergeById<P extends { id: number }>(a: readonly P[], b: readonly P[]): P[] {
  const out: P[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i].id < b[j].id)) out.push(a[i++]);
    else if (i >= a.length || b[j].id < a[i].id) out.push(b[j++]);
    else out.push(a[i++]), j++;
  }
  return out;
}

/** Inserts into a list sorted by id (in place), unless it is there. */
function insertById<P extends { id: number }>(list: P[], p: P): void {
  let i = list.length;
  while (i > 0 && list[i - 1].id > p.id) i--;
  if (i > 0 && list[i - 1] === p) return;
  list.splice(i, 0, p);
}

function removeItem<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

/** The first index whose element's value is >= `value` (elements sorted by value). */
function lowerBound<T>(list: readonly T[], value: bigint, of: (t: T) => bigint): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (of(list[mid]) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The index of the tile or segment holding `value`: the last one starting at or before it. */
const holding = <T extends { first: bigint }>(list: readonly T[], value: bigint) => lowerBound(list, value + 1n, (t) => t.first) - 1;

/** Position of a range in a class's ranges (sorted by family, then first). */
function rangeIndex(ranges: readonly AddressRange[], r: AddressRange): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const m = ranges[mid];
    if (m.family < r.family || (m.family === r.family && m.first < r.first)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Beyond this many pieces changed, the classes' ranges are rebuilt from the tiling rather than patched. */
const REBUILD_RANGES = 256;

/** Beyond this many windows of tiles to redo, one pass over the whole tiling is cheaper. */
const MAX_WINDOWS = 16;

/** Tiles from..to (indices, inclusive) to redo with the regions in them. */
interface Window {
  from: number;
  to: number;
  regions: { first: bigint; last: bigint }[];
}

/** `list` with [from, to) replaced by `items`: in place when small, else a new list given to `set`. */
function replace<T>(list: T[], from: number, to: number, items: T[], set: (list: T[]) => void): void {
  if (items.length < 1000 && to - from < 1000) list.splice(from, to - from, ...items);
  else set([...list.slice(0, from), ...items, ...list.slice(to)]);
}

export class ClassSpace<P extends ClassPeer<P>> {
  private readonly rangePeers = new Set<P>();
  /**
   * Per pod, the peers matching it, sorted by id. Points share these lists: after the first
   * settle (when there are points) a list is replaced, not changed.
   */
  private readonly podPeers = new Map<PodRecord, readonly P[]>();
  private settled = false;
  /** Counts window passes (Piece.made). */
  private passes = 0;
  /** Per single address a peer matches by itself (node addresses), those peers, sorted by id. */
  private readonly addressPeers = new Map<string, P[]>();
  /** Egress: each named port some peer names, with how many peers name it. */
  private readonly nameCount = new Map<string, number>();
  private background: Record<Family, Segment<P>[]> | undefined;
  private readonly points: Record<Family, Point<P>[]> = { 4: [], 6: [] };
  private readonly tiles: Record<Family, Piece<P>[]>;
  private readonly classes = new Map<string, ClassBuild<P>>();
  /** The names of a set of peers (by its ids), sorted: for one settle. */
  private namesMemo = new Map<string, string[]>();
  private readonly dirtyAddresses = new Map<string, PodAddress>();
  /** Classes made since the last settle (each gets a piece, but settle checks). */
  private created = new Set<ClassBuild<P>>();
  private readonly dirtyRanges: Record<Family, { first: bigint; last: bigint }[]> = { 4: [], 6: [] };

  constructor(
    private readonly egress: boolean,
    private readonly index: ClusterIndex,
  ) {
    this.tiles = { 4: [this.emptyTile(4)], 6: [this.emptyTile(6)] };
  }

  private emptyTile(family: Family): Piece<P> {
    return { family, first: 0n, last: maxAddress(family), cls: undefined, cidrs: undefined, made: 0 };
  }

  /** The classes with addresses (each peer's `classes` lists its own). */
  list(): ClassBuild<P>[] {
    return [...this.classes.values()];
  }

  addPeer(p: P): void {
    for (const pod of p.pods) this.podPeer(pod, p, true);
    for (const a of p.addresses) {
      let list = this.addressPeers.get(a.text);
      if (!list) this.addressPeers.set(a.text, (list = []));
      insertById(list, p);
      this.dirtyAddresses.set(a.text, a);
    }
    if (p.ranges.length > 0) this.rangesChanged(p, true);
    for (const n of p.names) this.countName(n, 1);
    this.touchNamed(p, p.names);
  }

  removePeer(p: P): void {
    for (const pod of p.pods) this.podPeer(pod, p, false);
    for (const a of p.addresses) {
      const list = this.addressPeers.get(a.text);
      if (list) removeItem(list, p);
      if (list?.length === 0) this.addressPeers.delete(a.text);
      this.dirtyAddresses.set(a.text, a);
    }
    if (p.ranges.length > 0) this.rangesChanged(p, false);
    for (const n of p.names) this.countName(n, -1);
  }

  /** The pods `p` matches are now `pods`: `removed` left, `added` joined. */
  setPods(p: P, pods: readonly PodRecord[], removed: readonly PodRecord[], added: readonly PodRecord[]): void {
    for (const pod of removed) this.podPeer(pod, p, false);
    for (const pod of added) this.podPeer(pod, p, true);
    p.pods = pods;
  }

  /** `p` now names these named ports (egress). */
  setNames(p: P, names: Set<string>): void {
    const gained = [...names].filter((n) => !p.names.has(n));
    for (const n of p.names) if (!names.has(n)) this.countName(n, -1);
    for (const n of gained) this.countName(n, 1);
    p.names = names;
    this.touchNamed(p, gained);
    // Wherever p is part of the class, the class's resolution may change.
    for (const pod of p.pods) this.touch(pod.addresses);
    for (const a of p.addresses) this.dirtyAddresses.set(a.text, a);
    for (const r of p.ranges) this.dirtyRanges[r.family].push(r);
  }

  /** Addresses whose pods changed. */
  touch(addresses: readonly PodAddress[]): void {
    for (const a of addresses) this.dirtyAddresses.set(a.text, a);
  }

  private podPeer(pod: PodRecord, p: P, add: boolean): void {
    const before = this.podPeers.get(pod);
    if (before && !this.settled) {
      // Before the first settle a list is nobody's yet, and its pod's addresses are dirty already.
      if (add) insertById(before as P[], p);
      else removeItem(before as P[], p);
      if (before.length === 0) this.podPeers.delete(pod);
      return;
    }
    const list = before ? [...before] : [];
    if (add) insertById(list, p);
    else removeItem(list, p);
    if (list.length > 0) this.podPeers.set(pod, list);
    else this.podPeers.delete(pod);
    this.touch(pod.addresses);
  }

  private rangesChanged(p: P, add: boolean): void {
    if (add) this.rangePeers.add(p);
    else this.rangePeers.delete(p);
    this.background = undefined;
    for (const r of p.ranges) this.dirtyRanges[r.family].push(r);
  }

  private countName(name: string, delta: number): void {
    const n = (this.nameCount.get(name) ?? 0) + delta;
    if (n > 0) this.nameCount.set(name, n);
    else this.nameCount.delete(name);
  }

  /**
   * A range peer naming these named ports: the pods in its ranges that have one become points
   * (their class resolves it). A point is needed exactly where the peers of its class name a
   * port its pods have; those of pod peers are touched with the peer, and a pod with a named
   * port no peer of its class names is a point of the background's class: a point too many (a
   * pod with a port that some other peer names) or too few (one nobody names any more) changes
   * nothing.
   */
  private touchNamed(p: P, names: Iterable<string>): void {
    if (!this.egress || p.ranges.length === 0) return;
    for (const name of names) {
      for (const pod of this.index.podsWithNamedPort(name)) {
        for (const a of pod.addresses) if (p.ranges.some((r) => r.family === a.family && r.first <= a.value && a.value <= r.last)) this.dirtyAddresses.set(a.text, a);
      }
    }
  }

  /**
   * Recomputes what changed since the last settle; returns the classes that gained or lost
   * addresses (those left without any are gone: out of the list and of their peers' classes).
   */
  settle(): Set<ClassBuild<P>> {
    this.background ??= this.buildBackground();
    const removed: Piece<P>[] = [];
    const added: Piece<P>[] = [];
    for (const family of FAMILIES) this.settleFamily(family, removed, added);
    this.dirtyAddresses.clear();
    this.namesMemo = new Map();
    this.settled = true;
    const affected = this.created;
    this.created = new Set();
    for (const t of removed) if (t.cls) affected.add(t.cls);
    for (const t of added) if (t.cls) affected.add(t.cls);
    if (removed.length + added.length > REBUILD_RANGES) {
      // Many pieces changed: the classes' ranges again from the tiling, in one pass.
      for (const c of affected) c.ranges = [];
      for (const family of FAMILIES) for (const t of this.tiles[family]) if (t.cls && affected.has(t.cls)) t.cls.ranges.push(t);
    } else {
      for (const t of removed) if (t.cls) t.cls.ranges.splice(rangeIndex(t.cls.ranges, t), 1);
      for (const t of added) {
        if (!t.cls) continue;
        const ranges = t.cls.ranges;
        const last = ranges[ranges.length - 1];
        if (!last || last.family < t.family || (last.family === t.family && last.first < t.first)) ranges.push(t);
        else ranges.splice(rangeIndex(ranges, t), 0, t);
      }
    }
    for (const c of affected) {
      if (c.ranges.length === 0) {
        this.classes.delete(c.spaceKey);
        for (const p of c.peers) removeItem(p.classes, c);
        continue;
      }
      c.families = new Set([c.ranges[0].family, c.ranges[c.ranges.length - 1].family]);
    }
    return affected;
  }

  /** The dirty regions of a family: sorted, disjoint, not touching. */
  private regions(family: Family, dirty: readonly PodAddress[]): { first: bigint; last: bigint }[] {
    const ranges = this.dirtyRanges[family];
    this.dirtyRanges[family] = [];
    // A space without any class yet is swept whole.
    const tiles = this.tiles[family];
    if (tiles.length === 1 && tiles[0].cls === undefined && (dirty.length > 0 || ranges.length > 0)) return [{ first: 0n, last: maxAddress(family) }];
    const all = [...ranges.map((r) => ({ first: r.first, last: r.last })), ...dirty.map((a) => ({ first: a.value, last: a.value }))];
    all.sort((x, y) => compareBigInt(x.first, y.first));
    const out: { first: bigint; last: bigint }[] = [];
    for (const r of all) {
      const last = out[out.length - 1];
      if (last && r.first <= last.last + 1n) {
        if (r.last > last.last) last.last = r.last;
      } else out.push(r);
    }
    return out;
  }

  /**
   * Recomputes the points and pieces of a family's dirty regions, and the tiling with them. The
   * tiles the regions reach and their neighbours make windows, each redone in one pass and put
   * back in place (many windows make one: the whole tiling in one pass).
   */
  private settleFamily(family: Family, removed: Piece<P>[], added: Piece<P>[]): void {
    const dirty: PodAddress[] = [];
    for (const a of this.dirtyAddresses.values()) if (a.family === family) dirty.push(a);
    dirty.sort((a, b) => compareBigInt(a.value, b.value));
    const regions = this.regions(family, dirty);
    if (regions.length === 0) return;
    const tiles = this.tiles[family];
    let windows: Window[] = [];
    regions.forEach((r, i) => {
      const from = Math.max(0, holding(tiles, r.first) - 1);
      const to = Math.min(tiles.length - 1, holding(tiles, r.last) + 1);
      const last = windows[windows.length - 1];
      if (last && from <= last.to + 1) {
        last.to = Math.max(last.to, to);
        last.regions.push(r);
      } else windows.push({ from, to, regions: [r] });
    });
    if (windows.length > MAX_WINDOWS) windows = [{ from: 0, to: tiles.length - 1, regions }];
    const unions = new Map<string, { set: P[]; key: string }>();
    // From the last, so that the tiles and points before a window keep their places.
    for (const w of windows.reverse()) {
      const lo = w.regions[0].first;
      const hi = w.regions[w.regions.length - 1].last;
      const inside = dirty.slice(lowerBound(dirty, lo, (a) => a.value), lowerBound(dirty, hi + 1n, (a) => a.value));
      this.redo(family, w, inside, unions, removed, added);
    }
  }

  /**
   * One window: the points of its regions, and its tiles in one pass: the tiles a region cuts
   * keep their parts outside it, neighbours of the same class are merged; tiles that come out
   * the same stay the same objects. The tiles that left go to `removed`, the new ones to `added`.
   */
  private redo(family: Family, w: Window, dirty: readonly PodAddress[], unions: Map<string, { set: P[]; key: string }>, removed: Piece<P>[], added: Piece<P>[]): void {
    const points = this.points[family];
    const tiles = this.tiles[family];
    const pa = lowerBound(points, w.regions[0].first, (p) => p.address.value);
    const pb = lowerBound(points, w.regions[w.regions.length - 1].last + 1n, (p) => p.address.value);
    const nextPoints: Point<P>[] = [];
    const nextTiles: Piece<P>[] = [];
    // Tiles made here (merges, cut tiles' remainders, new pieces) are not yet anyone's.
    const pass = ++this.passes;
    const isMade = (t: Piece<P>) => t.made === pass;
    const gone: Piece<P>[] = [];
    const put = (t: Piece<P>) => {
      const last = nextTiles[nextTiles.length - 1];
      if (!last || last.cls !== t.cls) {
        nextTiles.push(t);
        return;
      }
      if (!isMade(t)) gone.push(t);
      if (isMade(last)) last.last = t.last;
      else {
        gone.push(last);
        const merged = { family, first: last.first, last: t.last, cls: t.cls, cidrs: undefined, made: pass };
        nextTiles[nextTiles.length - 1] = merged;
      }
    };
    const piece = (first: bigint, last: bigint, cls: ClassBuild<P> | undefined) => {
      return { family, first, last, cls, cidrs: undefined, made: pass };
    };
    let ti = w.from;
    /** The tile being passed: an old one (tiles[ti]) or the remainder of one a region cut. */
    let current: Piece<P> | undefined = tiles[ti];
    let pi = pa;
    let d = 0;
    for (const { first: lo, last: hi } of w.regions) {
      while (current!.last < lo) {
        put(current!);
        current = tiles[++ti];
      }
      if (current!.first < lo) put(piece(current!.first, lo - 1n, current!.cls));
      for (;;) {
        if (!isMade(current!)) gone.push(current!);
        if (current!.last >= hi) break;
        current = tiles[++ti];
      }
      // The points of the region: those kept, and the dirty addresses' again.
      for (; pi < pb && points[pi].address.value < lo; pi++) nextPoints.push(points[pi]);
      // Those kept and the dirty addresses' again, both in order: merged.
      const here: Point<P>[] = [];
      for (; pi < pb && points[pi].address.value <= hi; pi++) {
        const kept = points[pi];
        if (this.dirtyAddresses.has(kept.address.text)) continue;
        for (; d < dirty.length && dirty[d].value < kept.address.value; d++) this.pushPoint(here, dirty[d]);
        here.push(kept);
      }
      for (; d < dirty.length && dirty[d].value <= hi; d++) this.pushPoint(here, dirty[d]);
      for (const p of here) nextPoints.push(p);
      for (const t of this.sweep(family, lo, hi, here, unions, pass)) put(t);
      if (current!.last > hi) current = piece(hi + 1n, current!.last, current!.cls);
      else current = ++ti <= w.to ? tiles[ti] : undefined;
    }
    for (; current; current = ++ti <= w.to ? tiles[ti] : undefined) put(current);
    for (; pi < pb; pi++) nextPoints.push(points[pi]);
    replace(this.points[family], pa, pb, nextPoints, (list) => (this.points[family] = list));

    // A tile that came out as it was is the old one, and neither left nor came.
    const goneAt = new Map<bigint, Piece<P>>();
    for (const t of gone) goneAt.set(t.first, t);
    for (let i = 0; i < nextTiles.length; i++) {
      const t = nextTiles[i];
      if (!isMade(t)) continue;
      const old = goneAt.get(t.first);
      if (old && old.last === t.last && old.cls === t.cls) {
        nextTiles[i] = old;
        goneAt.delete(t.first);
      } else added.push(t);
    }
    for (const t of goneAt.values()) removed.push(t);
    replace(tiles, w.from, w.to + 1, nextTiles, (list) => (this.tiles[family] = list));
  }

  private pushPoint(list: Point<P>[], address: PodAddress): void {
    const p = this.pointAt(address);
    if (p) list.push(p);
  }

  /** What is at a single address, or undefined when its background decides. */
  private pointAt(address: PodAddress): Point<P> | undefined {
    const pods = this.index.podsAt(address.text);
    let peers: readonly P[] = [];
    for (const pod of pods) {
      const list = this.podPeers.get(pod);
      if (list) peers = peers.length === 0 ? list : mergeById(peers, list);
    }
    const own = this.addressPeers.get(address.text);
    if (own) peers = mergeById(peers, own);
    const named = this.egress && this.nameCount.size > 0 && pods.some((pod) => pod.namedPortKeys.some((k) => this.nameCount.has(k)));
    if (peers.length === 0 && !named) return undefined;
    return { address, peers, peersKey: idsKey(peers), pods };
  }

  /** Per family, the range peers covering each stretch between their edges. */
  private buildBackground(): Record<Family, Segment<P>[]> {
    const out = { 4: [], 6: [] } as Record<Family, Segment<P>[]>;
    for (const family of FAMILIES) {
      const max = maxAddress(family);
      const events: { at: bigint; peer: P; add: boolean }[] = [];
      for (const p of this.rangePeers) {
        for (const r of p.ranges) {
          if (r.family !== family) continue;
          events.push({ at: r.first, peer: p, add: true });
          if (r.last < max) events.push({ at: r.last + 1n, peer: p, add: false });
        }
      }
      events.sort((x, y) => compareBigInt(x.at, y.at));
      const segments: Segment<P>[] = [{ first: 0n, peers: [], key: '' }];
      const active = new Set<P>();
      for (let e = 0; e < events.length; ) {
        const at = events[e].at;
        for (; e < events.length && events[e].at === at; e++) {
          if (events[e].add) active.add(events[e].peer);
          else active.delete(events[e].peer);
        }
        const peers = [...active].sort(byId);
        const segment = { first: at, peers, key: idsKey(peers) };
        if (at === 0n) segments[0] = segment;
        else segments.push(segment);
      }
      out[family] = segments;
    }
    return out;
  }

  /** The maximal pieces of [lo, hi] from the background and `points` (those in [lo, hi], sorted). */
  private sweep(family: Family, lo: bigint, hi: bigint, points: readonly Point<P>[], unions: Map<string, { set: P[]; key: string }>, pass: number): Piece<P>[] {
    const segments = this.background![family];
    const max = maxAddress(family);
    const out: Piece<P>[] = [];
    const emit = (first: bigint, last: bigint, cls: ClassBuild<P> | undefined) => {
      const prev = out[out.length - 1];
      if (prev && prev.cls === cls) prev.last = last;
      else out.push({ family, first, last, cls, cidrs: undefined, made: pass });
    };
    let k = holding(segments, lo);
    let pi = 0;
    let cur = lo;
    for (;;) {
      const segment = segments[k];
      const segmentLast = k + 1 < segments.length ? segments[k + 1].first - 1n : max;
      const end = segmentLast < hi ? segmentLast : hi;
      while (cur <= end) {
        const point = pi < points.length ? points[pi] : undefined;
        if (point && point.address.value === cur) {
          emit(cur, cur, this.pointClass(segment, point, unions));
          pi++;
          cur += 1n;
        } else {
          const stop = point && point.address.value <= end ? point.address.value - 1n : end;
          emit(cur, stop, segment.peers.length > 0 ? this.classOf(segment.peers, segment.key, undefined) : undefined);
          cur = stop + 1n;
        }
      }
      if (end === hi) return out;
      k++;
    }
  }

  private pointClass(segment: Segment<P>, point: Point<P>, unions: Map<string, { set: P[]; key: string }>): ClassBuild<P> | undefined {
    if (point.peers.length === 0) return segment.peers.length > 0 ? this.classOf(segment.peers, segment.key, point.pods) : undefined;
    const unionKey = `${segment.key}|${point.peersKey}`;
    let union = unions.get(unionKey);
    if (!union) {
      const set = mergeById(segment.peers, point.peers);
      unions.set(unionKey, (union = { set, key: idsKey(set) }));
    }
    return this.classOf(union.set, union.key, point.pods);
  }

  /** The class of a set of peers (sorted by id) at an address with these pods (none: not a point). */
  private classOf(set: P[], setKey: string, pods: readonly PodRecord[] | undefined): ClassBuild<P> {
    let resolution: Map<string, number[]> | undefined;
    let signature = '';
    if (this.egress && pods && pods.length > 0) {
      let names = this.namesMemo.get(setKey);
      if (!names) {
        const all = new Set<string>();
        for (const p of set) for (const n of p.names) all.add(n);
        this.namesMemo.set(setKey, (names = [...all].sort(compareText)));
      }
      for (const name of names) {
        let ports: number[] | undefined;
        for (const pod of pods) {
          const found = pod.namedPorts.get(name);
          if (found) ports = ports ? [...new Set([...ports, ...found])].sort((a, b) => a - b) : found;
        }
        if (!ports) continue;
        (resolution ??= new Map()).set(name, ports);
        signature += `${signature ? ';' : ''}${name}=${ports.join('+')}`;
      }
    }
    const key = signature ? `${setKey}|${signature}` : setKey;
    let c = this.classes.get(key);
    if (!c) {
      this.classes.set(key, (c = { peers: set, resolution: resolution ?? new Map(), signature, ranges: [], families: new Set(), spaceKey: key }));
      for (const p of set) p.classes.push(c);
      this.created.add(c);
    }
    return c;
  }
}
