/**
 * Failures of ipset transactions: refused before running (IpsetValidationError) or by
 * `ipset restore` (IpsetError, with the line of the restore input it complained about).
 */

export class IpsetValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpsetValidationError';
  }
}

export interface IpsetErrorDetails {
  /** 1-based line of the restore input ipset named, when it named one. */
  line?: number;
  lineText?: string;
  stderr: string;
  exitCode: number | null;
}

export class IpsetError extends Error implements IpsetErrorDetails {
  readonly line?: number;
  readonly lineText?: string;
  readonly stderr: string;
  readonly exitCode: number | null;

  constructor(message: string, details: IpsetErrorDetails) {
    super(message);
    this.name = 'IpsetError';
    this.line = details.line;
    this.lineText = details.lineText;
    this.stderr = details.stderr;
    this.exitCode = details.exitCode;
  }

  /** The kernel refused to destroy a set because a rule (or list:set) still refers to it. */
  get inUse(): boolean {
    return /in use by a kernel component/i.test(this.stderr);
  }
}

/** "ipset v7.17: Error in line 3: Syntax error: ..." -> 3 */
export function parseRestoreErrorLine(stderr: string): number | undefined {
  const m = /Error in line (\d+)/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

export function restoreError(input: string, stderr: string, exitCode: number | null): IpsetError {
  const line = parseRestoreErrorLine(stderr);
  const lineText = line !== undefined ? input.split('\n')[line - 1] : undefined;
  const reason = stderr.trim().replace(/^ipset v[\d.]+: /, '').replace(/^Error in line \d+: /, '') || 'no message';
  const where = line !== undefined ? ` at line ${line} (${lineText ?? '?'})` : '';
  return new IpsetError(`ipset restore failed${where}: ${reason}`, { line, lineText, stderr, exitCode });
}
