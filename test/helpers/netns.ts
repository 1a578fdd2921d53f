/**
 * Test namespaces: every test that touches the kernel works inside namespaces it creates here,
 * never in the root namespace, and they are removed when the test ends (also when it fails).
 */
import crypto from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { createNamedNetns, deleteNamedNetns } from '../../kernel/netns';

/** Prefix of every namespace the test suite creates, so a leak is easy to spot and clean. */
export const TEST_NETNS_PREFIX = 'weft-t-';

/**
 * The namespaces of one test run (scripts/test.sh sets WEFT_TEST_RUN), so that the clean-up after
 * a run removes its own leftovers and never the namespaces of another run going on at the time.
 */
export function runNetnsPrefix(run = process.env.WEFT_TEST_RUN ?? 'adhoc'): string {
  return `${TEST_NETNS_PREFIX}${run}-`;
}

/** Creates a uniquely named namespace and registers its removal with the test's teardown. */
export function tempNetns(t: ExecutionContext, label = 'ns'): string {
  const name = `${runNetnsPrefix()}${label}-${crypto.randomBytes(3).toString('hex')}`;
  const nsPath = createNamedNetns(name);
  t.teardown(() => deleteNamedNetns(nsPath));
  return nsPath;
}
