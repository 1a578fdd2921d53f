/**
 * Safety net run after the test suite: removes namespaces a crashed test of this run (the
 * WEFT_TEST_RUN environment variable) left behind. Tests remove their own in teardown; this only
 * catches a killed worker.
 */
import { deleteNamedNetns, listNamedNetns } from '../../kernel/netns';
import { runNetnsPrefix } from './netns';

const prefix = runNetnsPrefix();
for (const name of listNamedNetns()) {
  if (name.startsWith(prefix)) {
    try {
      deleteNamedNetns(name);
      process.stderr.write(`cleanup: removed leftover namespace ${name}\n`);
    } catch (err) {
      process.stderr.write(`cleanup: cannot remove ${name}: ${String(err)}\n`);
    }
  }
}
