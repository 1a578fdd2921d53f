/**
 * Turns ava's TAP output into the one closing line CI reads: "N passed, N failed[, N skipped]".
 * Uncaught exceptions and crashed test files count as failures (TAP lists them as "not ok"), and
 * a run that produced no TAP plan at all counts as one failure, so a broken run is never green.
 *
 * Usage: node dist/test/helpers/summary.js TAP_LOG AVA_EXIT_STATUS
 */
import fs from 'node:fs';

export interface TapSummary {
  passed: number;
  failed: number;
  skipped: number;
}

export function summarizeTap(tap: string, exitStatus: number): TapSummary {
  const count = (label: string): number | undefined => {
    const match = new RegExp(`^# ${label} (\\d+)$`, 'm').exec(tap);
    return match ? Number(match[1]) : undefined;
  };
  const passed = count('pass');
  const failed = count('fail') ?? 0;
  const skipped = count('skip') ?? 0;
  if (passed === undefined) return { passed: 0, failed: Math.max(failed, 1), skipped };
  // ava exits non-zero also for reasons TAP does not count (e.g. a timeout): never report green then.
  return { passed, failed: exitStatus !== 0 && failed === 0 ? 1 : failed, skipped };
}

export function formatSummary(s: TapSummary): string {
  return `${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''}`;
}

if (require.main === module) {
  const [logPath, status] = process.argv.slice(2);
  const summary = summarizeTap(fs.readFileSync(logPath ?? '/dev/stdin', 'utf8'), Number(status ?? 0));
  process.stdout.write(`${formatSummary(summary)}\n`);
  process.exitCode = summary.failed > 0 ? 1 : 0;
}
