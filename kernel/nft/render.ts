/**
 * Pure rendering of one operation as one line of `nft -f` input.
 *
 * Exactly one line per operation: nft reports errors by line, so line N of a transaction is its
 * N-th operation. Every piece of text is validated (kernel/nft/syntax.ts) on the way, so a
 * line either is safe nft syntax or rendering throws NftValidationError.
 */
import { NftValidationError } from './errors';
import {
  checkChainType,
  checkFamily,
  checkHook,
  checkIndex,
  checkName,
  checkPolicy,
  checkRuleText,
  quoteComment,
  renderElementKey,
  renderElementValue,
  renderMapType,
  renderPriority,
  renderSeconds,
  renderSetFlags,
  renderSetType,
  renderMapTypeof,
} from './syntax';
import type { Chain, Element, ElementBatch, ElementEntry, ElementRef, NftMap, NftSet, Operation, Rule, Table, TableRef, Verb } from './types';

function fail(message: string): never {
  throw new NftValidationError(message);
}

/** 'inet weft', validated. */
export function renderTableRef(table: TableRef): string {
  return `${checkFamily(table.family)} ${checkName('table', table.name)}`;
}

/** Properties in a `{ ... }` block, each closed by ' ;' as `nft list` never needs but always takes. */
function block(props: string[]): string {
  return props.length === 0 ? '' : ` { ${props.map((p) => `${p} ;`).join(' ')} }`;
}

function renderTable(verb: Verb, t: string, table: Table): string {
  const props = (verb === 'add' || verb === 'create') && table.comment !== undefined ? [`comment ${quoteComment(table.comment)}`] : [];
  return `${verb} table ${t}${block(props)}`;
}

function renderChain(verb: Verb, family: TableRef['family'], t: string, chain: Chain): string {
  const name = checkName('chain', chain.name);
  if (verb !== 'add' && verb !== 'create') return `${verb} chain ${t} ${name}`;
  const props: string[] = [];
  const base = chain.hook !== undefined || chain.type !== undefined || chain.priority !== undefined;
  if (base) {
    if (chain.hook === undefined || chain.type === undefined || chain.priority === undefined) {
      fail(`base chain ${JSON.stringify(chain.name)} needs type, hook and priority together`);
    }
    props.push(`type ${checkChainType(chain.type)} hook ${checkHook(chain.hook)} priority ${renderPriority(family, chain.priority)}`);
    if (chain.policy !== undefined) props.push(`policy ${checkPolicy(chain.policy)}`);
  } else if (chain.policy !== undefined) {
    fail(`regular chain ${JSON.stringify(chain.name)} cannot have a policy (only base chains with a hook)`);
  }
  if (chain.comment !== undefined) props.push(`comment ${quoteComment(chain.comment)}`);
  return `${verb} chain ${t} ${name}${block(props)}`;
}

function renderRule(verb: Verb, t: string, rule: Rule): string {
  const chain = checkName('chain', rule.chain);
  if (rule.handle !== undefined && rule.index !== undefined) fail('a rule takes handle or index, not both');
  if ((verb === 'replace' || verb === 'delete') && rule.handle === undefined) fail(`${verb} rule needs the rule's handle`);
  let line = `${verb} rule ${t} ${chain}`;
  if (rule.handle !== undefined) line += ` handle ${checkIndex('rule handle', rule.handle)}`;
  if (rule.index !== undefined) line += ` index ${checkIndex('rule index', rule.index)}`;
  if (verb === 'delete') return line;
  line += ` ${checkRuleText(rule.rule)}`;
  if (rule.comment !== undefined) line += ` comment ${quoteComment(rule.comment)}`;
  return line;
}

function renderSetOrMap(verb: Verb, t: string, obj: NftSet | NftMap): string {
  const name = checkName(obj.kind, obj.name);
  if (verb !== 'add' && verb !== 'create') return `${verb} ${obj.kind} ${t} ${name}`;
  const declared = obj.kind === 'map' && obj.typeof !== undefined ? `typeof ${renderMapTypeof(obj.typeof)}` : undefined;
  const props = [declared ?? `type ${obj.kind === 'set' ? renderSetType(obj.type) : renderMapType(obj.type)}`];
  if (obj.flags !== undefined && obj.flags.length > 0) props.push(`flags ${renderSetFlags(obj.flags)}`);
  if (obj.timeout !== undefined) props.push(`timeout ${renderSeconds('timeout', obj.timeout)}`);
  if (obj.counter) props.push('counter');
  if (obj.comment !== undefined) props.push(`comment ${quoteComment(obj.comment)}`);
  return `${verb} ${obj.kind} ${t} ${name}${block(props)}`;
}

function renderElement(verb: Verb, t: string, el: Element | ElementRef): string {
  if ((el.set === undefined) === (el.map === undefined)) fail('an element names exactly one of set or map');
  const container = el.set !== undefined ? { kind: 'set' as const, name: checkName('set', el.set) } : { kind: 'map' as const, name: checkName('map', el.map) };
  return `${verb} element ${t} ${container.name} { ${renderElementBody(verb, el, container)} }`;
}

function renderElementBatch(verb: Verb, t: string, batch: ElementBatch): string {
  if ((batch.set === undefined) === (batch.map === undefined)) fail('an element batch names exactly one of set or map');
  if (!Array.isArray(batch.entries) || batch.entries.length === 0) fail('an element batch needs at least one element');
  const container = batch.set !== undefined ? { kind: 'set' as const, name: checkName('set', batch.set) } : { kind: 'map' as const, name: checkName('map', batch.map) };
  const bodies = batch.entries.map((e) => renderElementBody(verb, e, container));
  return `${verb} element ${t} ${container.name} { ${bodies.join(', ')} }`;
}

function renderElementBody(verb: Verb, el: ElementEntry | Pick<ElementEntry, 'key'>, container: { kind: 'set' | 'map'; name: string }): string {
  let body = renderElementKey(el.key);
  if (verb !== 'delete') {
    const full = el as ElementEntry;
    if (full.timeout !== undefined) body += ` timeout ${renderSeconds('element timeout', full.timeout)}`;
    if (full.comment !== undefined) body += ` comment ${quoteComment(full.comment)}`;
    if (container.kind === 'map') {
      if (full.value === undefined) fail(`element of map ${JSON.stringify(container.name)} needs a value`);
      body += ` : ${renderElementValue(full.value)}`;
    } else if (full.value !== undefined) {
      fail(`element of set ${JSON.stringify(container.name)} cannot have a value (did you mean map?)`);
    }
  }
  return body;
}

// Which object kinds each verb takes, as nft defines them.
const ALLOWED: Record<Verb, readonly string[]> = {
  add: ['table', 'chain', 'rule', 'set', 'map', 'element', 'elements'],
  create: ['table', 'chain', 'set', 'map', 'element'],
  insert: ['rule'],
  replace: ['rule'],
  delete: ['table', 'chain', 'rule', 'set', 'map', 'element', 'elements'],
  flush: ['table', 'chain', 'set', 'map'],
};

/** Renders one operation on `table` as one line (no newline). Throws NftValidationError. */
export function renderOperation(table: TableRef, op: Operation): string {
  const t = renderTableRef(table);
  const obj = op.object as { kind?: unknown };
  if (!ALLOWED[op.verb]?.includes(String(obj.kind))) fail(`${op.verb} does not apply to ${JSON.stringify(obj.kind)}`);
  switch (op.object.kind) {
    case 'table':
      return renderTable(op.verb, t, op.object);
    case 'chain':
      return renderChain(op.verb, table.family, t, op.object as Chain);
    case 'rule':
      return renderRule(op.verb, t, op.object as Rule);
    case 'set':
    case 'map':
      return renderSetOrMap(op.verb, t, op.object as NftSet | NftMap);
    case 'element':
      return renderElement(op.verb, t, op.object);
    case 'elements':
      return renderElementBatch(op.verb, t, op.object);
  }
}

/** The whole `nft -f` script: one line per operation, each ended by a newline. */
export function renderOperations(table: TableRef, ops: readonly Operation[]): string {
  return ops.map((op) => `${renderOperation(table, op)}\n`).join('');
}
