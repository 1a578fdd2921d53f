/**
 * The policy matrix as a Graphviz DOT graph: pods as boxes grouped by namespace, an arrow for
 * every pair of distinct pods a new connection may go between, labelled with the ports when
 * not all of them are allowed. Denied pairs have no arrow. Pure.
 */
import type { MatrixResult } from '../policy/explain/matrix';

const quote = (text: string): string => `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;

export function matrixDot(m: MatrixResult): string {
  const lines = ['digraph "weft policy matrix" {', '  // An arrow: new connections allowed (a pod to itself is left out). Ports: ' + m.ports.join(', '), '  rankdir=LR;', '  node [shape=box, style=rounded, fontname="sans-serif"];', '  edge [fontname="sans-serif", fontsize=10];'];
  const byNamespace = new Map<string, string[]>();
  for (const pod of m.pods) {
    const ns = pod.slice(0, pod.indexOf('/'));
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), pod]);
  }
  [...byNamespace].forEach(([ns, pods], i) => {
    lines.push(`  subgraph cluster_${i} {`, `    label=${quote(`namespace ${ns}`)};`);
    for (const pod of pods) lines.push(`    ${quote(pod)} [label=${quote(pod.slice(ns.length + 1))}];`);
    lines.push('  }');
  });
  for (const pair of m.pairs) {
    if (pair.from === pair.to || pair.allowed.length === 0) continue;
    const attributes = pair.denied.length === 0 ? 'color="#2e7d32"' : `color="#ef6c00", label=${quote(pair.allowed.join(', '))}`;
    lines.push(`  ${quote(pair.from)} -> ${quote(pair.to)} [${attributes}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
