/**
 * Removes a lab entirely: pods (server stopped, CNI DEL, best effort), agents, then every
 * process still inside any of the lab's namespaces, the namespaces themselves and the state
 * directory. The state file is used when it is there, never required: namespaces are found by
 * name and processes by namespace, so this also cleans up after a crash in the middle of
 * `lab up` or after everything was killed -9. Removing a lab that does not exist succeeds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { deleteNamedNetns, listNamedNetns, NETNS_RUN_DIR } from '../../kernel/netns';
import { agentMarkers } from './agents';
import { bounded } from './bounded';
import { acquireLabLock } from './lock';
import { isLabNetns, labOfNetns, labPaths, validateLabName, type LabPaths } from './names';
import { detachPod } from './pods';
import { stopRecorded, sweepProcesses } from './processes';
import { readState, type LabState } from './state';

export interface DownReport {
  /** Whether anything of the lab was found. */
  existed: boolean;
  pods: number;
  namespaces: number;
  /** Processes killed by the namespace sweep (not stopped through their recorded pid). */
  swept: number;
}

function tolerantState(paths: LabPaths): LabState | undefined {
  try {
    return readState(paths);
  } catch {
    return undefined; // half-written or from another version: namespaces are enough
  }
}

/** The teardown itself; the caller holds the lab's lock. */
export async function teardown(lab: string, paths: LabPaths): Promise<DownReport> {
  const state = tolerantState(paths);
  const report: DownReport = { existed: state !== undefined || fs.existsSync(paths.dir), pods: 0, namespaces: 0, swept: 0 };
  if (state) {
    const pods = state.pods ?? [];
    await bounded(pods.map((pod) => () => detachPod(paths.dir, state, pod, true).catch(() => undefined)), 8);
    report.pods = pods.length;
    await stopRecorded((state.nodes ?? []).flatMap((n) => (n.agent ? [{ pid: n.agent.pid, markers: agentMarkers(n.agent) }] : [])));
  }
  const swept = await sweepLabNamespaces(lab);
  report.swept = swept.processes;
  report.namespaces = swept.namespaces;
  report.existed ||= swept.namespaces > 0;
  fs.rmSync(paths.dir, { recursive: true, force: true });
  return report;
}

/**
 * Kills every process inside the lab's namespaces, then removes the namespaces: all that is
 * needed to remove a lab when nothing else is known about it but its name.
 */
export async function sweepLabNamespaces(lab: string): Promise<{ namespaces: number; processes: number }> {
  const nsPaths = listNamedNetns()
    .filter((n) => isLabNetns(lab, n))
    .map((n) => path.join(NETNS_RUN_DIR, n));
  const processes = await sweepProcesses(nsPaths);
  for (const ns of nsPaths) deleteNamedNetns(ns);
  return { namespaces: nsPaths.length, processes };
}

export async function labDown(lab: string, root: string): Promise<DownReport> {
  validateLabName(lab);
  const paths = labPaths(root, lab);
  const lock = await acquireLabLock(paths.lock, lab);
  try {
    return await teardown(lab, paths);
  } finally {
    // Nothing of the lab is left, not even its lock file.
    lock.release({ removeFile: true });
  }
}

/** Names of labs that have namespaces on this machine (for `lab list` and clean-ups). */
export function labsWithNamespaces(): string[] {
  return [...new Set(listNamedNetns().map(labOfNetns).filter((l): l is string => l !== undefined))].sort();
}
