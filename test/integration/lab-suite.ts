/**
 * A conformance suite in the lab, as ava tests: one lab per backend (built in turn: two would
 * share the 2 cores and slow each other's probes), a first test that brings it up and checks
 * that every pod reaches every pod, then one test per case, each followed by a reset to no
 * policies that must bring the all-open table back (a case that fails to reset retires the lab:
 * later cases would start from a wrong state). Every check compares the probes with trace
 * (netpol-fixture.ts NetpolLab.check). Used by netpol-conformance and cnp-conformance.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgentClient } from '../../agent/api/client';
import { labDown } from '../../lab/cluster/down';
import type { AgentBackend } from '../../lab/cluster/state';
import { labName } from './lab-fixture';
import { NetpolLab, Reachability, ReachabilityMismatch, type LabModel, type Target } from './netpol-fixture';

export interface LabCase {
  name: string;
  /** What the reset after the case probes (the suite's resetTargets by default). */
  resetTargets?: readonly Target[];
  run(lab: NetpolLab, t: ExecutionContext): Promise<void>;
}

export interface LabSuite {
  /** A few letters for the labs' names and the state root ("np", "cnp"). */
  label: string;
  backends: readonly AgentBackend[];
  nodes: number;
  model?: LabModel;
  /** The first test's title after "<backend>: ". */
  upTitle: string;
  /** What the lab must look like before any case (where the pods are). */
  checkLab(t: ExecutionContext, lab: NetpolLab): void;
  /** The first check, with no policies. */
  upTargets: readonly Target[];
  resetTargets: readonly Target[];
  cases: readonly LabCase[];
}

const message = (err: unknown) => (err instanceof ReachabilityMismatch ? err.message : ((err as Error).stack ?? String(err)));

export function labSuite(s: LabSuite): void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `weft-t-${s.label}-`));
  const labs = new Map<AgentBackend, { name: string; lab?: NetpolLab }>();

  test.after.always(async () => {
    for (const { name } of labs.values()) await labDown(name, root).catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  });

  for (const backend of s.backends) {
    test.serial(`${backend}: ${s.upTitle}`, async (t) => {
      t.timeout(180_000);
      for (const other of labs.values()) {
        if (other.lab) await labDown(other.name, root);
        other.lab = undefined;
      }
      const entry: { name: string; lab?: NetpolLab } = { name: labName(`${s.label}-${backend.slice(0, 3)}`) };
      labs.set(backend, entry);
      const started = performance.now();
      const lab = await NetpolLab.up({ name: entry.name, root, backend, nodes: s.nodes, ...(s.model ? { model: s.model } : {}) });
      t.log(`lab ${entry.name} (${backend}) up with ${lab.model.pods.length} pods in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      s.checkLab(t, lab);
      // The lab ran its agents with the backend asked for.
      for (const node of lab.state.nodes) {
        const client = createAgentClient(node.agent?.socket ?? '', 2000);
        try {
          t.is((await client.status()).backend, backend, `${node.name}'s agent`);
        } finally {
          client.close();
        }
      }
      try {
        await lab.check('no policies', new Reachability(true, lab.model.pods), s.upTargets);
        t.true(lab.takeTraced() > 0, 'trace compared with the probes');
        entry.lab = lab;
      } catch (err) {
        t.fail(message(err));
      } finally {
        for (const line of lab.journal.splice(0)) t.log(line);
      }
    });

    for (const c of s.cases) {
      test.serial(`${backend}: ${c.name}`, async (t) => {
        t.timeout(300_000);
        const lab = labs.get(backend)?.lab;
        if (!lab) return t.fail(`the ${backend} lab is not up, or its baseline failed (see "${backend}: ${s.upTitle}")`);
        const started = performance.now();
        const resetTargets = c.resetTargets ?? s.resetTargets;
        let failure: unknown;
        try {
          await c.run(lab, t);
        } catch (err) {
          failure = err;
        }
        let resetFailure: unknown;
        try {
          await lab.reset(resetTargets);
        } catch (err) {
          resetFailure = err;
        }
        for (const line of lab.journal.splice(0)) t.log(line);
        const traced = lab.takeTraced();
        t.log(`${((performance.now() - started) / 1000).toFixed(1)} s; trace = probe for ${traced} pairs`);
        if (failure) t.fail(message(failure));
        if (resetFailure) {
          t.fail(`after the case: ${message(resetFailure)}`);
          const entry = labs.get(backend);
          if (entry) entry.lab = undefined;
        }
        // At least one step of the case and the reset compared trace with every probe.
        const pairs = lab.model.pods.length * (lab.model.pods.length - 1);
        if (!failure && !resetFailure) t.true(traced >= pairs * resetTargets.length * 2, `trace compared on ${traced} pairs`);
      });
    }
  }
}
