/**
 * A small XML well-formedness check for the SVG the code writes by hand (no XML parser among the
 * dependencies): tags balanced and properly nested, one root element, attributes quoted and
 * unique, `&` only in entities, no `<` in text or attribute values. Comments, CDATA and
 * processing instructions are not written by that code and count as errors here.
 */

const TAG = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<]*")*)\s*(\/?)>/y;
const ATTRIBUTE = /([A-Za-z_][\w:.-]*)="([^"<]*)"/g;
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;

function entitiesOk(text: string): boolean {
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
    ENTITY.lastIndex = i;
    if (!ENTITY.test(text)) return false;
  }
  return true;
}

/** Undefined when `xml` is well-formed, else what is wrong and where. */
export function xmlProblem(xml: string): string | undefined {
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < xml.length) {
    const next = xml.indexOf('<', i);
    const text = xml.slice(i, next < 0 ? xml.length : next);
    if (!entitiesOk(text)) return `a bare & in text at ${i}`;
    if (stack.length === 0 && text.trim() !== '') return `text outside the root element at ${i}`;
    if (next < 0) break;
    TAG.lastIndex = next;
    const m = TAG.exec(xml);
    if (!m) return `not a tag at ${next}: ${xml.slice(next, next + 40)}`;
    const [, close, name, attributes, selfClosing] = m;
    const names = [...attributes.matchAll(ATTRIBUTE)].map((a) => a[1]);
    if (new Set(names).size !== names.length) return `an attribute twice in <${name}> at ${next}`;
    if (![...attributes.matchAll(ATTRIBUTE)].every((a) => entitiesOk(a[2]))) return `a bare & in an attribute of <${name}> at ${next}`;
    if (close) {
      if (attributes.trim() !== '' || selfClosing) return `a closing tag with attributes at ${next}`;
      const open = stack.pop();
      if (open !== name) return `</${name}> closes <${open ?? 'nothing'}> at ${next}`;
    } else {
      if (stack.length === 0) roots++;
      if (!selfClosing) stack.push(name);
    }
    i = TAG.lastIndex;
  }
  if (stack.length > 0) return `unclosed: ${stack.join(' > ')}`;
  return roots === 1 ? undefined : `${roots} root elements`;
}

/** The attributes of every `<element ...>` in `xml`, as objects. */
export function elements(xml: string, element: string): Record<string, string>[] {
  const re = new RegExp(`<${element}((?:\\s+[\\w:.-]+="[^"]*")*)\\s*/?>`, 'g');
  return [...xml.matchAll(re)].map((m) => Object.fromEntries([...m[1].matchAll(ATTRIBUTE)].map((a) => [a[1], a[2]])));
}
