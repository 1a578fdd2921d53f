/**
 * Label selectors (metav1.LabelSelector): validation as the API server does it, matching, and a
 * canonical text so that equal selectors are recognised as one (matchLabels {a: x} is the
 * requirement "a in (x)"). Labels that are not known (a Pod or Namespace object not seen yet)
 * are matched only by a selector without requirements, which matches everything.
 */

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface Requirement {
  key: string;
  operator: Operator;
  /** Sorted, without duplicates; empty for Exists and DoesNotExist. */
  values: string[];
}

export interface Selector {
  /** Sorted by key, operator and values, without duplicates; empty: matches everything. */
  requirements: Requirement[];
  /** Kubernetes' selector syntax ("app in (web),!canary"); "" for the empty selector. */
  canonical: string;
}

export const EMPTY_SELECTOR: Selector = { requirements: [], canonical: '' };

const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why a label key is not a qualified name ("[prefix/]name"), or undefined when it is one. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return `label key ${JSON.stringify(key)} has an invalid prefix`;
  if (name.length === 0 || name.length > 63 || !NAME_PART.test(name)) return `${JSON.stringify(key)} is not a valid label key`;
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME_PART.test(value)) return `${JSON.stringify(value)} is not a valid label value`;
  return undefined;
}

const OPERATORS: ReadonlySet<string> = new Set<Operator>(['In', 'NotIn', 'Exists', 'DoesNotExist']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function requirementText(r: Requirement): string {
  switch (r.operator) {
    case 'In':
      return `${r.key} in (${r.values.join(',')})`;
    case 'NotIn':
      return `${r.key} notin (${r.values.join(',')})`;
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
  }
}

/** A selector from its parts (already valid): sorted, deduplicated, with its canonical text. */
export function selectorOf(requirements: readonly Requirement[]): Selector {
  const byText = new Map<string, Requirement>();
  for (const r of requirements) {
    const normal = { key: r.key, operator: r.operator, values: [...new Set(r.values)].sort(compareText) };
    byText.set(requirementText(normal), normal);
  }
  const texts = [...byText.keys()].sort(compareText);
  return { requirements: texts.map((t) => byText.get(t)!), canonical: texts.join(',') };
}

/**
 * Parses a LabelSelector; on error pushes "path: reason" to `errors` and returns undefined.
 * `null`/absent is the caller's business (it means different things for different fields).
 */
export function parseSelector(raw: unknown, path: string, errors: string[]): Selector | undefined {
  if (!isRecord(raw)) {
    errors.push(`${path}: must be an object`);
    return undefined;
  }
  const before = errors.length;
  const requirements: Requirement[] = [];
  const { matchLabels, matchExpressions } = raw;
  if (matchLabels !== undefined && matchLabels !== null) {
    if (!isRecord(matchLabels)) errors.push(`${path}.matchLabels: must map label keys to values`);
    else {
      for (const [key, value] of Object.entries(matchLabels)) {
        const keyProblem = labelKeyProblem(key);
        if (keyProblem) errors.push(`${path}.matchLabels: ${keyProblem}`);
        if (typeof value !== 'string') errors.push(`${path}.matchLabels.${key}: must be a string`);
        else {
          const valueProblem = labelValueProblem(value);
          if (valueProblem) errors.push(`${path}.matchLabels.${key}: ${valueProblem}`);
          requirements.push({ key, operator: 'In', values: [value] });
        }
      }
    }
  }
  if (matchExpressions !== undefined && matchExpressions !== null) {
    if (!Array.isArray(matchExpressions)) errors.push(`${path}.matchExpressions: must be a list`);
    else {
      matchExpressions.forEach((expr: unknown, i) => {
        const at = `${path}.matchExpressions[${i}]`;
        if (!isRecord(expr)) return void errors.push(`${at}: must be an object`);
        const { key, operator, values } = expr;
        if (typeof key !== 'string') return void errors.push(`${at}.key: must be a string`);
        const keyProblem = labelKeyProblem(key);
        if (keyProblem) errors.push(`${at}.key: ${keyProblem}`);
        if (typeof operator !== 'string' || !OPERATORS.has(operator)) {
          return void errors.push(`${at}.operator: ${JSON.stringify(operator)} is not a valid selector operator (In, NotIn, Exists, DoesNotExist)`);
        }
        const list = values === undefined || values === null ? [] : values;
        if (!Array.isArray(list) || !list.every((v): v is string => typeof v === 'string')) return void errors.push(`${at}.values: must be a list of strings`);
        if ((operator === 'In' || operator === 'NotIn') && list.length === 0) return void errors.push(`${at}.values: must be specified when operator is ${operator}`);
        if ((operator === 'Exists' || operator === 'DoesNotExist') && list.length > 0) return void errors.push(`${at}.values: may not be specified when operator is ${operator}`);
        for (const v of list) {
          const valueProblem = labelValueProblem(v);
          if (valueProblem) errors.push(`${at}.values: ${valueProblem}`);
        }
        requirements.push({ key, operator: operator as Operator, values: list });
      });
    }
  }
  return errors.length > before ? undefined : selectorOf(requirements);
}

/** Whether labels satisfy every requirement; unknown labels (null) satisfy only none. */
export function selectorMatches(selector: Selector, labels: Readonly<Record<string, string>> | null): boolean {
  if (selector.requirements.length === 0) return true;
  if (labels === null) return false;
  for (const r of selector.requirements) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.operator) {
      case 'In':
        if (!has || !r.values.includes(labels[r.key])) return false;
        break;
      case 'NotIn':
        if (has && r.values.includes(labels[r.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
