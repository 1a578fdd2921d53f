/**
 * What `--only` selects: a comma-separated list of bench names and group names, resolved to the
 * benches in the order of a full run. Pure.
 */

/** Every bench, in the order of a full run. */
export const BENCH_NAMES = [
  'startup',
  'sea-startup',
  'ipam',
  'attach',
  'lab',
  'agent',
  'overlay',
  'policy-compile',
  'policy-sync',
  'cnp-sync',
  'policy-datapath',
  'policy-trace',
  'policy-trace-cli',
  'services',
] as const;

export type BenchName = (typeof BENCH_NAMES)[number];

export const GROUPS: Record<string, readonly BenchName[]> = {
  cni: ['startup', 'sea-startup', 'ipam', 'attach'],
  dataplane: ['lab', 'agent', 'overlay'],
  policy: ['policy-compile', 'policy-sync', 'cnp-sync', 'policy-datapath', 'policy-trace'],
  services: ['services'],
  cli: ['policy-trace-cli'],
};

/** Benches that are a part of another one: selected alone they run, with the whole they do not. */
const PART_OF: Partial<Record<BenchName, BenchName>> = { 'policy-trace-cli': 'policy-trace' };

/** The bench whose figures a bench's are (a part records as the whole, so that runs compare). */
export function recordsAs(name: BenchName): BenchName {
  return PART_OF[name] ?? name;
}

const isBench = (name: string): name is BenchName => (BENCH_NAMES as readonly string[]).includes(name);

/** The benches `only` names (every bench without it); throws on a name that is neither bench nor group. */
export function selectBenches(only?: string): BenchName[] {
  const words = (only ?? '').split(',').map((w) => w.trim()).filter((w) => w !== '');
  const chosen = new Set<BenchName>();
  if (words.length === 0) BENCH_NAMES.forEach((n) => chosen.add(n));
  for (const word of words) {
    const group = GROUPS[word];
    if (group) group.forEach((n) => chosen.add(n));
    else if (isBench(word)) chosen.add(word);
    else throw new Error(`--only ${word}: no such bench or group; groups: ${Object.keys(GROUPS).join(', ')}; benches: ${BENCH_NAMES.join(', ')}`);
  }
  return BENCH_NAMES.filter((n) => chosen.has(n) && !(PART_OF[n] && chosen.has(PART_OF[n]!)));
}
