import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { type QueueClient, QueueServiceClient } from '@azure/storage-queue';
import Ajv2020 from 'ajv/dist/2020';
import type { JsonSchema } from './openapi';
import { BODY_LIMIT, type FuzzRequest } from './requests';

/** What came back for one request: a response, or a transport error. */
export interface Outcome {
  index: number;
  request: FuzzRequest;
  status?: number;
  headers?: IncomingHttpHeaders;
  body?: Buffer;
  /** The body parsed as JSON (once, here), or undefined when it is not JSON. */
  json?: unknown;
  error?: string;
  /** From sending to the end of the answer. */
  ms: number;
}

/** Requests through one keep-alive agent with 8 sockets, as a busy client would send them. */
export class FuzzClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  private next = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Sends `requests`, 8 at a time; outcomes come back in request order. */
  async sendAll(requests: FuzzRequest[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = new Array(requests.length);
    let cursor = 0;
    const worker = async () => {
      while (cursor < requests.length) {
        const i = cursor++;
        outcomes[i] = await this.send(requests[i] as FuzzRequest);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return outcomes;
  }

  send(fuzz: FuzzRequest): Promise<Outcome> {
    const index = this.next++;
    const started = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      let req: ReturnType<typeof request> | undefined;
      const settle = (outcome: Omit<Outcome, 'index' | 'request' | 'ms'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ index, request: fuzz, ms: performance.now() - started, ...outcome });
      };
      // A timer of its own, not the socket's: a request whose socket Node gave up on (CONNECT) must still end.
      const timer = setTimeout(() => {
        settle({ error: `no answer within ${this.timeoutMs} ms` });
        req?.destroy();
      }, this.timeoutMs);
      const headers: Record<string, string | string[]> = { ...fuzz.headers };
      if (fuzz.chunked) headers['Transfer-Encoding'] = 'chunked';
      else if (fuzz.body !== undefined) headers['Content-Length'] = String(fuzz.body.length);
      try {
        req = request(
          { host: this.host, port: this.port, method: fuzz.method, path: fuzz.target, headers, agent: this.agent },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              const body = Buffer.concat(chunks);
              settle({ status: res.statusCode, headers: res.headers, body, json: parseJson(body) });
            });
            res.on('error', (error: NodeJS.ErrnoException) => settle({ error: describeError(error) }));
          },
        );
      } catch (error) {
        // Node refused to send it (an invalid header or path): a generator bug, reported as such.
        settle({ error: `client refused to send: ${describeError(error)}` });
        return;
      }
      req.on('error', (error: NodeJS.ErrnoException) => settle({ error: describeError(error) }));
      // Node hands any answer to CONNECT over as a tunnel: read the answer's body off the socket.
      req.on('connect', (res, socket, head) => {
        const chunks: Buffer[] = [head];
        const length = Number(res.headers['content-length'] ?? Number.NaN);
        const done = () => {
          const body = Buffer.concat(chunks);
          settle({ status: res.statusCode, headers: res.headers, body, json: parseJson(body) });
          socket.destroy();
        };
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (Buffer.concat(chunks).length >= length) done();
        });
        socket.on('close', done).on('error', done);
        if (head.length >= length) done();
      });
      if (fuzz.body !== undefined && fuzz.chunked) {
        const half = Math.floor(fuzz.body.length / 2);
        req.write(fuzz.body.subarray(0, half));
        req.end(fuzz.body.subarray(half));
      } else req.end(fuzz.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}: ${error.message}` : error.message;
}

/** A connection reset or closed without an answer (Node reports the latter as "socket hang up", ECONNRESET). */
export const isReset = (error: string) => /ECONNRESET|EPIPE|socket hang up/i.test(error);

// ---------------------------------------------------------------------------------------------------------------
// Storage snapshots: every table and queue of the account, through the SDKs.

interface StoredEntity {
  etag: string;
  entity: Record<string, unknown>;
}

export interface Snapshot {
  tables: Map<string, Map<string, StoredEntity>>;
  /** Per queue: the message count and the first 32 messages (id and dequeue count). */
  queues: Map<string, string>;
}

export async function takeSnapshot(connectionString: string): Promise<Snapshot> {
  const tableService = TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: true });
  const names: string[] = [];
  for await (const table of tableService.listTables()) if (table.name) names.push(table.name);
  const tables = new Map<string, Map<string, StoredEntity>>();
  await Promise.all(
    names.map(async (name) => {
      const client = TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });
      const entities = new Map<string, StoredEntity>();
      for await (const e of client.listEntities<Record<string, unknown>>()) {
        entities.set(`${e.partitionKey}/${e.rowKey}`, { etag: String(e.etag), entity: e });
      }
      tables.set(name, entities);
    }),
  );
  const queueService = QueueServiceClient.fromConnectionString(connectionString);
  const queues = new Map<string, string>();
  for await (const queue of queueService.listQueues()) {
    const client: QueueClient = queueService.getQueueClient(queue.name);
    const [properties, peeked] = await Promise.all([
      client.getProperties(),
      client.peekMessages({ numberOfMessages: 32 }),
    ]);
    const messages = peeked.peekedMessageItems.map((m) => `${m.messageId}:${m.dequeueCount}`).join(',');
    queues.set(queue.name, `${properties.approximateMessagesCount} messages [${messages}]`);
  }
  return { tables, queues };
}

interface EntityChange {
  table: string;
  key: string;
  kind: 'added' | 'removed' | 'changed';
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
}

export interface StorageDiff {
  entities: EntityChange[];
  /** Tables or queues created or removed, queues whose messages changed. */
  other: string[];
}

export function diffSnapshots(before: Snapshot, after: Snapshot): StorageDiff {
  const entities: EntityChange[] = [];
  const other: string[] = [];
  for (const name of new Set([...before.tables.keys(), ...after.tables.keys()])) {
    const a = before.tables.get(name);
    const b = after.tables.get(name);
    if (!a || !b) {
      other.push(`table ${name} ${a ? 'removed' : 'created'}`);
      continue;
    }
    for (const [key, entity] of b) {
      const old = a.get(key);
      if (!old) entities.push({ table: name, key, kind: 'added', after: entity.entity });
      else if (old.etag !== entity.etag)
        entities.push({ table: name, key, kind: 'changed', before: old.entity, after: entity.entity });
    }
    for (const [key, entity] of a) {
      if (!b.has(key)) entities.push({ table: name, key, kind: 'removed', before: entity.entity });
    }
  }
  for (const name of new Set([...before.queues.keys(), ...after.queues.keys()])) {
    const a = before.queues.get(name);
    const b = after.queues.get(name);
    if (a !== b) other.push(`queue ${name}: ${a ?? '(none)'} → ${b ?? '(none)'}`);
  }
  return { entities, other };
}

// ---------------------------------------------------------------------------------------------------------------
// Checks.

const CAMEL_CASE = /^[a-z][a-zA-Z0-9]*$/;

/** Checks a 4xx/5xx body against the document's ErrorBody schema and the contract's rules for it. */
export function errorShapeChecker(errorBody: JsonSchema): (outcome: Outcome) => string | undefined {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(errorBody);
  return (outcome) => {
    const body = outcome.body ?? Buffer.alloc(0);
    if (outcome.request.method === 'HEAD') {
      // A HEAD answer has no body (RFC 9110 §9.3.2); only its media type can be checked.
      return /^application\/json/i.test(String(outcome.headers?.['content-type'] ?? ''))
        ? undefined
        : 'HEAD error answer not declared as JSON';
    }
    if (!/^application\/json/i.test(String(outcome.headers?.['content-type'] ?? ''))) {
      return `Content-Type ${JSON.stringify(outcome.headers?.['content-type'])}, body ${preview(body)}`;
    }
    const parsed = outcome.json;
    if (parsed === undefined) return `body is not JSON: ${preview(body)}`;
    if (!validate(parsed)) return `not the error shape: ${ajv.errorsText(validate.errors)}: ${preview(body)}`;
    const error = (parsed as { error: { code: string; innerError: Record<string, string> } }).error;
    if (!CAMEL_CASE.test(error.code)) return `code ${JSON.stringify(error.code)} is not camelCase`;
    if (!error.innerError['request-id']) return 'empty innerError.request-id';
    if (!Number.isFinite(Date.parse(error.innerError.date ?? ''))) return 'innerError.date is not a date';
    return undefined;
  };
}

const preview = (body: Buffer, length = 200) => {
  const text = body.toString('utf8');
  return JSON.stringify(text.length > length ? `${text.slice(0, length)}…` : text);
};

const errorCode = (outcome: Outcome): string | undefined => {
  const code = (outcome.json as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === 'string' ? code : undefined;
};

/** The path the server routes (dot segments resolved, as WHATWG URL and the host do), without the query. */
const routedPath = (target: string) => new URL(target, 'http://fuzz.invalid').pathname;

/** The action id at the end of a Location header, if any. */
const locationActionId = (outcome: Outcome) =>
  /\/deviceActionResults\/([^/?]+)/.exec(String(outcome.headers?.location ?? ''))?.[1];

// A refused reset is audited, with the code the caller got (docs/API.md, "Audit events"), and a simulated device's
// lock screen counts wrong passcodes, as an iPhone does (docs/security.md, threat 1). These are the only writes a 4xx
// may cause.
const RESET_REFUSALS = new Set([
  'deviceNotFound',
  'actionInProgress',
  'platformNotSupported',
  'idempotencyKeyReused',
  'tooManyRequests',
]);
const UNLOCK_REFUSALS = new Set(['wrongPasscode', 'tooManyAttempts']);
/** What an unlock attempt may change on a simulated device: the attempt counter and the lockout. */
const UNLOCK_FIELDS = new Set(['failedUnlocks', 'unlockBlockedUntil', 'etag', 'timestamp', 'Timestamp']);

const eventKey = (e: {
  eventType: unknown;
  outcome: unknown;
  detail?: unknown;
  deviceId: unknown;
  actionId?: unknown;
  reason?: unknown;
}) => [e.eventType, e.outcome, e.detail ?? '', e.deviceId, e.actionId ?? '', e.reason ?? ''].map(String).join(' | ');

/** The audit events and simulated-device changes a batch's answers account for (docs/API.md). */
export interface ExpectedWrites {
  events: string[];
  unlockedDevices: Set<string>;
}

export function expectedWrites(outcomes: Outcome[]): ExpectedWrites {
  const events: string[] = [];
  const unlockedDevices = new Set<string>();
  for (const outcome of outcomes) {
    const { status, request: req } = outcome;
    if (status === undefined) continue;
    const path = routedPath(req.target);
    const code = errorCode(outcome) ?? '';
    if (req.method === 'POST' && /\/managedDevices\/[^/]+\/resetPasscode$/.test(path) && RESET_REFUSALS.has(code)) {
      const actionId = code === 'actionInProgress' ? locationActionId(outcome) : undefined;
      events.push(
        eventKey({
          eventType: 'resetRequested',
          outcome: 'failure',
          detail: code,
          deviceId: req.deviceId,
          actionId,
          reason: req.reason,
        }),
      );
    } else if (
      req.method === 'POST' &&
      /\/simulator\/managedDevices\/[^/]+\/unlock$/.test(path) &&
      UNLOCK_REFUSALS.has(code)
    ) {
      events.push(eventKey({ eventType: 'unlockAttempted', outcome: 'failure', detail: code, deviceId: req.deviceId }));
      if (req.deviceId) unlockedDevices.add(req.deviceId);
    } else if (req.method === 'GET' && status >= 200 && status < 300) {
      // Every passcode shown is audited (passcodeViewed).
      for (const view of passcodeViews(outcome.json)) {
        events.push(
          eventKey({ eventType: 'passcodeViewed', outcome: 'success', deviceId: view.deviceId, actionId: view.id }),
        );
      }
    }
  }
  return { events, unlockedDevices };
}

function passcodeViews(parsed: unknown): { id: string; deviceId: string }[] {
  const views: { id: string; deviceId: string }[] = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>;
      if (typeof record.passcode === 'string' && typeof record.id === 'string' && typeof record.deviceId === 'string') {
        views.push({ id: record.id, deviceId: record.deviceId });
      }
      Object.values(record).forEach(walk);
    }
  };
  walk(parsed);
  return views;
}

/**
 * Storage changes of a refusal batch that its answers do not account for, and accounted writes that are missing.
 * Exact both ways: each new audit event matches one documented refusal (or shown passcode), and each of those has its
 * event; nothing else in any table or queue changes.
 */
export function unexplainedChanges(
  diff: StorageDiff,
  expected: ExpectedWrites,
  auditTable: string,
  simulatorTable: string,
) {
  const problems: string[] = [...diff.other];
  const pending = new Map<string, number>();
  for (const key of expected.events) pending.set(key, (pending.get(key) ?? 0) + 1);
  for (const change of diff.entities) {
    if (change.table === auditTable && change.kind === 'added' && change.after) {
      const key = eventKey({
        eventType: change.after.eventType,
        outcome: change.after.outcome,
        detail: change.after.detail,
        deviceId: change.after.deviceId,
        actionId: change.after.actionId,
        reason: change.after.reason,
      });
      const left = pending.get(key) ?? 0;
      if (left > 0) {
        pending.set(key, left - 1);
        continue;
      }
      problems.push(`unexplained audit event: ${key}`);
      continue;
    }
    if (change.table === simulatorTable && change.kind === 'changed' && change.before && change.after) {
      const deviceId = String(change.after.partitionKey);
      const fields = changedFields(change.before, change.after).filter((f) => !UNLOCK_FIELDS.has(f));
      if (expected.unlockedDevices.has(deviceId) && fields.length === 0) continue;
    }
    problems.push(
      `${change.kind} ${change.table} ${change.key}` +
        (change.before && change.after ? ` (fields ${changedFields(change.before, change.after).join(', ')})` : ''),
    );
  }
  for (const [key, left] of pending) if (left > 0) problems.push(`missing audit event (×${left}): ${key}`);
  return problems;
}

function changedFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
    (k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );
}

/** One line naming a request and its answer, enough to replay it by hand. */
export function describeOutcome(outcome: Outcome): string {
  const { request: req } = outcome;
  const clip = (text: string, n: number) => (text.length > n ? `${text.slice(0, n)}…(${text.length} chars)` : text);
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => clip(x, 60)) : clip(v, 60)]),
  );
  const body = req.body === undefined ? 'no body' : `body ${req.body.length} B ${preview(req.body, 120)}`;
  const answer =
    outcome.status === undefined
      ? `error ${outcome.error}`
      : `${outcome.status} ${preview(outcome.body ?? Buffer.alloc(0), 200)}`;
  return `#${outcome.index} (${Math.round(outcome.ms)} ms) ${req.shape} ${req.op} [${req.notes.join('; ')}] ${req.method} ${clip(req.target, 200)} headers ${JSON.stringify(headers)} ${body} → ${answer}`;
}

/** Whether the request carried a body over the limit (a connection may then be closed under it). */
export const isLargeBody = (req: FuzzRequest) => (req.body?.length ?? 0) >= BODY_LIMIT;
