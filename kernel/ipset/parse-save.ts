/**
 * Parses `ipset save` output into typed sets.
 *
 *   create weft-pods4 hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1d2c
 *   add weft-pods4 10.244.0.11
 */
import type { SavedIpset } from './types';

/** Create options that take a value; every other word after the type is a flag. */
const VALUED = new Set(['family', 'hashsize', 'maxelem', 'bucketsize', 'initval', 'timeout', 'netmask', 'bitmask', 'markmask', 'range', 'size']);

export function parseIpsetSave(text: string): SavedIpset[] {
  const sets = new Map<string, SavedIpset>();
  for (const raw of text.split('\n')) {
    const words = raw.trim().split(/\s+/).filter((w) => w.length > 0);
    if (words.length < 3) continue;
    const [command, name] = words;
    if (command === 'create') {
      const set: SavedIpset = { name, type: words[2], options: {}, flags: [], elements: [], decoratedElements: 0 };
      for (let i = 3; i < words.length; i++) {
        if (VALUED.has(words[i]) && i + 1 < words.length) set.options[words[i]] = words[++i];
        else set.flags.push(words[i]);
      }
      if (set.options.family !== undefined) set.family = set.options.family;
      sets.set(name, set);
    } else if (command === 'add') {
      const set = sets.get(name);
      if (!set) continue;
      set.elements.push(words[2]);
      if (words.length > 3) set.decoratedElements++;
    }
  }
  return [...sets.values()];
}
