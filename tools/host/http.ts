import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RegisteredFunction } from './coreApi';
import type { RpcHttpCookie, RpcHttpData, RpcInvocationResponse, RpcNullableString, RpcTypedData } from './coreTypes';
import { FunctionTimeoutError, HostStoppingError, type Invoker } from './invoker';
import type { Logger } from './logger';
import { parseRouteTemplate, type RouteEntry, type RouteTemplate, selectRoute } from './routes';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HttpFunction {
  fn: RegisteredFunction;
  triggerName: string;
  route: RouteTemplate;
  methods: string[];
  authLevel: AuthLevel;
}

export interface HostKeys {
  /** Accepted for authLevel "function". */
  functionKey?: string;
  /** Accepted for "function" and "admin". */
  masterKey?: string;
}

export interface HttpHostOptions {
  routePrefix: string;
  maxRequestBodySize: number;
  functions: HttpFunction[];
  invoker: Invoker;
  logger: Logger;
  keys: HostKeys;
}

export interface HttpHost {
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting connections; requests already received keep running. */
  stopAccepting(): void;
  /** Closes the remaining connections. */
  close(): Promise<void>;
}

/** The trigger binding of an HTTP function, converted to what the router needs. */
export function toHttpFunction(
  fn: RegisteredFunction,
  triggerName: string,
  binding: Record<string, unknown>,
): HttpFunction {
  const route = typeof binding.route === 'string' && binding.route !== '' ? binding.route : fn.name;
  const methods = Array.isArray(binding.methods) ? binding.methods.map((m) => String(m).toUpperCase()) : [];
  const level = String(binding.authLevel ?? 'anonymous').toLowerCase();
  const authLevel: AuthLevel = level === 'function' || level === 'admin' ? level : 'anonymous';
  return { fn, triggerName, route: parseRouteTemplate(route), methods, authLevel };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sendError(res: ServerResponse, error: HttpError, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code: error.code, message: error.message } });
  res.writeHead(error.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpError(413, 'payloadTooLarge', `The request body exceeds the limit of ${limit} bytes.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > limit)
      throw new HttpError(413, 'payloadTooLarge', `The request body exceeds the limit of ${limit} bytes.`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

const digest = (value: string) => createHash('sha256').update(value).digest();

function keyMatches(presented: string | undefined, expected: string | undefined): boolean {
  return presented !== undefined && expected !== undefined && timingSafeEqual(digest(presented), digest(expected));
}

function authorize(fn: HttpFunction, keys: HostKeys, req: IncomingMessage, url: URL): void {
  if (fn.authLevel === 'anonymous') return;
  // Like Core Tools, no configured key means keys are not checked at all.
  if (keys.functionKey === undefined && keys.masterKey === undefined) return;
  const header = req.headers['x-functions-key'];
  const presented = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code') ?? undefined;
  const ok =
    keyMatches(presented, keys.masterKey) || (fn.authLevel === 'function' && keyMatches(presented, keys.functionKey));
  if (!ok)
    throw new HttpError(
      401,
      'unauthorized',
      'A valid function key is required (code query or x-functions-key header).',
    );
}

function toNullable(record: Record<string, string>): Record<string, RpcNullableString> {
  return Object.fromEntries(Object.entries(record).map(([k, value]) => [k, { value }]));
}

/** The RpcHttp message the Functions host sends to the Node worker for a request. */
export function toRpcHttpRequest(
  req: IncomingMessage,
  url: URL,
  body: Buffer,
  params: Record<string, string>,
): RpcHttpData {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    const text = Array.isArray(value) ? value.join(', ') : value;
    // The worker asks the host to drop empty header values (IgnoreEmptyValuedRpcHttpHeaders).
    if (text !== undefined && text !== '') headers[name] = text;
  }
  const query: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key).join(',');
  const http: RpcHttpData = {
    method: req.method ?? 'GET',
    url: url.toString(),
    headers,
    nullableHeaders: toNullable(headers),
    query,
    nullableQuery: toNullable(query),
    params,
    nullableParams: toNullable(params),
  };
  // With the worker's RawHttpBodyBytes + RpcHttpBodyOnly capabilities the body arrives as bytes only.
  if (body.length > 0) http.body = { bytes: body };
  return http;
}

function typedDataToBuffer(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes);
  if (data.stream) return Buffer.from(data.stream);
  if (typeof data.string === 'string') return Buffer.from(data.string);
  if (typeof data.json === 'string') return Buffer.from(data.json);
  if (typeof data.int === 'number') return Buffer.from(String(data.int));
  if (typeof data.double === 'number') return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}

export function serializeCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  const seconds = cookie.expires?.value?.seconds;
  if (typeof seconds === 'number') parts.push(`Expires=${new Date(seconds * 1000).toUTCString()}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  if (cookie.sameSite === 'lax') parts.push('SameSite=Lax');
  else if (cookie.sameSite === 'strict') parts.push('SameSite=Strict');
  else if (cookie.sameSite === 'explicitNone') parts.push('SameSite=None');
  const maxAge = cookie.maxAge?.value;
  if (typeof maxAge === 'number') parts.push(`Max-Age=${Math.trunc(maxAge)}`);
  return parts.join('; ');
}

function findHttpOutput(fn: RegisteredFunction, response: RpcInvocationResponse): RpcHttpData | undefined {
  const returnBinding = fn.bindings.$return;
  if (returnBinding?.type?.toLowerCase() === 'http' && response.returnValue?.http) return response.returnValue.http;
  for (const output of response.outputData ?? []) {
    const binding = output.name ? fn.bindings[output.name] : undefined;
    if (binding?.type?.toLowerCase() === 'http' && output.data?.http) return output.data.http;
  }
  return undefined;
}

function writeResponse(req: IncomingMessage, res: ServerResponse, http: RpcHttpData | undefined): void {
  if (!http) {
    res.writeHead(204).end();
    return;
  }
  const status = Number.parseInt(http.statusCode ?? '200', 10);
  const body = typedDataToBuffer(http.body);
  for (const [name, value] of Object.entries(http.headers ?? {})) {
    try {
      res.setHeader(name, value);
    } catch {
      // An invalid header name or value from the app is dropped rather than failing the response.
    }
  }
  const cookies = (http.cookies ?? []).map(serializeCookie);
  if (cookies.length > 0) {
    const existing = res.getHeader('set-cookie');
    const previous = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
    res.setHeader('set-cookie', [...previous, ...cookies]);
  }
  res.setHeader('content-length', body.length);
  res.writeHead(Number.isFinite(status) ? status : 200);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The HTTP front end: routing, keys, body limit and the RpcHttp conversion in both directions. */
export function createHttpHost(options: HttpHostOptions): HttpHost {
  const { invoker, logger } = options;
  const prefix = options.routePrefix ? `/${options.routePrefix}` : '';
  const entries: RouteEntry<HttpFunction>[] = options.functions.map((f) => ({
    route: f.route,
    methods: f.methods,
    value: f,
  }));
  let stopping = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    if (stopping) throw new HttpError(503, 'serviceUnavailable', 'The host is shutting down.');
    let path = url.pathname;
    if (prefix) {
      const lower = path.toLowerCase();
      const lowerPrefix = prefix.toLowerCase();
      if (lower !== lowerPrefix && !lower.startsWith(`${lowerPrefix}/`)) {
        throw new HttpError(404, 'notFound', `No function matches ${req.method} ${url.pathname}.`);
      }
      path = path.slice(prefix.length);
    }
    const selection = selectRoute(entries, req.method ?? 'GET', path);
    if (selection.kind === 'notFound') {
      throw new HttpError(404, 'notFound', `No function matches ${req.method} ${url.pathname}.`);
    }
    if (selection.kind === 'methodNotAllowed') {
      const error = new HttpError(405, 'methodNotAllowed', `${req.method} is not allowed on ${url.pathname}.`);
      sendError(res, error, { allow: selection.allowed.join(', ') });
      return;
    }
    const target = selection.value;
    authorize(target, options.keys, req, url);
    const body = await readBody(req, options.maxRequestBodySize);
    const http = toRpcHttpRequest(req, url, body, selection.params);
    const traceparent = req.headers.traceparent;
    const response = await invoker.invoke(target.fn, {
      inputData: [{ name: target.triggerName, data: { http } }],
      triggerMetadata: Object.fromEntries(Object.entries(selection.params).map(([k, v]) => [k, { string: v }])),
      reason: `This function was programmatically called via the host APIs.`,
      traceParent: typeof traceparent === 'string' ? traceparent : undefined,
    });
    writeResponse(req, res, findHttpOutput(target.fn, response));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) {
        // The rest of an oversized body is not read; close the connection instead.
        sendError(res, error, error.status === 413 ? { connection: 'close' } : {});
      } else if (error instanceof FunctionTimeoutError) {
        sendError(res, new HttpError(504, 'functionTimeout', error.message));
      } else if (error instanceof HostStoppingError) {
        sendError(res, new HttpError(503, 'serviceUnavailable', error.message));
      } else if (res.headersSent) {
        res.destroy();
      } else {
        // The real host answers an unhandled function error with a bare 500.
        res.writeHead(500, { 'content-length': 0 }).end();
      }
      if (!(error instanceof HttpError)) logger.log('debug', `HTTP request failed: ${String(error)}`);
    });
  });
  server.keepAliveTimeout = 5_000;

  let closed: Promise<void> | undefined;
  const beginClose = (): Promise<void> => {
    if (!closed) {
      closed = server.listening ? once(server, 'close').then(() => undefined) : Promise.resolve();
      server.close();
    }
    return closed;
  };

  return {
    async listen(port, host) {
      server.listen(port, host);
      await once(server, 'listening');
      return (server.address() as AddressInfo).port;
    },
    stopAccepting() {
      stopping = true;
      beginClose().catch(() => {});
      server.closeIdleConnections();
    },
    async close() {
      stopping = true;
      const done = beginClose();
      server.closeAllConnections();
      await done;
    },
  };
}
