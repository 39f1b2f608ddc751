import type { HttpResponseInit } from '@azure/functions';
import { ApiError, apiError, type ErrorDetail, PreconditionFailedError, TransientError } from '../core/errors';
import { consoleLogger } from '../deps';

const JSON_TYPE = 'application/json; charset=utf-8';
/** What a 503 asks a caller to wait when nothing better is known. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** A JSON response. */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit => ({
  status,
  jsonBody: body,
  headers: { 'Content-Type': JSON_TYPE, ...headers },
});

/** The docs/API.md error body. */
export function errorBody(
  code: string,
  message: string,
  requestId: string,
  extra: { target?: string; details?: ErrorDetail[] } = {},
) {
  return {
    error: {
      code,
      message,
      ...(extra.target && { target: extra.target }),
      ...(extra.details?.length && { details: extra.details }),
      innerError: { 'request-id': requestId, date: new Date().toISOString() },
    },
  };
}

/**
 * The one place any thrown value becomes a response. ApiErrors say what went wrong; a transient storage failure
 * is a 503 the caller may retry; anything else is logged by name only and answered with a 500 that reveals nothing.
 */
export function errorResponse(error: unknown, requestId: string): HttpResponseInit {
  if (error instanceof ApiError) return apiErrorResponse(error, requestId);
  // A storage race a use case did not settle within its own retries: nothing is wrong, the caller may simply retry.
  if (error instanceof PreconditionFailedError) {
    const changed = { reason: 'What the request changes was changed by another request meanwhile' };
    return apiErrorResponse(apiError('serviceUnavailable', changed, { headers: { 'Retry-After': '1' } }), requestId);
  }
  if (error instanceof TransientError) {
    const retryAfter = String(error.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS);
    const unavailable = { reason: 'The service is briefly unavailable' };
    return apiErrorResponse(
      apiError('serviceUnavailable', unavailable, { headers: { 'Retry-After': retryAfter } }),
      requestId,
    );
  }
  // Log the kind of failure, not its message: SDK messages can echo request content.
  consoleLogger.error('unexpected error', { requestId, errorName: error instanceof Error ? error.name : typeof error });
  return apiErrorResponse(apiError('internalServerError'), requestId);
}

const apiErrorResponse = (error: ApiError, requestId: string) =>
  json(error.status, errorBody(error.code, error.message, requestId, error.extra), error.extra.headers);
