/**
 * Safety net run after the test suite: removes namespaces a crashed test left behind (tests
 * remove their own in teardown; this only catches a killed worker).
 */
import { deleteNamedNetns, listNamedNetns } from '../../kernel/netns';
import { TEST_NETNS_PREFIX } from './netns';

for (const name of listNamedNetns()) {
  if (name.startsWith(TEST_NETNS_PREFIX)) {
    try {
      deleteNamedNetns(name);
      process.stderr.write(`cleanup: removed leftover namespace ${name}\n`);
    } catch (err) {
      process.stderr.write(`cleanup: cannot remove ${name}: ${String(err)}\n`);
    }
  }
}
