import {
  ERROR_CATALOGUE,
  type ErrorCode,
  type ErrorEntry,
  type ErrorHeaders,
  type ErrorParams,
  formatMessage,
} from './errorCatalogue';

/** One detail of a validation failure (docs/API.md "Errors": `details`). */
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

/** What a throw site adds to a catalogue entry besides the message's values. */
interface ApiErrorOptions<C extends ErrorCode> {
  details?: ErrorDetail[];
  /** Overrides the catalogue's target (e.g. the one bad field of a 400). */
  target?: string;
  /** Values of the headers the catalogue says this error carries. */
  headers?: Partial<Record<ErrorHeaders<C>, string>>;
}

type ApiErrorArgs<C extends ErrorCode> = [keyof ErrorParams<C>] extends [never]
  ? [params?: ErrorParams<C>, options?: ApiErrorOptions<C>]
  : [params: ErrorParams<C>, options?: ApiErrorOptions<C>];

/** The error `code` of the catalogue (lib/core/errorCatalogue.ts), its message filled in from `params`. */
export function apiError<C extends ErrorCode>(code: C, ...[params, options]: ApiErrorArgs<C>): ApiError {
  const entry: ErrorEntry = ERROR_CATALOGUE[code];
  const target = options?.target ?? entry.target;
  const headers: Record<string, string> = { ...options?.headers };
  return new ApiError(entry.status, code, formatMessage(entry.message, params ?? {}), {
    ...(target !== undefined && { target }),
    ...(options?.details && { details: options.details }),
    ...(Object.keys(headers).length > 0 && { headers }),
  });
}

/** A 400 naming every bad field (their targets, in the message too); `details` has one entry per problem. */
export function invalidFields(details: ErrorDetail[]): ApiError {
  const targets = [...new Set(details.map((detail) => detail.target ?? 'body'))];
  return apiError(
    'invalidRequest',
    { fields: targets.join(', ') },
    { details, ...(targets.length === 1 && { target: targets[0] }) },
  );
}

/** 400 for a `$skipToken` this app did not make for this list (forged, altered, or from another list). */
export const invalidSkipToken = () =>
  invalidFields([
    { code: 'invalidValue', message: 'use the @odata.nextLink of the previous page as is', target: '$skipToken' },
  ]);

/** 409: the device already has a non-terminal reset; the response's Location points to it (docs/API.md). */
export class ActionInProgressError extends ApiError {
  constructor(
    readonly deviceId: string,
    readonly actionId: string,
  ) {
    const error = apiError('actionInProgress');
    super(error.status, error.code, error.message, error.extra);
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

/** A device channel's "try later" (a TransientError that is not the app's own storage, which is the caller's business). */
export const isDeviceFailure = (error: unknown): error is TransientError =>
  error instanceof TransientError && !(error instanceof StorageUnavailableError);
