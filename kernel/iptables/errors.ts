/**
 * Failures of iptables transactions: refused before running (IptablesValidationError) or by
 * iptables-restore (IptablesError, with the line of the restore input it complained about).
 */

export class IptablesValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IptablesValidationError';
  }
}

export interface IptablesErrorDetails {
  /** 1-based line of the restore input iptables-restore named, when it named one. */
  line?: number;
  /** That line's text. */
  lineText?: string;
  /** The restore input that failed. */
  input?: string;
  stderr: string;
  exitCode: number | null;
}

export class IptablesError extends Error implements IptablesErrorDetails {
  readonly line?: number;
  readonly lineText?: string;
  readonly input?: string;
  readonly stderr: string;
  readonly exitCode: number | null;

  constructor(message: string, details: IptablesErrorDetails) {
    super(message);
    this.name = 'IptablesError';
    this.line = details.line;
    this.lineText = details.lineText;
    this.input = details.input;
    this.stderr = details.stderr;
    this.exitCode = details.exitCode;
  }
}

// The ways iptables-restore 1.8 names a line, most specific first:
//   "Error occurred at line: 3"                         (parse errors, both backends)
//   "iptables-restore: line 3 failed"                   (legacy, at COMMIT)
//   "line 3: CHAIN_DEL failed (Device or resource busy)" (nft backend, kernel refusal)
//   "COMMIT expected at line 3"
const LINE_PATTERNS = [/Error occurred at line: (\d+)/, /\bline (\d+) failed\b/, /^line (\d+): /m, /\bat line (\d+)\b/, /\bline (\d+)\b/];

/** The line iptables-restore blamed, if it named one. */
export function parseRestoreErrorLine(stderr: string): number | undefined {
  for (const pattern of LINE_PATTERNS) {
    const m = pattern.exec(stderr);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** The most telling line of iptables-restore's complaint (not the "Try --help" advice). */
function reason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('Try `') && !l.startsWith('Error occurred at line'));
  // "iptables-nft-restore v1.8.9 (nf_tables): " alone is a prefix for the next line.
  const meaningful = lines.filter((l) => !/^\S+ v[\d.]+ \([^)]*\):$/.test(l));
  return meaningful.join('; ') || 'no message';
}

export function restoreError(tool: string, input: string, stderr: string, exitCode: number | null): IptablesError {
  const line = parseRestoreErrorLine(stderr);
  const lineText = line !== undefined ? input.split('\n')[line - 1] : undefined;
  const where = line !== undefined ? ` at line ${line} (${lineText ?? '?'})` : '';
  return new IptablesError(`${tool} failed${where}: ${reason(stderr)}`, { line, lineText, input, stderr, exitCode });
}
