/**
 * A table as weft wants it: sets and maps with their elements, chains with their rules. The
 * nftables renderer builds one from a NodeState; diff.ts turns the difference between it and
 * what the kernel has into one transaction.
 */
import crypto from 'node:crypto';
import type { ChainHook, ChainPolicy, ChainPriority, ChainType, SetFlag } from '../../../kernel/nft';

export interface DesiredElement {
  key: string[];
  value?: string[];
  comment?: string;
}

export interface DesiredSet {
  kind: 'set' | 'map';
  name: string;
  /** nft type: 'ipv4_addr', or for a map 'ipv4_addr . inet_service : verdict'. */
  type: string;
  /** A map declared by expressions (kernel/nft NftMap.typeof); `type` is then its listed type. */
  typeof?: string;
  flags?: SetFlag[];
  /** Default element timeout in seconds (flag 'timeout'). */
  timeout?: number;
  /** Every element counts what matched it (per-policy counters are read from them). */
  counter?: boolean;
  comment?: string;
  elements: readonly DesiredElement[];
  /**
   * The elements in groups (see groupedSet), for sets too large to compare element by element
   * on every sync; `elements` is then their concatenation.
   */
  groups?: readonly ElementGroup[];
}

/**
 * Elements a renderer keeps as the very same array while what they render (one service port)
 * is unchanged, and whose keys no other group of the set repeats: a group that is the one
 * committed last time needs no comparison, and a group that went away can be deleted whole.
 */
export type ElementGroup = readonly DesiredElement[];

/** A set whose elements are `groups` concatenated (only when something asks for them). */
export function groupedSet(set: Omit<DesiredSet, 'elements' | 'groups'>, groups: readonly ElementGroup[]): DesiredSet {
  let elements: readonly DesiredElement[] | undefined;
  return {
    ...set,
    groups,
    get elements() {
      elements ??= groups.flat();
      return elements;
    },
  };
}

export interface DesiredRule {
  /** nft rule syntax, without the comment. */
  rule: string;
  /** Says why the rule exists; the renderer appends the rule's identity to it. */
  comment: string;
}

export interface DesiredChain {
  name: string;
  /** Present for base chains (hooked into the kernel's packet path). */
  base?: { type: ChainType; hook: ChainHook; priority: ChainPriority; policy: ChainPolicy };
  rules: DesiredRule[];
}

/** A set element with a counter, and the policies its packets are counted against. */
export interface CountedElement {
  set: string;
  /** The element's key as nft lists it. */
  key: string[];
  direction: 'ingress' | 'egress';
  verdict: 'allowed' | 'dropped';
  policies: string[];
}

export interface DesiredTable {
  comment: string;
  sets: DesiredSet[];
  chains: DesiredChain[];
  /** The counted elements among the sets' (not written: what reading their counters means). */
  counted?: CountedElement[];
}

/**
 * nft lists rules normalised (names become numbers, spacing changes), so a rule's text as read
 * back cannot be compared with the text written. Each rule's comment therefore ends with a
 * short hash of what was written, "[#1a2b3c4d]"; a chain is up to date when the hashes read back
 * are the desired ones, in order.
 */
const IDENTITY = / \[#([0-9a-f]{8})\]$/;

/** Remembered per rule object: renderers that keep a port's chains give the same rules every sync. */
const identities = new WeakMap<DesiredRule, string>();

export function ruleIdentity(rule: DesiredRule): string {
  let identity = identities.get(rule);
  if (identity === undefined) {
    identity = crypto.createHash('sha256').update(`${rule.rule}\0${rule.comment}`).digest('hex').slice(0, 8);
    identities.set(rule, identity);
  }
  return identity;
}

export function commentWithIdentity(rule: DesiredRule): string {
  return `${rule.comment} [#${ruleIdentity(rule)}]`;
}

/** The identity a rule read from the kernel carries, or undefined (a rule weft did not write). */
export function identityOf(comment: string | undefined): string | undefined {
  return comment === undefined ? undefined : IDENTITY.exec(comment)?.[1];
}

/** An element's identity for comparison: key, value and comment. */
const signatures = new WeakMap<object, string>();

/**
 * What identifies an element for the diff. Remembered per element object: renderers that give
 * the same objects for what did not change (render-services.ts) and the committed listing, which
 * keeps the desired objects, make a sync at 100,000 elements compare strings it already has.
 */
export function elementSignature(e: { key: string[]; value?: string[]; comment?: string }): string {
  let signature = signatures.get(e);
  if (signature === undefined) {
    signature = JSON.stringify([e.key, e.value ?? [], e.comment ?? '']);
    signatures.set(e, signature);
  }
  return signature;
}
