/**
 * The CNI error codes weft-ipam uses, in one place. host-local answers 999 for everything past
 * config decoding; weft follows the spec's codes where one fits:
 *
 * - 7  InvalidNetworkConfig: bad ipam section, and requested addresses that can never be
 *      served (outside every range set, the gateway, a network or broadcast address, or more
 *      than one per range set) -- the request is part of the configuration the runtime sent.
 * - 4  InvalidEnvironment: an unparsable `IP=` in CNI_ARGS.
 * - 11 TryAgainLater: a range set has no free address, a requested address is held by another
 *      attachment, or the store's lock stayed busy. All three clear up by themselves when other
 *      attachments are deleted or finish (a pod restarted with a fixed address typically races
 *      the DEL of its previous sandbox), which is what the spec means by "transient".
 * - 5  IOFailure: the data directory cannot be read or written.
 * - 50 PluginNotAvailable: STATUS, when the store is unusable (see allocator.ts storeStatus).
 * - 100 (plugin-specific, spec allows 100+): CHECK found the allocation missing or different.
 */
import { CHECK_MISMATCH, CniError, ErrorCode } from '../cni/types';

/** Plugin-specific code: CHECK found the container's allocation missing or changed. */
export const ALLOCATION_MISMATCH = CHECK_MISMATCH;

export function configError(message: string, details?: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, message, details);
}

export function ioError(message: string, cause: unknown): CniError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new CniError(ErrorCode.IOFailure, `${message}: ${detail}`, undefined, { cause });
}

export function tryAgainError(message: string): CniError {
  return new CniError(ErrorCode.TryAgainLater, message);
}
