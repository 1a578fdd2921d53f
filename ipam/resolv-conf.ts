/**
 * resolv.conf -> the result's `dns`, as host-local reads it: `nameserver` (one address each),
 * `domain` (the last one wins), `search` and `options` (all words, accumulated); comments
 * (# or ;), blank lines, lines without a value and other keywords are skipped.
 */
import fs from 'node:fs';
import type { DNS } from '../cni/types';
import { ioError } from './errors';

export function parseResolvConf(text: string): DNS {
  const nameservers: string[] = [];
  const search: string[] = [];
  const options: string[] = [];
  let domain: string | undefined;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, ...values] = line.split(/\s+/);
    if (values.length === 0) continue;
    if (keyword === 'nameserver') nameservers.push(values[0]);
    else if (keyword === 'domain') domain = values[0];
    else if (keyword === 'search') search.push(...values);
    else if (keyword === 'options') options.push(...values);
  }
  return {
    ...(nameservers.length ? { nameservers } : {}),
    ...(domain !== undefined ? { domain } : {}),
    ...(search.length ? { search } : {}),
    ...(options.length ? { options } : {}),
  };
}

/** Reads and parses a resolv.conf file; an unreadable file is CNI code 5. */
export function readResolvConf(file: string): DNS {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw ioError(`cannot read resolvConf ${file}`, err);
  }
  return parseResolvConf(text);
}
