import { PreconditionFailedError, StorageUnavailableError } from '../core/errors';

/** HTTP status of a storage SDK error (RestError from either SDK), if it carries one. */
export function storageStatus(error: unknown): number | undefined {
  if (error instanceof Error && error.name === 'RestError') {
    const status = (error as { statusCode?: unknown }).statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

/** True for failures worth retrying: throttling, timeouts, 5xx and network errors (no status at all). */
export function isTransientStorageError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // A try that ran out of time (storageTimeoutPolicy turns it into an ETIMEDOUT RestError; an AbortError that still
  // gets here is a timeout too, since storage calls are never aborted otherwise).
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return true;
  if (error.name !== 'RestError') return false;
  const status = storageStatus(error);
  return status === undefined || status === 408 || status === 429 || status >= 500;
}

/**
 * Translates storage SDK errors to domain errors: 409/412 lost a race, transient ones become TransientError.
 * Anything else (a 400 means a bug in our request) is rethrown as is.
 */
export function translateStorageError(error: unknown): never {
  const status = storageStatus(error);
  if (status === 409 || status === 412) throw new PreconditionFailedError();
  if (isTransientStorageError(error)) throw new StorageUnavailableError();
  throw error;
}
