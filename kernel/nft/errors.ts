/**
 * The two ways an nftables transaction fails: weft refused to render it (NftValidationError,
 * thrown when the operation is added, before anything runs), or nft refused it (NftError, with
 * the offending line of the rendered transaction).
 */
import type { Operation } from './types';

/** An object cannot be written safely as nft syntax (bad name, quote in a comment, ...). */
export class NftValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NftValidationError';
  }
}

/** One "FILE:LINE:COL-COL: Error: MESSAGE" diagnostic from nft. */
export interface NftDiagnostic {
  line: number;
  /** 1-based columns of the offending text in the line. */
  columnStart: number;
  columnEnd: number;
  message: string;
}

export interface NftErrorDetails {
  /** 1-based line of the rendered transaction nft complained about first, when it said. */
  line?: number;
  /** That line's text, as rendered. */
  lineText?: string;
  /** The operation rendered on that line. */
  operation?: Operation;
  /** Every diagnostic nft printed (it reports all evaluation errors, not only the first). */
  diagnostics: NftDiagnostic[];
  stderr: string;
  exitCode: number | null;
}

/** nft ran and failed; nothing of the transaction was applied. */
export class NftError extends Error implements NftErrorDetails {
  readonly line?: number;
  readonly lineText?: string;
  readonly operation?: Operation;
  readonly diagnostics: NftDiagnostic[];
  readonly stderr: string;
  readonly exitCode: number | null;

  constructor(message: string, details: NftErrorDetails) {
    super(message);
    this.name = 'NftError';
    this.line = details.line;
    this.lineText = details.lineText;
    this.operation = details.operation;
    this.diagnostics = details.diagnostics;
    this.stderr = details.stderr;
    this.exitCode = details.exitCode;
  }
}

// "/dev/stdin:3:19-21: Error: No symbol type information" (older nft name stdin "-" or "<cmdline>").
const DIAGNOSTIC = /^(?:[^:\n]*):(\d+):(\d+)-(\d+): Error: (.*)$/;

/** Extracts nft's located diagnostics from its stderr, in the order printed. */
export function parseNftDiagnostics(stderr: string): NftDiagnostic[] {
  const out: NftDiagnostic[] = [];
  for (const raw of stderr.split('\n')) {
    const m = DIAGNOSTIC.exec(raw.trimEnd());
    if (m) out.push({ line: Number(m[1]), columnStart: Number(m[2]), columnEnd: Number(m[3]), message: m[4] });
  }
  return out;
}

/**
 * Builds the error for a failed `nft -f -` of `rendered`, whose line N holds operations[N-1]
 * (one operation a line is what makes the line number useful).
 */
export function nftErrorFromOutput(
  rendered: string,
  operations: readonly Operation[],
  stderr: string,
  exitCode: number | null,
): NftError {
  const diagnostics = parseNftDiagnostics(stderr);
  const first = diagnostics[0];
  const lines = rendered.split('\n');
  const line = first?.line;
  const lineText = line !== undefined ? lines[line - 1] : undefined;
  const operation = line !== undefined ? operations[line - 1] : undefined;
  const summary =
    first !== undefined
      ? `nft: line ${first.line}: ${first.message}: ${lineText ?? ''}`
      : `nft failed (exit ${exitCode ?? 'signal'}): ${stderr.trim().split('\n')[0] ?? ''}`;
  return new NftError(summary, { line, lineText, operation, diagnostics, stderr, exitCode });
}
