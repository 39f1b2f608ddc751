/** One detail of a validation failure (API.md error `details`). */
export interface ErrorDetail {
  code: string;
  message: string;
  target?: string;
}

/** An error with a stable API code and HTTP status; its message is safe to show callers. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { target?: string; details?: ErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const invalidRequest = (message: string, details: ErrorDetail[] = [], target?: string) =>
  new ApiError(400, 'invalidRequest', message, { details, ...(target ? { target } : {}) });

export const notFound = (code: string, message: string, target?: string) =>
  new ApiError(404, code, message, target ? { target } : {});

/** 409: the device already has a non-terminal reset; the response's Location points to it (API.md). */
export class ActionInProgressError extends ApiError {
  constructor(
    readonly deviceId: string,
    readonly actionId: string,
  ) {
    super(409, 'actionInProgress', 'A passcode reset for this device is already in progress.', { target: 'deviceId' });
  }
}

/** Storage lost an optimistic-concurrency race (ETag mismatch or entity already exists). */
export class PreconditionFailedError extends Error {
  constructor(message = 'the entity changed since it was read') {
    super(message);
    this.name = 'PreconditionFailedError';
  }
}

/**
 * A failure worth retrying later: storage throttling or outage, a device gateway timeout or 5xx. `retryAfterSeconds`
 * is the other side's own Retry-After when it gave one.
 */
export class TransientError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'TransientError';
  }
}

/**
 * The app's own storage did not answer in time or at all. Unlike a device's transient failure, it says nothing about
 * the device: a worker waits for storage to come back instead of spending the action's attempts.
 */
export class StorageUnavailableError extends TransientError {
  constructor(message = 'storage is unavailable, try again') {
    super(message);
    this.name = 'StorageUnavailableError';
  }
}
