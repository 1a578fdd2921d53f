/**
 * An `ipset restore` transaction: sets to create, elements to add and delete, sets to swap and
 * destroy, rendered as one restore input and run with `-exist` (adding an element already there
 * or deleting one that is not is then no error, so a retried transaction converges).
 *
 * ipset has no transactions: each command takes effect on its own, in order. Callers that need
 * a consistent view order their commands (grow first, shrink last) or fill a new set under a
 * temporary name and `swap` it in, which replaces a set's whole content at once.
 */
import { IpsetValidationError } from './errors';
import { canonicalElement, checkFamily, checkSetName, checkType, checkWord } from './syntax';
import type { IpsetHeader } from './types';

export type IpsetOperation =
  | { op: 'create'; name: string; header: IpsetHeader }
  | { op: 'add' | 'del'; name: string; element: string }
  | { op: 'swap'; name: string; other: string }
  | { op: 'destroy'; name: string };

function positive(what: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 2 ** 32 - 1)) {
    throw new IpsetValidationError(`invalid ${what} ${value}: a positive 32-bit integer`);
  }
}

export class IpsetTransaction {
  private readonly ops: IpsetOperation[] = [];
  /** Types of the sets this transaction creates, to check and canonicalize their elements. */
  private readonly created = new Map<string, IpsetHeader>();

  create(name: string, header: IpsetHeader): this {
    checkSetName(name);
    const h: IpsetHeader = { ...header, type: checkType(header.type), family: checkFamily(header.family) };
    positive('maxelem', h.maxelem);
    positive('hashsize', h.hashsize);
    this.created.set(name, h);
    this.ops.push({ op: 'create', name, header: h });
    return this;
  }

  /** Adds an element; checked against the set's type when this transaction creates the set. */
  add(name: string, element: string): this {
    return this.element('add', name, element);
  }

  /**
   * Adds an element the caller already holds as `canonicalElement` gives it (a renderer's
   * output): checked to be one word, not parsed again, also when this transaction creates the
   * set. Parsing costs a full sync of 20,000 elements ~150 ms; a non-canonical element would
   * still be added, but compared as a different one by the next diff.
   */
  addCanonical(name: string, element: string): this {
    checkSetName(name);
    this.ops.push({ op: 'add', name, element: checkWord('element', element) });
    return this;
  }

  del(name: string, element: string): this {
    return this.element('del', name, element);
  }

  /** Exchanges two sets' contents (their names, as ipset puts it): rules using a name see the other set at once. */
  swap(name: string, other: string): this {
    checkSetName(name);
    checkSetName(other);
    this.ops.push({ op: 'swap', name, other });
    return this;
  }

  destroy(name: string): this {
    checkSetName(name);
    this.ops.push({ op: 'destroy', name });
    return this;
  }

  /** Appends `other`'s operations (checked when it was built), to run both in one restore. */
  append(other: IpsetTransaction): this {
    for (const [name, header] of other.created) this.created.set(name, header);
    // One at a time: spread into push(), a full sync's hundreds of thousands of operations
    // overflow the call stack.
    for (const op of other.ops) this.ops.push(op);
    return this;
  }

  get isEmpty(): boolean {
    return this.ops.length === 0;
  }

  /** Operations, for counting and for tests. */
  get operations(): readonly IpsetOperation[] {
    return this.ops;
  }

  render(): string {
    const lines = this.ops.map((o) => {
      switch (o.op) {
        case 'create': {
          const h = o.header;
          return [`create ${o.name} ${h.type} family ${h.family}`, h.hashsize !== undefined ? ` hashsize ${h.hashsize}` : '', h.maxelem !== undefined ? ` maxelem ${h.maxelem}` : ''].join('');
        }
        case 'add':
        case 'del':
          return `${o.op} ${o.name} ${o.element}`;
        case 'swap':
          return `swap ${o.name} ${o.other}`;
        case 'destroy':
          return `destroy ${o.name}`;
      }
    });
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }

  private element(op: 'add' | 'del', name: string, element: string): this {
    checkSetName(name);
    const header = this.created.get(name);
    const text = header ? canonicalElement(header.type, header.family, element) : checkWord('element', element);
    this.ops.push({ op, name, element: text });
    return this;
  }
}
