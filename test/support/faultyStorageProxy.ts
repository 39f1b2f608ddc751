import { randomInt, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import {
  Agent,
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { finished, pipeline } from 'node:stream/promises';

/**
 * An HTTP proxy in front of Azurite that injects the faults Azure Storage really shows, above all the one where a
 * write committed but its answer was lost. A chaos test points the app (Tables SDK, the queue REST client, the
 * Functions host's queue listener) at it to check that retries of committed writes stay harmless.
 */

/** The storage services the proxy stands in front of, one listener each. */
type StorageServiceName = 'blob' | 'queue' | 'table';

/** The kinds of fault, see `FaultRates`. */
export type FaultKind = 'drop' | 'hang' | 'unavailable' | 'late';

/**
 * Per-request probabilities (0..1, summed at most 1) of each fault:
 * - drop: forwarded and fully processed by Azurite, then the client's connection is reset without an answer;
 * - hang: forwarded and processed, then never answered (until the client gives up);
 * - unavailable: answered 503 ServerBusy at once, not forwarded (nothing committed);
 * - late: forwarded only after `lateMs`, then answered (the client has usually retried meanwhile).
 */
export interface FaultRates {
  drop: number;
  hang: number;
  unavailable: number;
  late: number;
}

/** A request as the `only` filter sees it: `path` is the URL path, `query` its query string ('' or '?…'). */
export interface ProxiedRequest {
  service: StorageServiceName;
  method: string;
  path: string;
  query: string;
}

/** Counts of one service's or one method's traffic. */
interface TrafficCount {
  requests: number;
  faults: number;
}

/** What the proxy saw and did. */
interface FaultyStorageProxyStats {
  /** Requests received from clients. */
  requests: number;
  /** Requests passed on to Azurite (all but `unavailable` ones; a `late` one once its delay is over). */
  forwarded: number;
  faults: Record<FaultKind, number>;
  byService: Record<string, TrafficCount>;
  byMethod: Record<string, TrafficCount>;
}

/** A running proxy. */
export interface FaultyStorageProxy {
  /** A full Azurite-style connection string whose BlobEndpoint/QueueEndpoint/TableEndpoint point at the proxy (same account name/key as Azurite). */
  connectionString: string;
  /** Turns fault injection on/off (and changes rates) while running; requests already delayed or hung keep their fate. */
  setRates(rates: Partial<FaultRates>): void;
  /** Counts: requests received and forwarded, and each fault kind injected, in all, per service and per method. */
  stats(): FaultyStorageProxyStats;
  /** The PRNG seed: the same seed gives the same decisions for the same sequence of requests. */
  seed: number;
  /** Closes the listeners and every connection (hung ones included), and abandons delayed requests. */
  stop(): Promise<void>;
}

/** Options of `startFaultyStorageProxy`. */
export interface FaultyStorageProxyOptions {
  /** Azurite's connection string, with explicit http Blob/Queue/TableEndpoint entries (tools/azurite.ts builds one). */
  azuriteConnectionString: string;
  /** PRNG seed (32 bits); random when omitted. */
  seed?: number;
  /** Initial rates; all 0 (no faults) when omitted. */
  rates?: Partial<FaultRates>;
  /** How long a `late` request waits before being forwarded: 6 s by default, past the app's 5 s per-try timeout. */
  lateMs?: number;
  /** Which requests may get faults; the others are always forwarded cleanly. Default: all. */
  only?: (request: ProxiedRequest) => boolean;
}

const FAULT_KINDS: readonly FaultKind[] = ['drop', 'hang', 'unavailable', 'late'];
const SERVICES: readonly StorageServiceName[] = ['blob', 'queue', 'table'];
const NO_FAULTS: FaultRates = { drop: 0, hang: 0, unavailable: 0, late: 0 };

/** mulberry32: a tiny seeded PRNG with uniform floats in [0, 1); enough to replay a chaos run from its seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Checks rates (each 0..1, summed ≤ 1) and returns them complete; a typo'd rate must fail loudly, not skew a run. */
export function validateRates(rates: FaultRates): FaultRates {
  for (const kind of FAULT_KINDS) {
    const rate = rates[kind];
    if (!Number.isFinite(rate) || rate < 0 || rate > 1)
      throw new RangeError(`fault rate ${kind} must be 0..1: ${rate}`);
  }
  const sum = FAULT_KINDS.reduce((total, kind) => total + rates[kind], 0);
  // A little slack for sums like 0.1 + 0.2 + 0.7 that floating point puts just above 1.
  if (sum > 1 + 1e-9) throw new RangeError(`fault rates must sum to at most 1: ${sum}`);
  return { drop: rates.drop, hang: rates.hang, unavailable: rates.unavailable, late: rates.late };
}

/**
 * Decides one request's fate from one draw of `random`. Exactly one draw per call, whatever the rates, so that
 * changing rates mid-run (or turning faults off) does not shift the decisions of the requests after it.
 */
export function decideFault(random: () => number, rates: FaultRates): FaultKind | undefined {
  const draw = random();
  let threshold = 0;
  for (const kind of FAULT_KINDS) {
    threshold += rates[kind];
    if (draw < threshold) return kind;
  }
  return undefined;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the message: each side sets its own.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  }
  return kept;
}

interface Target {
  hostname: string;
  port: number;
}

/** The http endpoint of each service in Azurite's connection string, and the string's parts in their order. */
function parseConnectionString(connectionString: string): {
  parts: [string, string][];
  targets: Record<StorageServiceName, Target>;
} {
  const parts: [string, string][] = [];
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) parts.push([part.slice(0, at).trim(), part.slice(at + 1).trim()]);
  }
  const targets = {} as Record<StorageServiceName, Target>;
  for (const service of SERVICES) {
    const value = parts.find(([name]) => name.toLowerCase() === `${service}endpoint`)?.[1];
    if (!value) throw new Error(`the Azurite connection string has no ${service} endpoint`);
    const url = new URL(value);
    // TLS would mean terminating and re-originating it; Azurite in tests serves plain http.
    if (url.protocol !== 'http:') throw new Error(`the ${service} endpoint must be http:, not ${url.protocol}`);
    targets[service] = { hostname: url.hostname, port: Number(url.port || 80) };
  }
  return { parts, targets };
}

/** Reads a whole stream (a `late` request's body waits in memory while the request is held back). */
async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A 503 as Azure Storage sends when a partition or account is too busy: XML for Blob and Queue, OData JSON for
 * Tables (the content type Azurite and Azure give table errors, which @azure/data-tables parses as JSON).
 */
function answerServerBusy(service: StorageServiceName, req: IncomingMessage, res: ServerResponse): void {
  const requestId = randomUUID();
  const message = `The server is currently unable to receive requests. Please retry your request.\nRequestId:${requestId}\nTime:${new Date().toISOString()}`;
  const [contentType, body] =
    service === 'table'
      ? [
          'application/json;odata=minimalmetadata;streaming=true;charset=utf-8',
          JSON.stringify({ 'odata.error': { code: 'ServerBusy', message: { lang: 'en-US', value: message } } }),
        ]
      : [
          'application/xml',
          `<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>${message}</Message></Error>`,
        ];
  const version = req.headers['x-ms-version'];
  res.writeHead(503, 'Server Busy', {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'x-ms-error-code': 'ServerBusy',
    'x-ms-request-id': requestId,
    ...(typeof version === 'string' ? { 'x-ms-version': version } : {}),
  });
  res.end(body);
}

/** Starts the proxy on three free loopback ports (blob, queue, table), each forwarding to its Azurite service. */
export async function startFaultyStorageProxy(options: FaultyStorageProxyOptions): Promise<FaultyStorageProxy> {
  const { parts, targets } = parseConnectionString(options.azuriteConnectionString);
  const seed = (options.seed ?? randomInt(0, 2 ** 32)) >>> 0;
  const random = mulberry32(seed);
  const lateMs = options.lateMs ?? 6_000;
  const only = options.only ?? (() => true);
  let rates = validateRates({ ...NO_FAULTS, ...options.rates });
  let stopped = false;

  const counts = {
    requests: 0,
    forwarded: 0,
    faults: { drop: 0, hang: 0, unavailable: 0, late: 0 } as Record<FaultKind, number>,
    byService: {} as Record<string, TrafficCount>,
    byMethod: {} as Record<string, TrafficCount>,
  };
  const bump = (table: Record<string, TrafficCount>, key: string, field: keyof TrafficCount) => {
    table[key] ??= { requests: 0, faults: 0 };
    table[key][field] += 1;
  };

  // A fresh upstream connection per request: a pooled socket that Azurite closed while idle would fail a request
  // with an ECONNRESET the proxy did not choose, a fault nobody counted.
  const agent = new Agent({ keepAlive: false });
  const sockets = new Set<Socket>();
  // The wake-ups of `late` requests still held back: stop() runs them so that none stays pending.
  const waiting = new Set<() => void>();
  const upstreams = new Set<ClientRequest>();

  /** Sends the request to Azurite; resolves with its response head (the body still to be read). */
  const forward = (target: Target, req: IncomingMessage, body: Buffer | undefined) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      counts.forwarded += 1;
      const upstream = httpRequest(
        {
          agent,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          // Host passes unchanged: Shared Key signs the path and account, not Host, and Azurite reads the account
          // from the path (path-style); it accepts either Host, and with the client's one the self-links it writes
          // into answers (Tables' odata.metadata) name the proxy, so nothing followed from them bypasses it.
          headers: endToEndHeaders(req.headers),
        },
        resolve,
      );
      upstreams.add(upstream);
      upstream.on('close', () => upstreams.delete(upstream));
      upstream.on('error', reject);
      if (body !== undefined) {
        upstream.end(body);
        return;
      }
      // A client gone before its body was all sent: Azurite must not act on half a request.
      req.on('close', () => {
        if (!req.complete) upstream.destroy();
      });
      req.pipe(upstream);
    });

  /** Passes Azurite's answer on, streamed; a client already gone is no error (Azurite did the work all the same). */
  const relay = async (upstream: IncomingMessage, res: ServerResponse) => {
    if (res.destroyed) {
      upstream.resume();
      return;
    }
    res.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, endToEndHeaders(upstream.headers));
    await pipeline(upstream, res).catch(() => undefined);
  };

  /** Azurite could not be reached or broke off: a gateway error if nothing was sent yet, else a cut connection. */
  const failUpstream = (res: ServerResponse) => {
    if (res.destroyed) return;
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { 'content-length': 0 }).end();
  };

  const handle = async (service: StorageServiceName, req: IncomingMessage, res: ServerResponse) => {
    const target = targets[service];
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://proxy');
    counts.requests += 1;
    bump(counts.byService, service, 'requests');
    bump(counts.byMethod, method, 'requests');
    // Requests outside `only` draw nothing, so timing-dependent traffic (the host's blob leases) that a test spares
    // does not shift the decisions of the requests under test.
    const fault = only({ service, method, path: url.pathname, query: url.search })
      ? decideFault(random, rates)
      : undefined;
    if (fault) {
      counts.faults[fault] += 1;
      bump(counts.byService, service, 'faults');
      bump(counts.byMethod, method, 'faults');
    }
    // A client that writes to a socket the proxy destroyed gets its error; the proxy's side is just done.
    res.on('error', () => undefined);

    if (fault === 'unavailable') {
      // Drain the body so the keep-alive connection stays usable for the client's next request.
      req.resume();
      answerServerBusy(service, req, res);
      return;
    }

    try {
      if (fault === 'late') {
        const body = await readAll(req);
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiting.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, lateMs);
          waiting.add(wake);
        });
        if (stopped) return;
        // Forwarded even if the client has given up meanwhile: the late original still commits.
        await relay(await forward(target, req, body), res);
        return;
      }
      const upstream = await forward(target, req, undefined);
      if (fault === 'drop' || fault === 'hang') {
        // Let Azurite finish (the write commits) before the answer is lost.
        await finished(upstream.resume());
        // drop: a reset connection and no answer. hang: no answer at all, until the client gives up (or stop()).
        if (fault === 'drop') req.socket.resetAndDestroy();
        return;
      }
      await relay(upstream, res);
    } catch {
      failUpstream(res);
    }
  };

  const listen = (service: StorageServiceName): Server => {
    const server = createServer((req, res) => {
      void handle(service, req, res);
    });
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server.listen(0, '127.0.0.1');
    return server;
  };
  const servers: Record<StorageServiceName, Server> = {
    blob: listen('blob'),
    queue: listen('queue'),
    table: listen('table'),
  };
  try {
    await Promise.all(Object.values(servers).map((server) => once(server, 'listening')));
  } catch (error) {
    for (const server of Object.values(servers)) server.close();
    throw error;
  }

  const proxyEndpoint = (service: StorageServiceName, original: string) => {
    const url = new URL(original);
    url.hostname = '127.0.0.1';
    url.port = String((servers[service].address() as AddressInfo).port);
    return url.toString().replace(/\/+$/, '');
  };
  const connectionString = parts
    .map(([name, value]) => {
      const service = SERVICES.find((s) => name.toLowerCase() === `${s}endpoint`);
      return `${name}=${service ? proxyEndpoint(service, value) : value}`;
    })
    .join(';');

  return {
    connectionString,
    seed,
    setRates(changes) {
      rates = validateRates({ ...rates, ...changes });
    },
    stats() {
      const copy = (table: Record<string, TrafficCount>) =>
        Object.fromEntries(Object.entries(table).map(([key, value]) => [key, { ...value }]));
      return {
        requests: counts.requests,
        forwarded: counts.forwarded,
        faults: { ...counts.faults },
        byService: copy(counts.byService),
        byMethod: copy(counts.byMethod),
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const wake of waiting) wake();
      const closed = Object.values(servers).map((server) => new Promise((resolve) => server.close(resolve)));
      // Hung and keep-alive connections would otherwise hold close() open forever.
      for (const socket of sockets) socket.destroy();
      for (const upstream of upstreams) upstream.destroy();
      agent.destroy();
      await Promise.all(closed);
    },
  };
}
