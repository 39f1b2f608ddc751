import { type Operation, type Parameter, schemaSites, validValue, wrongValues } from './openapi';
import type { Random } from './random';

/** The app's request body limit (docs/API.md): a connection may be closed under a client that sends more. */
export const BODY_LIMIT = 64 * 1024;

/** One request, as sent. */
export interface FuzzRequest {
  /** valid: a valid shape (may write); refused: a valid shape the app must refuse (4xx); mutated: broken on purpose. */
  shape: 'valid' | 'refused' | 'mutated';
  /** The operation it was built from. */
  op: string;
  method: string;
  /** Path and query, as written on the request line. */
  target: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
  /** Sent with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
  /** What was done to it. */
  notes: string[];
  /** The device id in the path, when it is a well-formed id (for matching audit events). */
  deviceId?: string;
  /** The reason in the body, when the body is an object with a string reason. */
  reason?: string;
}

/** Devices set up once, whose answers are known: valid batches never write to them. */
export interface FixedDevices {
  /** Has a pending action: a reset gets 409. */
  held: string;
  /** Used up its daily resets (all canceled): a reset gets 429. */
  limited: string;
  /** Platforms without passcode reset: 422. */
  unsupported: string[];
  /** Finished resets whose passcodes are known. */
  done: string[];
  /** Actions that are no longer pending: a cancel gets 409. */
  finishedActions: { deviceId: string; actionId: string }[];
  /** An Idempotency-Key already used (with `deviceId`): on another device it gets 422. */
  usedKey: { key: string; deviceId: string };
}

/** What the run knows of the app's data; valid batches add to it. */
export interface World {
  fixed: FixedDevices;
  /** Devices that valid batches create and reset. */
  pool: string[];
  /** Every known action → its device. */
  actions: Map<string, string>;
  /** Actions on pool devices (valid batches may cancel them). */
  poolActions: Map<string, string>;
  /** $skipTokens seen in @odata.nextLink, by operation id. */
  skipTokens: Map<string, string[]>;
  /** Signed status links (path and query) from 202 Location headers: they let a poller in without credentials. */
  statusLinks: string[];
  passcodes: Map<string, string>;
}

/** Credentials: none in AUTH_MODE=none; in entra mode a valid admin token and the bad Authorization values to try. */
export interface AuthOptions {
  /** `Authorization` for a caller with every role (entra mode). */
  admin?: string;
  /** Authorization values that must not get in (entra mode), or junk the app ignores (none mode); undefined = absent. */
  bad: (string | undefined)[];
}

// Ids that break the contract's id rule (1-128 of A-Za-z0-9._-, not "." or ".."), as written in the path. Every one
// must decode to an invalid id or change the route: a valid id here would let a mutated write through.
const LATIN1_BYTES = 'caf\u00e9\u00ff';
const UTF8_BYTES = Buffer.from('ключ', 'utf8').toString('latin1');
const JUNK_IDS: readonly string[] = [
  '',
  '.',
  '..',
  '%2e%2e',
  '%2E',
  'a/b',
  'a%2Fb',
  '%2F',
  '..%2F..%2Fetc%2Fpasswd',
  'a%5Cb',
  '%5C..%5C',
  'a%23b',
  'a%3Fb',
  'a%25b',
  '%',
  '%zz',
  'a%2',
  '%00',
  'a%0Ab',
  '%0D%0ASet-Cookie:%20x=1',
  '%7F',
  '%20',
  'a%20b',
  'a+b',
  '~',
  '*',
  '%22',
  "'",
  '%3Cscript%3E',
  '%7BdeviceId%7D',
  '%5B%5D',
  '%7B%7D',
  '$top',
  encodeURIComponent('日本'),
  encodeURIComponent('😀'),
  '%C3%A9',
  '%C0%AF',
  '%FF',
  '%ED%A0%80',
  LATIN1_BYTES,
  UTF8_BYTES,
  'x'.repeat(129),
  'a'.repeat(10 * 1024),
  '%2F'.repeat(3400),
  encodeURIComponent('日').repeat(1200),
];

// Methods besides the documented ones: known to HTTP parsers (405 from the router) and unknown tokens (400).
const OTHER_METHODS = [
  'GET',
  'PUT',
  'POST',
  'DELETE',
  'PATCH',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'PURGE',
  'CONNECT',
];
const UNKNOWN_METHODS = ['FOO', 'BREW', 'GETS', 'X-DELETE', 'QUERY', 'M-POST'];

const BROKEN_JSON: readonly string[] = [
  '{"reason":',
  '{reason: "x"}',
  "{'reason':'x'}",
  '{"a":1}}',
  '[1,2',
  'NaN',
  'undefined',
  '{"a":1,}',
  '\u0000',
  '{"a":"\\x"}',
  '\ufeff{"a":1',
  '<xml/>',
  '--',
  '{"a":"b"',
];

const BAD_CONTENT_TYPES: readonly string[] = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/jsonx',
  'text/json',
  'application/',
  '*/*',
  ';;;',
  'application/json, text/plain',
  `application/${LATIN1_BYTES}`,
];

// Bodies of JSON media types other than plain application/json, which the app accepts as JSON (docs/API.md).
const JSON_CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/merge-patch+json',
  'application/json;charset=UTF-8',
];

const hex = (n: number) => Array.from({ length: n }, (_, i) => '0123456789abcdef'[(i * 7 + n) % 16]).join('');
/** W3C traceparent values, valid and not (https://www.w3.org/TR/trace-context/#traceparent-header). */
const TRACEPARENTS: (() => string)[] = [
  () => `00-${hex(32)}-${hex(16)}-01`,
  () => `00-${'0'.repeat(32)}-${hex(16)}-01`,
  () => `ff-${hex(32)}-${hex(16)}-01`,
  () => `00-${hex(32).toUpperCase()}-${hex(16)}-01`,
  () => `00-${hex(32)}-${hex(16)}-01-extra`,
  () => 'junk',
  () => '',
  () => `00-${'a'.repeat(4000)}-${hex(16)}-01`,
];

const JUNK_HEADER_VALUES = ['', 'x', '\t', LATIN1_BYTES, UTF8_BYTES, '{"a":1}', 'a'.repeat(2000), '%00', '() { :; };'];

// A lone surrogate cannot be sent in a URL at all: the request carries U+FFFD for it, as a browser would.
const wellFormed = (text: string) => Buffer.from(text, 'utf8').toString('utf8');
const encodeQuery = (text: string) => encodeURIComponent(wellFormed(text)).replaceAll('%24', '$');

const ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const wellFormedId = (id: string) => ID_PATTERN.test(id) && id !== '.' && id !== '..';

interface Draft {
  op: Operation;
  method: string;
  pathValues: Record<string, string>;
  query: [string, string][];
  headers: Record<string, string | string[]>;
  body?: Buffer;
  chunked?: boolean;
  notes: string[];
  /** The JSON value of the body while it is one (reason matching). */
  bodyValue?: unknown;
  /** Path and query to send as they are (a status link), instead of the template filled in. */
  rawTarget?: string;
}

type Mutation = (draft: Draft) => string | undefined;
/** A mutation and how often it is chosen relative to the others that apply. */
type Weighted = readonly [Mutation, number];

/** Builds valid, refused and mutated requests from the document's operations. */
export class RequestFactory {
  private readonly byId: Map<string, Operation>;
  private cursor = 0;

  constructor(
    private readonly operations: readonly Operation[],
    private readonly random: Random,
    private readonly world: World,
    private readonly auth: AuthOptions,
    private readonly base: string,
  ) {
    this.byId = new Map(operations.map((op) => [op.id, op]));
  }

  private operation(id: string): Operation {
    const op = this.byId.get(id);
    if (!op) throw new Error(`the document has no operation ${id}`);
    return op;
  }

  /** A valid request: every operation in turn, then at random. Writes go to pool devices only. */
  valid(): FuzzRequest {
    const op =
      this.cursor < this.operations.length
        ? (this.operations[this.cursor++] as Operation)
        : this.random.pick(this.operations);
    const draft = this.draft(op, true);
    if (this.random.chance(0.2)) {
      // The caller's trace travels into the queue message (a reset's worker continues it): any value must be safe.
      draft.headers.traceparent = this.random.pick(TRACEPARENTS)();
      draft.notes.push('traceparent');
    }
    const links = this.world.statusLinks;
    if (op.id === 'GetDeviceActionResult' && this.auth.admin && links.length > 0 && this.random.chance(0.5)) {
      // A poller without credentials following the signed Location (Power Automate does).
      delete draft.headers.Authorization;
      draft.rawTarget = this.random.pick(links);
      draft.notes.push('signed status link, no credentials');
    }
    return this.finish(draft, 'valid');
  }

  /** A valid-looking request the app must refuse with a 4xx: the refusals the contract lists. */
  refused(): FuzzRequest {
    const r = this.random;
    const { fixed } = this.world;
    const kind = r.weighted([
      ['resetUnknownDevice', 3],
      ['resetUnsupported', 2],
      ['resetInProgress', 2],
      ['resetOverLimit', 2],
      ['resetReusedKey', 1],
      ['unlockWrongPasscode', 2],
      ['unknownAction', 1],
      ['cancelFinished', 1],
    ] as const);
    if (kind.startsWith('reset')) {
      const draft = this.draft(this.operation('ResetPasscode'), false);
      delete draft.headers['Idempotency-Key'];
      const deviceId =
        kind === 'resetUnknownDevice'
          ? this.ghostId()
          : kind === 'resetUnsupported'
            ? r.pick(fixed.unsupported)
            : kind === 'resetInProgress'
              ? fixed.held
              : kind === 'resetOverLimit'
                ? fixed.limited
                : r.pick([...fixed.unsupported, this.ghostId()].filter((id) => id !== fixed.usedKey.deviceId));
      draft.pathValues.deviceId = deviceId;
      if (kind === 'resetReusedKey') draft.headers['Idempotency-Key'] = fixed.usedKey.key;
      else if (r.chance(0.3)) draft.headers['Idempotency-Key'] = `fuzz-${r.nextSeed()}`;
      draft.notes.push(kind);
      return this.finish(draft, 'refused');
    }
    if (kind === 'unlockWrongPasscode') {
      const draft = this.draft(this.operation('SimulatorUnlock'), false);
      const deviceId = r.pick([...fixed.done, this.ghostId(), ...this.world.pool.slice(0, 3)]);
      draft.pathValues.deviceId = deviceId;
      const known = this.world.passcodes.get(deviceId);
      let passcode = `${r.int(0, 99_999_999)}`;
      if (passcode === known) passcode += 'x';
      this.setJsonBody(draft, { passcode });
      draft.notes.push(kind);
      return this.finish(draft, 'refused');
    }
    const op = this.operation(
      kind === 'unknownAction' && r.chance(0.5) ? 'GetDeviceActionResult' : 'CancelDeviceActionResult',
    );
    const draft = this.draft(op, false);
    if (kind === 'cancelFinished') {
      const finished = r.pick(fixed.finishedActions);
      draft.pathValues.deviceId = finished.deviceId;
      draft.pathValues.actionId = finished.actionId;
    } else {
      draft.pathValues.actionId = `${r.int(1_000_000_000_000, 9_999_999_999_999)}-00000000000000000000`;
    }
    draft.notes.push(kind);
    return this.finish(draft, 'refused');
  }

  /** A request broken on purpose: a valid shape, junk the app ignores, then at least one thing it must refuse. */
  mutated(): FuzzRequest {
    const r = this.random;
    // Operations with more inputs have more to break.
    const op = r.weighted(this.operations.map((o) => [o, 1 + o.params.length + (o.body ? 3 : 0)] as const));
    const draft = this.draft(op, false);
    for (
      let i = r.weighted([
        [0, 3],
        [1, 3],
        [2, 1],
      ] as const);
      i > 0;
      i--
    )
      this.applyOne(draft, this.noise());
    const breaking = this.breaking(draft);
    this.applyOne(draft, breaking);
    if (r.chance(0.15)) this.applyOne(draft, this.breaking(draft));
    return this.finish(draft, 'mutated');
  }

  /** Applies one of `candidates`, chosen by weight among those that apply. */
  private applyOne(draft: Draft, candidates: readonly (Mutation | Weighted)[]): void {
    const order = candidates.map((c): Weighted => (typeof c === 'function' ? [c, 1] : c));
    while (order.length > 0) {
      const chosen = this.random.weighted(order.map((entry) => [entry, entry[1]] as const));
      order.splice(order.indexOf(chosen), 1);
      const note = chosen[0](draft);
      if (note !== undefined) {
        draft.notes.push(note);
        return;
      }
    }
    throw new Error(`no mutation applies to ${draft.op.id}`);
  }

  private ghostId(): string {
    return `ghost-${this.random.nextSeed().toString(36)}`;
  }

  private newPoolId(): string {
    return `fz-${this.random.nextSeed().toString(36)}`;
  }

  private knownDevices(): string[] {
    const { fixed, pool } = this.world;
    return [...pool, fixed.held, fixed.limited, ...fixed.unsupported, ...fixed.done];
  }

  /** A valid draft of `op`; with `poolWrites`, a write targets pool devices only (it may create one). */
  private draft(op: Operation, poolWrites: boolean): Draft {
    const r = this.random;
    const draft: Draft = { op, method: op.method, pathValues: {}, query: [], headers: {}, notes: [] };
    const writes = op.method !== 'GET';
    for (const param of op.params) {
      if (param.in === 'path') draft.pathValues[param.name] = this.pathValue(param, draft, writes && poolWrites);
      else if (param.in === 'query' && (param.required || r.chance(0.4))) {
        const value = this.queryValue(op, param);
        if (value !== undefined) draft.query.push([param.name, value]);
      } else if (param.in === 'header' && (param.required || r.chance(0.3))) {
        draft.headers[param.name] = String(validValue(param.schema, r));
      }
    }
    if (op.body && (op.body.required || r.chance(0.6))) {
      const value = validValue(op.body.schema, r);
      const deviceId = draft.pathValues.deviceId;
      const known = deviceId === undefined ? undefined : this.world.passcodes.get(deviceId);
      if (known !== undefined && isRecord(value) && 'passcode' in value && r.chance(0.7)) value.passcode = known;
      this.setJsonBody(draft, value);
    }
    // The API wants every POST, PUT and PATCH declared JSON, also without a body (docs/API.md, Conventions).
    if (['POST', 'PUT', 'PATCH'].includes(op.method)) draft.headers['Content-Type'] ??= 'application/json';
    if (this.auth.admin !== undefined && !op.anonymous) draft.headers.Authorization = this.auth.admin;
    return draft;
  }

  private pathValue(param: Parameter, draft: Draft, poolWrite: boolean): string {
    const r = this.random;
    if (param.name === 'deviceId') {
      const { pool, fixed } = this.world;
      // Unlocking never changes what a refusal gets (403 or 429 either way): the devices with a passcode may be tried.
      if (poolWrite && draft.op.id === 'SimulatorUnlock' && r.chance(0.5)) return r.pick(fixed.done);
      if (poolWrite) return pool.length > 0 && r.chance(0.75) ? r.pick(pool) : this.newPoolId();
      return r.chance(0.85) ? r.pick(this.knownDevices()) : this.ghostId();
    }
    if (param.name === 'actionId') {
      const deviceId = draft.pathValues.deviceId;
      const source = poolWrite ? this.world.poolActions : this.world.actions;
      const own = [...source].filter(([, device]) => device === deviceId).map(([id]) => id);
      if (own.length > 0 && r.chance(0.85)) return r.pick(own);
      const any = [...source.keys()];
      if (any.length > 0 && r.chance(0.5)) return r.pick(any);
    }
    return encodeURIComponent(String(validValue(param.schema, r)));
  }

  private queryValue(op: Operation, param: Parameter): string | undefined {
    const r = this.random;
    if (param.name === '$skipToken') {
      const tokens = this.world.skipTokens.get(op.id) ?? [];
      return tokens.length > 0 ? r.pick(tokens) : undefined;
    }
    if (param.name === 'deviceId') return r.pick(this.knownDevices());
    return encodeQuery(String(validValue(param.schema, r)));
  }

  private setJsonBody(draft: Draft, value: unknown, type = 'application/json'): void {
    draft.bodyValue = value;
    draft.body = Buffer.from(JSON.stringify(value), 'utf8');
    draft.headers['Content-Type'] = type;
  }

  private setRawBody(draft: Draft, body: Buffer | string, type: string | undefined): void {
    draft.bodyValue = undefined;
    draft.body = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    if (type === undefined) delete draft.headers['Content-Type'];
    else draft.headers['Content-Type'] = type;
  }

  /** Changes the app ignores (or must tolerate); they never make a broken request valid. */
  private noise(): Mutation[] {
    const r = this.random;
    return [
      (d) => {
        const name = `X-Fuzz-${r.int(0, 99)}`;
        d.headers[name] = r.chance(0.2) ? [r.pick(JUNK_HEADER_VALUES), 'second'] : r.pick(JUNK_HEADER_VALUES);
        return `junk header ${name}`;
      },
      (d) => {
        d.headers.Accept = r.pick(['text/html', '*/*', 'application/xml', '', 'application/json;q=0', LATIN1_BYTES]);
        return 'odd Accept';
      },
      (d) => {
        if (this.auth.admin !== undefined) return undefined; // in entra mode a bad Authorization is not noise
        const value = r.pick(this.auth.bad);
        if (value === undefined) return undefined;
        d.headers.Authorization = value;
        return 'junk Authorization (ignored with AUTH_MODE=none)';
      },
      (d) => {
        d.headers.traceparent = r.pick([
          'junk',
          '00-xyz-abc-01',
          '',
          '00-00000000000000000000000000000000-0000000000000000-00',
        ]);
        return 'bad traceparent';
      },
      (d) => {
        d.headers.Origin = r.pick(['http://evil.example', 'null', '']);
        if (r.chance(0.5)) d.headers['Access-Control-Request-Method'] = 'DELETE';
        return 'Origin (CORS is off)';
      },
      (d) => {
        if (d.op.method !== 'GET' || d.body !== undefined) return undefined;
        this.setRawBody(d, r.chance(0.5) ? '{"junk":true}' : 'junk', r.pick(['application/json', 'text/plain']));
        return 'a body on a GET';
      },
      (d) => {
        if (d.op.params.some((p) => p.in === 'query')) return undefined; // only where no query is read
        d.query.push([r.pick(['foo', '$top', '$filter', 'sig', 'code']), encodeQuery(r.pick(['-1', 'abc', '', '%']))]);
        return 'a query parameter the operation does not read';
      },
      (d) => {
        if (!d.body || d.body.length === 0) return undefined;
        if (r.chance(0.5)) d.chunked = true;
        else d.headers.Expect = '100-continue';
        return d.chunked ? 'chunked body' : 'Expect: 100-continue';
      },
      (d) => {
        if (d.bodyValue === undefined || !d.body) return undefined;
        d.headers['Content-Type'] = r.pick(JSON_CONTENT_TYPES);
        return 'another JSON media type';
      },
      (d) => {
        // Kestrel ignores an expectation it does not know, and so does the local host (tools/host/http.ts).
        d.headers.Expect = r.pick(['junk', '200-ok', '']);
        return `Expect: ${d.headers.Expect}`;
      },
    ];
  }

  /** Changes the contract says must be refused. Each returns undefined where it does not apply. */
  private breaking(draft: Draft): Weighted[] {
    const r = this.random;
    const op = draft.op;
    // The host-level refusals (431, 421) are cheap to reach and stop before the app: chosen rarely.
    const list: Weighted[] = [
      [
        (d) => {
          const names = Object.keys(d.pathValues);
          if (names.length === 0) return undefined;
          const name = r.pick(names);
          const junk = r.pick(JUNK_IDS);
          d.pathValues[name] = junk;
          return `junk ${name} (${junk.length > 40 ? `${junk.length} characters` : JSON.stringify(junk)})`;
        },
        4,
      ],
      [
        (d) => {
          const others = [...OTHER_METHODS.filter((m) => !op.pathMethods.includes(m)), ...UNKNOWN_METHODS];
          d.method = r.pick(others);
          return `method ${d.method}`;
        },
        1,
      ],
      [
        (d) => {
          const name = r.pick(['X-Fuzz-Huge', 'Authorization', 'Idempotency-Key', 'Cookie', 'Content-Type']);
          d.headers[name] = 'h'.repeat(r.int(17, 24) * 1024);
          return `a ${name} header over 16 KiB`;
        },
        0.4,
      ],
      [
        (d) => {
          d.headers.Host = r.pick([
            'evil.example',
            'evil.example:80',
            '127.0.0.1.evil.example',
            'localhost.evil.example',
          ]);
          return `Host ${d.headers.Host}`;
        },
        0.3,
      ],
    ];
    if (this.auth.admin !== undefined && !op.anonymous) {
      list.push([
        (d) => {
          const value = r.pick(this.auth.bad);
          if (value === undefined) delete d.headers.Authorization;
          else d.headers.Authorization = value;
          return `bad Authorization (${value === undefined ? 'none' : `${value.slice(0, 20)}…`})`;
        },
        6,
      ]);
    }
    if (op.params.some((p) => p.in === 'query')) list.push([(d) => this.badQuery(d), 4]);
    if (op.id === 'GetDeviceActionResult' && this.auth.admin !== undefined) {
      list.push([(d) => this.forgedStatusLink(d), 3]);
    }
    if (op.params.some((p) => p.in === 'header' && p.name === 'Idempotency-Key')) {
      const schema = op.params.find((p) => p.name === 'Idempotency-Key')?.schema ?? {};
      list.push([
        (d) => {
          const value = r.pick(['', ' ', 'a\tb', LATIN1_BYTES, UTF8_BYTES, 'k'.repeat((schema.maxLength ?? 255) + 1)]);
          d.headers['Idempotency-Key'] = value;
          return `Idempotency-Key ${value.length > 40 ? `of ${value.length} characters` : JSON.stringify(value)}`;
        },
        2,
      ]);
    }
    if (op.body) list.push(...this.badBodies(op));
    return list;
  }

  /** A status link without credentials whose signature is junk, tampered with, or another action's. */
  private forgedStatusLink(d: Draft): string | undefined {
    const r = this.random;
    const links = this.world.statusLinks;
    const link = links.length > 0 ? r.pick(links) : undefined;
    const [path, query = ''] = (link ?? '').split('?');
    const sig = new URLSearchParams(query).get('sig') ?? '';
    const own = `${this.base}${d.op.path.replace(/\{(\w+)\}/g, (_, name: string) => d.pathValues[name] ?? '')}`;
    const choice = r.weighted([
      ['junk', 2],
      ['tampered', 2],
      ['other action', link ? 2 : 0],
    ] as const);
    const forged =
      choice === 'junk'
        ? r.pick(['', 'junk', '%00', 'a'.repeat(3000), 'v1.k.1.x', '....'])
        : choice === 'tampered'
          ? r.pick([`${sig}x`, sig.slice(0, -2), sig.replace(/[a-z]/, 'Z'), `${sig}&sig=${sig}`, sig.toUpperCase()])
          : sig;
    delete d.headers.Authorization;
    // Another action's signature goes on this draft's action; a junk or tampered one stays on its own link.
    d.rawTarget = `${choice === 'other action' || !link ? own : path}?sig=${forged}`;
    return `status link with a ${choice} signature`;
  }

  private badQuery(d: Draft): string | undefined {
    const r = this.random;
    const names = d.op.params.filter((p) => p.in === 'query').map((p) => p.name);
    const choice = r.weighted([
      ['top', 3],
      ['skipToken', 3],
      ['unknown', 2],
      ['enum', 1],
      ['date', 1],
      ['repeated', 1],
      ['deviceId', 1],
    ] as const);
    const set = (name: string, value: string) => {
      d.query = d.query.filter(([n]) => n !== name);
      d.query.push([name, value]);
      return `${name}=${value.length > 40 ? `<${value.length} characters>` : value}`;
    };
    switch (choice) {
      case 'top':
        return set(
          '$top',
          r.pick(['-1', '0', '101', 'abc', '1.5', '', '1e309', '0x10', '%20', '99999999999999999999']),
        );
      case 'skipToken': {
        const real = r.pick([...(this.world.skipTokens.get(d.op.id) ?? []), 'Zm9v']);
        return set(
          '$skipToken',
          r.pick([
            'garbage',
            'Zm9v',
            '!!!',
            '%00',
            'a'.repeat(3000),
            `${real}x`,
            `x${real}`,
            `${real.toUpperCase()}.x`,
          ]),
        );
      }
      case 'unknown':
        return set(r.pick(['foo', '$filter', '$expand', '$select', '$orderby', 'TOP', '$Top']), r.pick(['x', '', '*']));
      case 'enum': {
        const name = names.find((n) => n === 'operatingSystem' || n === 'actionState');
        return name ? set(name, r.pick(['Symbian', 'PENDING', '', 'done,failed', '%00'])) : undefined;
      }
      case 'date': {
        const name = names.find((n) => n === 'from' || n === 'to');
        return name
          ? set(name, r.pick(['yesterday', '2026-13-45T00:00:00Z', '', '1700000000', 'T', '2026-11-26']))
          : undefined;
      }
      case 'repeated':
        d.query.push(['$top', '1'], ['$top', '2']);
        return '$top twice';
      case 'deviceId':
        return names.includes('deviceId') ? set('deviceId', r.pick(JUNK_IDS.slice(0, 30)) || '%00') : undefined;
    }
  }

  /** Bodies the operation's schema forbids, broken JSON, deep nesting, huge strings, wrong or missing types. */
  private badBodies(op: Operation): Weighted[] {
    const r = this.random;
    const schema = op.body?.schema ?? {};
    const json = () => (r.chance(0.8) ? 'application/json' : r.pick(JSON_CONTENT_TYPES));
    const schemaViolation: Mutation = (d) => {
      const site = r.pick(schemaSites(schema));
      const base = isRecord(d.bodyValue) ? structuredClone(d.bodyValue) : validValue(schema, r);
      if (site.path.length > 0 && site.required && r.chance(0.3)) {
        unsetAt(base, site.path);
        this.setJsonBody(d, base, json());
        return `without required ${site.path.join('.')}`;
      }
      const wrong = r.pick(wrongValues(site.schema));
      const value = site.path.length === 0 ? wrong.value : setAt(base, site.path, wrong.value);
      this.setJsonBody(d, value, json());
      return `${site.path.join('.') || 'body'}: ${wrong.what}`;
    };
    const unknownProperty: Mutation = (d) => {
      const base = isRecord(d.bodyValue) ? d.bodyValue : {};
      this.setJsonBody(d, { ...base, [r.pick(['zzUnknown', '__proto__x', 'constructor', 'id', ''])]: 1 }, json());
      return 'an unknown property';
    };
    const brokenJson: Mutation = (d) => {
      this.setRawBody(d, r.pick(BROKEN_JSON), 'application/json');
      return 'broken JSON';
    };
    const deepNesting: Mutation = (d) => {
      const depth = r.pick([1_000, 10_000, 30_000, 60_000]);
      const [open, close] = r.chance(0.5) ? ['[', ']'] : ['{"a":', '}'];
      const nested = `${open.repeat(depth)}1${close.repeat(depth)}`;
      this.setRawBody(d, r.chance(0.5) ? nested : `{"reason":${nested}}`, 'application/json');
      return `nested ${depth} deep`;
    };
    const hugeString: Mutation = (d) => {
      const size = r.pick([60_000, 64 * 1024 - 100, 64 * 1024 + 1, 70_000, 150_000]);
      const property = Object.keys(schema.properties ?? {})[0] ?? 'x';
      this.setRawBody(d, `{"${property}":"${'x'.repeat(size)}"}`, 'application/json');
      return `a ${size}-character string`;
    };
    const wrongContentType: Mutation = (d) => {
      // A JSON body (never empty) declared as something else.
      const value = isRecord(d.bodyValue) ? d.bodyValue : validValue(schema, r);
      this.setJsonBody(d, value, r.pick(BAD_CONTENT_TYPES));
      return `Content-Type ${JSON.stringify(d.headers['Content-Type'])}`;
    };
    const noBody: Mutation = (d) => {
      if (!op.body?.required) return undefined;
      delete d.body;
      delete d.bodyValue;
      if (r.chance(0.5)) delete d.headers['Content-Type'];
      return 'no body';
    };
    const binary: Mutation = (d) => {
      const type = r.pick(['application/json', 'application/octet-stream']);
      this.setRawBody(d, Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80]), type);
      return 'binary body';
    };
    // What the schema forbids comes first: it is where the app's own validation is tested field by field.
    return [
      [schemaViolation, 4],
      [unknownProperty, 1],
      [brokenJson, 1],
      [deepNesting, 0.6],
      [hugeString, 0.6],
      [wrongContentType, 1],
      [noBody, 0.6],
      [binary, 0.4],
    ];
  }

  private finish(draft: Draft, shape: FuzzRequest['shape']): FuzzRequest {
    const path = draft.op.path.replace(/\{(\w+)\}/g, (_, name: string) => draft.pathValues[name] ?? '');
    const query = draft.query.map(([k, v]) => `${encodeQuery(k)}=${v}`).join('&');
    const deviceId = draft.pathValues.deviceId;
    const reason = isRecord(draft.bodyValue) ? draft.bodyValue.reason : undefined;
    return {
      shape,
      op: draft.op.id,
      method: draft.method,
      target: draft.rawTarget ?? `${this.base}${path}${query ? `?${query}` : ''}`,
      headers: draft.headers,
      ...(draft.body !== undefined && { body: draft.body }),
      ...(draft.chunked && { chunked: true }),
      notes: draft.notes,
      ...(deviceId !== undefined && wellFormedId(deviceId) && { deviceId }),
      ...(typeof reason === 'string' && { reason }),
    };
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `base` with `value` at `path`, creating objects on the way (a copy; base is not changed). */
function setAt(base: unknown, path: string[], value: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  const object = isRecord(base) ? { ...base } : {};
  object[head] = setAt(object[head], rest, value);
  return object;
}

function unsetAt(base: unknown, path: string[]): void {
  const [head, ...rest] = path;
  if (head === undefined || !isRecord(base)) return;
  if (rest.length === 0) delete base[head];
  else unsetAt(base[head], rest);
}
