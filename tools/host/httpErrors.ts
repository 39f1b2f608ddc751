import { randomUUID } from 'node:crypto';
import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Node's limit for the request line and headers, kept (Kestrel allows 32 KiB). */
export const MAX_HEADER_SIZE = 16 * 1024;

/** An answer the host gives itself, in the API error shape. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The docs/API.md error body; the host has no request id of its own, so it makes one. */
function errorJson(code: string, message: string): string {
  return JSON.stringify({
    error: { code, message, innerError: { 'request-id': randomUUID(), date: new Date().toISOString() } },
  });
}

export function sendError(res: ServerResponse, error: HttpError, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorJson(error.code, error.message);
  res.writeHead(error.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(body);
}

// Node answers a malformed request, an oversized header section or a client too slow to send its request itself,
// with an empty body; these give the JSON error body and close the connection as Node does.
// https://nodejs.org/api/http.html#event-clienterror
const CLIENT_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'requestHeaderFieldsTooLarge',
    message: `The request header section exceeds the limit of ${MAX_HEADER_SIZE} bytes.`,
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'requestTimeout',
    message: 'The request was not received in time.',
  },
};
const MALFORMED = { status: 400, code: 'invalidRequest', message: 'The request is not valid HTTP/1.1.' };

/** True when a response on this socket has started, so nothing else may be written to it. */
function responseStarted(socket: Duplex): boolean {
  // Node keeps the response in progress on the socket (the same check Node's own clientError fallback makes).
  const current: unknown = Reflect.get(socket, '_httpMessage');
  return typeof current === 'object' && current !== null && Reflect.get(current, 'headersSent') === true;
}

/** Writes an error answer straight to a socket and closes it; the answer to a HEAD request has no body (RFC 9110 9.3.2). */
function answerOnSocket(socket: Duplex, error: { status: number; code: string; message: string }, head: boolean) {
  const body = errorJson(error.code, error.message);
  socket.end(
    [
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
      '',
      head ? '' : body,
    ].join('\r\n'),
  );
  // A short lingering close: the client gets to read the answer before the connection goes.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/**
 * Whether the bytes Node failed to parse begin a HEAD request (the method is the first token of the request line).
 * Node hands over only the chunk it was parsing: a header section that arrived in several reads shows its end, and
 * the method is then unknown (the answer keeps its body; it closes the connection, so nothing follows it).
 */
const isHead = (error: NodeJS.ErrnoException) => {
  const raw: unknown = Reflect.get(error, 'rawPacket');
  return Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
};

export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable || responseStarted(socket)) {
    socket.destroy();
    return;
  }
  answerOnSocket(socket, CLIENT_ERRORS[error.code ?? ''] ?? MALFORMED, isHead(error));
}

/**
 * CONNECT asks for a tunnel, which a function app never opens: 405 and close (Node's server, left alone, destroys the
 * socket without a word).
 */
export function answerConnect(socket: Duplex): void {
  if (!socket.writable) return;
  answerOnSocket(
    socket,
    { status: 405, code: 'methodNotAllowed', message: "The method 'CONNECT' is not allowed on this resource." },
    false,
  );
}
