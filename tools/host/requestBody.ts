import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, sendError } from './httpErrors';

/** A body left unread by an early answer is read and discarded up to this size, so the connection stays usable. */
const DISCARD_LIMIT = 64 * 1024;
const DISCARD_TIMEOUT_MS = 2_000;

function declaredLength(req: IncomingMessage): number | undefined {
  const declared = Number(req.headers['content-length']);
  return req.headers['content-length'] !== undefined && Number.isFinite(declared) ? declared : undefined;
}

const tooLarge = (limit: number) =>
  new HttpError(413, 'payloadTooLarge', `The request body exceeds the limit of ${limit} bytes.`);

/**
 * Reads the body up to `limit`. Stops (without destroying the request, which would destroy the connection) as soon
 * as the body is known to be too large.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error: Error | undefined) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error) {
        req.pause();
        reject(error);
      } else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) settle(tooLarge(limit));
      else chunks.push(chunk);
    };
    const onEnd = () => settle(undefined);
    const onError = (error: Error) => settle(error);
    const onClose = () => settle(new Error('The client closed the connection before the body was complete'));
    req.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose);
  });
}

/**
 * Reads and discards what is left of the body, up to `limit` bytes and `timeoutMs`. An answer sent before the body
 * was read must not leave it in the connection: the next request of a keep-alive client would then fail.
 * Resolves true when the whole body arrived.
 */
export function discardBody(
  req: IncomingMessage,
  limit = DISCARD_LIMIT,
  timeoutMs = DISCARD_TIMEOUT_MS,
): Promise<boolean> {
  if (req.readableEnded) return Promise.resolve(true);
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) return Promise.resolve(false);
  return new Promise((resolve) => {
    let size = 0;
    const settle = (complete: boolean) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onFailure).off('close', onFailure);
      if (!complete) req.pause();
      resolve(complete);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) settle(false);
    };
    const onEnd = () => settle(true);
    const onFailure = () => settle(false);
    const timer = setTimeout(() => settle(false), timeoutMs);
    req.on('data', onData).once('end', onEnd).once('error', onFailure).once('close', onFailure);
    req.resume();
  });
}

/** An error answer that keeps the connection usable when the unread body was small, and closes it otherwise. */
export async function sendEarlyError(
  req: IncomingMessage,
  res: ServerResponse,
  error: HttpError,
  headers: Record<string, string> = {},
): Promise<void> {
  const drained = await discardBody(req);
  sendError(res, error, drained ? headers : { ...headers, connection: 'close' });
}
