/** Why an inspection (weftctl services, rules, policy drops) cannot be answered, as the API says it. */
export type InspectErrorCode = 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'UNAVAILABLE' | 'UNIMPLEMENTED';

export class InspectError extends Error {
  override name = 'InspectError';
  constructor(
    readonly code: InspectErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
