import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RegisteredFunction } from './coreApi';
import type { RpcHttpCookie, RpcHttpData, RpcInvocationResponse, RpcNullableString, RpcTypedData } from './coreTypes';
import { type CorsPolicy, decideCors } from './cors';
import { answerClientError, answerConnect, HttpError, MAX_HEADER_SIZE, sendError } from './httpErrors';
import { FunctionTimeoutError, HostStoppingError, type Invoker } from './invoker';
import type { Logger } from './logger';
import { discardBody, readBody, sendEarlyError } from './requestBody';
import { type AllowedHosts, isAllowedAuthority, parseRequestTarget } from './requestTarget';
import { parseRouteTemplate, type RouteEntry, type RouteTemplate, selectRoute } from './routes';

type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HttpFunction {
  fn: RegisteredFunction;
  triggerName: string;
  route: RouteTemplate;
  methods: string[];
  authLevel: AuthLevel;
}

interface HostKeys {
  /** Accepted for authLevel "function". */
  functionKey?: string;
  /** Accepted for "function" and "admin". */
  masterKey?: string;
}

export interface ConnectionLimits {
  /** Time a client has to send the request line and headers (Node's headersTimeout). */
  headersTimeoutMs: number;
  /** Time a client has to send the whole request, body included (Node's requestTimeout). */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
}

// Limits for a server a careless or hostile client can reach. Node's header-section limit (16 KiB) is kept, below
// Kestrel's 32 KiB; the timeouts are shorter than Node's defaults (60 s for headers, 300 s for a request).
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
};

export interface HttpHostOptions {
  routePrefix: string;
  maxRequestBodySize: number;
  functions: HttpFunction[];
  invoker: Invoker;
  logger: Logger;
  keys: HostKeys;
  /** CORS as func start applies Host.CORS; undefined = off. */
  cors?: CorsPolicy;
  /** Hosts besides the loopback names that requests may name. */
  allowedHosts?: AllowedHosts;
  limits?: ConnectionLimits;
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

class MethodNotAllowedError extends HttpError {
  constructor(
    message: string,
    readonly allowed: string[],
  ) {
    super(405, 'methodNotAllowed', message);
  }
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
function toRpcHttpRequest(req: IncomingMessage, url: URL, body: Buffer, params: Record<string, string>): RpcHttpData {
  // The Node worker declares UseNullableValueDictionaryForHttp, so the host fills only the nullable maps, with every
  // header including empty ones (IgnoreEmptyValuedRpcHttpHeaders applies to the other map only), a repeated header
  // being its values joined with "," (ASP.NET's StringValues.ToString()):
  // https://github.com/Azure/azure-functions-host/blob/dev/src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs
  // headersDistinct keeps every line of a repeated header, where req.headers drops or re-joins some.
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values !== undefined) headers[name] = values.join(',');
  }
  const query: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key).join(',');
  const http: RpcHttpData = {
    method: req.method ?? 'GET',
    url: url.toString(),
    nullableHeaders: toNullable(headers),
    nullableQuery: toNullable(query),
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

function serializeCookie(cookie: RpcHttpCookie): string {
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

/** The CORS headers go on last and win over the app's, as the CORS middleware sets them when the response starts. */
function applyCorsHeaders(res: ServerResponse, cors: Record<string, string>): void {
  for (const [name, value] of Object.entries(cors)) {
    const existing = res.getHeader(name);
    if (name === 'vary' && existing !== undefined && !/(^|,)\s*origin\s*(,|$)/i.test(String(existing))) {
      res.setHeader(name, `${String(existing)}, ${value}`);
    } else if (name !== 'vary' || existing === undefined) {
      res.setHeader(name, value);
    }
  }
}

function writeResponse(
  req: IncomingMessage,
  res: ServerResponse,
  http: RpcHttpData | undefined,
  cors: Record<string, string>,
): void {
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
  applyCorsHeaders(res, cors);
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

/** The HTTP front end: Host check, CORS, routing, keys, body limit and the RpcHttp conversion in both directions. */
export function createHttpHost(options: HttpHostOptions): HttpHost {
  const { invoker, logger } = options;
  const limits = options.limits ?? DEFAULT_CONNECTION_LIMITS;
  const allowedHosts = options.allowedHosts ?? {};
  const prefix = options.routePrefix ? `/${options.routePrefix}` : '';
  const entries: RouteEntry<HttpFunction>[] = options.functions.map((f) => ({
    route: f.route,
    methods: f.methods,
    value: f,
  }));
  let stopping = false;

  /** Host check and CORS. Returns the request URL, or undefined when the request was answered (a preflight). */
  const admit = async (req: IncomingMessage, res: ServerResponse) => {
    const target = parseRequestTarget(req.url, req.headers.host);
    if (target.kind === 'invalid') throw new HttpError(400, 'invalidRequest', target.message);
    if (!isAllowedAuthority(target.authority, allowedHosts)) {
      throw new HttpError(
        421,
        'misdirectedRequest',
        'This host answers requests for localhost, 127.0.0.1, [::1] and the host of PUBLIC_BASE_URL only.',
      );
    }
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    const cors = decideCors(options.cors, {
      method: req.method ?? 'GET',
      origin: header('origin'),
      requestMethod: header('access-control-request-method'),
      requestHeaders: header('access-control-request-headers'),
    });
    // Set now so that error answers carry them too; writeResponse applies them again over the app's headers.
    for (const [name, value] of Object.entries(cors.headers)) res.setHeader(name, value);
    if (cors.preflight) {
      const drained = await discardBody(req);
      res.writeHead(204, drained ? {} : { connection: 'close' }).end();
      return undefined;
    }
    return { url: new URL(`http://${target.authority}${target.pathAndQuery}`), cors: cors.headers };
  };

  /** The function for the request, or the 404 / 405 error. */
  const route = (method: string, url: URL) => {
    let path = url.pathname;
    const notFound = () => new HttpError(404, 'notFound', `No function matches ${method} ${url.pathname}.`);
    if (prefix) {
      const lower = path.toLowerCase();
      const lowerPrefix = prefix.toLowerCase();
      if (lower !== lowerPrefix && !lower.startsWith(`${lowerPrefix}/`)) throw notFound();
      path = path.slice(prefix.length);
    }
    const selection = selectRoute(entries, method, path);
    if (selection.kind === 'notFound') throw notFound();
    if (selection.kind === 'methodNotAllowed') {
      throw new MethodNotAllowedError(`${method} is not allowed on ${url.pathname}.`, selection.allowed);
    }
    return selection;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const admitted = await admit(req, res);
    if (!admitted) return;
    if (stopping) throw new HttpError(503, 'serviceUnavailable', 'The host is shutting down.');
    const method = req.method ?? 'GET';
    const { value: fn, params } = route(method, admitted.url);
    authorize(fn, options.keys, req, admitted.url);
    const body = await readBody(req, options.maxRequestBodySize);
    const traceparent = req.headers.traceparent;
    const response = await invoker.invoke(fn.fn, {
      inputData: [{ name: fn.triggerName, data: { http: toRpcHttpRequest(req, admitted.url, body, params) } }],
      triggerMetadata: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { string: v }])),
      reason: `This function was programmatically called via the host APIs.`,
      traceParent: typeof traceparent === 'string' ? traceparent : undefined,
    });
    writeResponse(req, res, findHttpOutput(fn.fn, response), admitted.cors);
  };

  const fail = async (req: IncomingMessage, res: ServerResponse, error: unknown): Promise<void> => {
    if (error instanceof MethodNotAllowedError) {
      await sendEarlyError(req, res, error, { allow: error.allowed.join(', ') });
    } else if (error instanceof HttpError) {
      await sendEarlyError(req, res, error, error.status === 503 ? { connection: 'close' } : {});
    } else if (error instanceof FunctionTimeoutError) {
      sendError(res, new HttpError(504, 'functionTimeout', error.message));
    } else if (error instanceof HostStoppingError) {
      sendError(res, new HttpError(503, 'serviceUnavailable', error.message), { connection: 'close' });
    } else if (res.headersSent) {
      res.destroy();
    } else {
      // The real host answers an unhandled function error with a bare 500.
      res.writeHead(500, { 'content-length': 0 }).end();
    }
    if (!(error instanceof HttpError)) logger.log('debug', `HTTP request failed: ${String(error)}`);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // The connection may already be closing (a client error answered on the same socket): never crash on it.
    res.on('error', (error) => logger.log('debug', `HTTP response failed: ${String(error)}`));
    handle(req, res)
      .catch((error: unknown) => fail(req, res, error))
      .catch((error: unknown) => {
        logger.log('debug', `HTTP error answer failed: ${String(error)}`);
        res.destroy();
      });
  };

  const server: Server = createServer(
    {
      maxHeaderSize: MAX_HEADER_SIZE,
      // A request without Host gets the JSON 400 from handle() instead of Node's empty one.
      requireHostHeader: false,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often Node checks the two timeouts above (default 30 s, which would let a slow client stay far longer).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    onRequest,
  );
  server.on('clientError', answerClientError);
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => answerConnect(socket));
  // An expectation other than 100-continue: Node would answer 417 itself, with an empty body. Kestrel, in front of the
  // real host, ignores expectations it does not know, so the request goes on as if the header were absent.
  server.on('checkExpectation', onRequest);

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
