/**
 * Safety net run after the test suite: removes namespaces a crashed test of this run (the
 * WEFT_TEST_RUN environment variable) left behind, and labs of this run (lab names start with
 * `t-<run>-`, see test/integration/lab-fixture.ts) with every process still inside them. Tests
 * remove their own in teardown; this only catches a killed worker.
 */
import { labsWithNamespaces, sweepLabNamespaces } from '../../lab/cluster/down';
import { deleteNamedNetns, listNamedNetns } from '../../kernel/netns';
import { runLabPrefix } from '../integration/lab-fixture';
import { runNetnsPrefix } from './netns';

async function main(): Promise<void> {
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
  for (const lab of labsWithNamespaces().filter((l) => l.startsWith(runLabPrefix()))) {
    try {
      const swept = await sweepLabNamespaces(lab);
      process.stderr.write(`cleanup: removed leftover lab ${lab} (${swept.namespaces} namespaces, ${swept.processes} processes)\n`);
    } catch (err) {
      process.stderr.write(`cleanup: cannot remove lab ${lab}: ${String(err)}\n`);
    }
  }
}

void main();
