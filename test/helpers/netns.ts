/**
 * Test namespaces: every test that touches the kernel works inside namespaces it creates here,
 * never in the root namespace, and they are removed when the test ends (also when it fails).
 */
import crypto from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { createNamedNetns, deleteNamedNetns } from '../../kernel/netns';

/** Prefix of every namespace the test suite creates, so a leak is easy to spot and clean. */
export const TEST_NETNS_PREFIX = 'weft-t-';

/** Creates a uniquely named namespace and registers its removal with the test's teardown. */
export function tempNetns(t: ExecutionContext, label = 'ns'): string {
  const name = `${TEST_NETNS_PREFIX}${label}-${crypto.randomBytes(3).toString('hex')}`;
  const nsPath = createNamedNetns(name);
  t.teardown(() => deleteNamedNetns(nsPath));
  return nsPath;
}
