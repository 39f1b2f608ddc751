import { randomInt } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { STORAGE_NAMES } from '../../lib/deps';
import { ALL_ROLES } from '../../lib/security/caller';
import { spawnHost } from '../../tools/host/spawnHost';
import { AUDIENCE, ISSUER, startTestIssuer, type TestIssuer } from './entraTokens';
import {
  describeOutcome,
  diffSnapshots,
  errorShapeChecker,
  expectedWrites,
  FuzzClient,
  isLargeBody,
  isReset,
  type Outcome,
  type Snapshot,
  takeSnapshot,
  unexplainedChanges,
} from './fuzz/harness';
import { type ApiDocument, readApiDocument } from './fuzz/openapi';
import { fuzzSeed, type Random, seededRandom } from './fuzz/random';
import { type AuthOptions, type FixedDevices, type FuzzRequest, RequestFactory, type World } from './fuzz/requests';
import { type Stack, startStack } from './stack';

// Drives the app as a hostile or careless client would: requests generated from the served OpenAPI document, valid
// first, then broken on purpose, through 8 keep-alive connections. Whatever comes in, the app must answer (no 5xx,
// no dropped connection under a body within the 64 KiB limit), every 4xx must have the contract's error shape, and a
// refused request must write nothing but the documented audit events. FUZZ_SEED replays a run; FUZZ_REQUESTS changes
// its length (default 10,000). docs/fuzzing.md has the details.

const VALID_BATCH = 40;
const REFUSAL_BATCH = 300;
const REFUSAL_BATCHES_PER_ROUND = 3;
/** Share of a refusal batch that is valid-looking requests the contract refuses (404, 409, 422, 429, 403). */
const REFUSED_SHARE = 0.12;
/** Share of the run sent to a host in AUTH_MODE=entra, to fuzz the Authorization header. */
const ENTRA_SHARE = 0.1;
/** Now and then a request goes out this many times at once, as an impatient client retries it (races on one id). */
const BURST = 8;

// Only the HTTP surface is under test: the queue functions (in the fuzzing phases) and the sweeper are off, so nothing
// but the requests themselves writes to storage and a snapshot before and after a batch tells exactly what it wrote.
const QUIET = {
  'AzureWebJobs.sweepDeviceActions.Disabled': 'true',
  // The simulated devices' passcode verifier: cheap here, the run measures the HTTP surface, not scrypt.
  SIMULATOR_VERIFIER_COST: '1024',
  // Two log lines per invocation cost a third of the host's time; warnings and errors (a 500's log) still show.
  AzureFunctionsJobHost__logging__logLevel__default: 'Warning',
};
// Every queue function: what a valid batch enqueues (a reset, the notice that a canceled action ended) stays queued.
const NO_WORKER = {
  'AzureWebJobs.resetPasscodeWorker.Disabled': 'true',
  'AzureWebJobs.resetPasscodePoison.Disabled': 'true',
  'AzureWebJobs.notifications.Disabled': 'true',
};

const API = '/api';
const devicePath = (id: string) => `${API}/deviceManagement/managedDevices/${id}`;

/** Everything the run saw, and every broken promise with the request that broke it. */
class Tally {
  requests = 0;
  readonly statuses = new Map<number, number>();
  largeBodyResets = 0;
  readonly serverErrors: string[] = [];
  readonly resets: string[] = [];
  readonly transport: string[] = [];
  readonly shapes: string[] = [];
  readonly acceptedInvalid: string[] = [];
  readonly storage: string[] = [];
  checkedBatches = 0;
  allRefusedBatches = 0;
  /** The writes refusal batches were allowed, by kind ("resetRequested deviceNotFound", "passcodeViewed"…). */
  readonly accounted = new Map<string, number>();
  snapshotSeconds = 0;
  /** How often each kind of change was made (the notes, without their details). */
  readonly mutations = new Map<string, number>();
  /** The slowest answers, to see where a slow run spends its time. */
  readonly slowest: Outcome[] = [];

  constructor(private readonly checkShape: (outcome: Outcome) => string | undefined) {}

  record(outcomes: Outcome[]): void {
    for (const outcome of outcomes) {
      this.requests++;
      for (const note of outcome.request.notes) {
        const kind = note.replace(/\s*[(=:"].*$/, '').replace(/\d+/g, 'N');
        this.mutations.set(kind, (this.mutations.get(kind) ?? 0) + 1);
      }
      this.slowest.push(outcome);
      this.slowest.sort((a, b) => b.ms - a.ms).splice(5);
      const { status, error } = outcome;
      if (status === undefined) {
        const text = error ?? 'no answer';
        if (!isReset(text)) this.transport.push(describeOutcome(outcome));
        else if (isLargeBody(outcome.request)) this.largeBodyResets++;
        else this.resets.push(describeOutcome(outcome));
        continue;
      }
      this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
      if (status >= 500) this.serverErrors.push(describeOutcome(outcome));
      else if (status >= 400) {
        const problem = this.checkShape(outcome);
        if (problem) this.shapes.push(`${problem}\n    ${describeOutcome(outcome)}`);
      }
    }
  }

  /** Counts the writes a refusal batch was allowed, by kind. */
  account(events: string[]): void {
    for (const event of events) {
      const [type, , detail] = event.split(' | ');
      const kind = `${type}${detail ? ` ${detail}` : ''}`;
      this.accounted.set(kind, (this.accounted.get(kind) ?? 0) + 1);
    }
  }

  /** How many answers had a status in [from, to). */
  count(from: number, to: number): number {
    return [...this.statuses].filter(([s]) => s >= from && s < to).reduce((n, [, c]) => n + c, 0);
  }

  summary(seed: number, seconds: number): string {
    const statuses = [...this.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
    return [
      `fuzz: FUZZ_SEED=${seed}: ${this.requests} requests in ${seconds.toFixed(1)} s`,
      `  statuses ${statuses.join(', ')}`,
      `  resets ${this.resets.length} (plus ${this.largeBodyResets} under bodies over 64 KiB, allowed), other transport errors ${this.transport.length}`,
      `  changes made: ${[...this.mutations]
        .sort(([, a], [, b]) => b - a)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
      `  slowest: ${this.slowest.map((o) => `${Math.round(o.ms)} ms ${o.request.method} ${o.status ?? o.error} [${o.request.notes.join('; ')}]`).join(' | ')}`,
      `  5xx ${this.serverErrors.length}, error-shape violations ${this.shapes.length}, invalid requests accepted ${this.acceptedInvalid.length}`,
      `  storage: ${this.checkedBatches} refusal batches checked, every answer accounted for (${this.allRefusedBatches} with 4xx answers only; the others also had 2xx GETs, which may write nothing but passcodeViewed), ${this.snapshotSeconds.toFixed(1)} s of snapshots, ${this.storage.length} unexplained changes`,
      `  documented writes matched: ${[...this.accounted].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    ].join('\n');
  }
}

/** Adds what valid answers reveal (devices, actions, skip tokens, passcodes) to the world. */
function learn(world: World, outcomes: Outcome[]): void {
  for (const outcome of outcomes) {
    const { status, request: req } = outcome;
    if (status === undefined || status >= 300) continue;
    const body: any = outcome.json;
    if (req.method === 'PUT' && req.deviceId && !world.pool.includes(req.deviceId)) world.pool.push(req.deviceId);
    const items: any[] = Array.isArray(body?.value) ? body.value : body ? [body, body.lastResetPasscode] : [];
    for (const item of items) {
      if (typeof item?.id !== 'string' || typeof item?.deviceId !== 'string' || item.actionName !== 'resetPasscode')
        continue;
      world.actions.set(item.id, item.deviceId);
      if (world.pool.includes(item.deviceId)) world.poolActions.set(item.id, item.deviceId);
      if (typeof item.passcode === 'string') world.passcodes.set(item.deviceId, item.passcode);
    }
    const location = outcome.headers?.location;
    if (status === 202 && req.method === 'POST' && typeof location === 'string' && location.includes('sig=')) {
      const link = new URL(location);
      world.statusLinks = [`${link.pathname}${link.search}`, ...world.statusLinks].slice(0, 20);
    }
    const next = typeof body?.['@odata.nextLink'] === 'string' ? new URL(body['@odata.nextLink']) : undefined;
    const token = next?.searchParams.get('$skipToken');
    if (token) {
      const tokens = world.skipTokens.get(req.op) ?? [];
      world.skipTokens.set(req.op, [token, ...tokens].slice(0, 5));
    }
  }
}

/** A request built by hand for the set-up. */
function setupRequest(
  method: string,
  target: string,
  json?: unknown,
  headers: Record<string, string> = {},
): FuzzRequest {
  const deviceId = /\/managedDevices\/([\w.-]+)/.exec(target)?.[1];
  return {
    shape: 'valid',
    op: 'setUp',
    method,
    target,
    // Every POST, PUT and PATCH declares JSON, also without a body (docs/API.md, Conventions).
    headers:
      json === undefined && !['POST', 'PUT', 'PATCH'].includes(method)
        ? headers
        : { 'Content-Type': 'application/json', ...headers },
    ...(json !== undefined && { body: Buffer.from(JSON.stringify(json)) }),
    notes: [],
    ...(deviceId && { deviceId }),
  };
}

/** Authorization values a host in entra mode must turn away (401 or 403), from junk to well-formed forgeries. */
async function badAuthorizations(issuer: TestIssuer): Promise<(string | undefined)[]> {
  const caller = { oid: 'oid-fuzz', preferred_username: 'fuzz@contoso.com' };
  const good = await issuer.token({ roles: ALL_ROLES, ...caller });
  const [header, payload, signature] = good.split('.');
  const foreign = await generateKeyPair('RS256');
  const signed = (kid: string) =>
    new SignJWT({ roles: [...ALL_ROLES], ...caller })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(foreign.privateKey);
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const hmac = await new SignJWT({ roles: [...ALL_ROLES], ...caller })
    .setProtectedHeader({ alg: 'HS256', kid: 'e2e-key' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode('a-shared-secret-an-attacker-would-guess'));
  const bearer = async (claims: Parameters<TestIssuer['token']>[0], typ?: string) =>
    `Bearer ${await issuer.token({ ...caller, ...claims }, typ ? { typ } : {})}`;
  return [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'bearer x.y.z',
    'Basic dXNlcjpwYXNzd29yZA==',
    'Bearer a b',
    `Bearer ${'a'.repeat(8000)}`,
    `Bearer caf\u00e9.\u00ff.x`,
    good,
    `Token ${good}`,
    `Bearer ${good},Bearer ${good}`,
    `Bearer ${header}.${payload}x.${signature}`,
    `Bearer ${header}.${b64({ roles: [...ALL_ROLES], ...caller, iss: ISSUER, aud: AUDIENCE })}.${signature}`,
    `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
    `Bearer ${hmac}`,
    `Bearer ${await signed('e2e-key')}`,
    `Bearer ${await signed('unknown-key')}`,
    await bearer({ roles: ALL_ROLES, nbf: Math.floor(Date.now() / 1000) + 3600 }),
    await bearer({ roles: ALL_ROLES, nonce: 'an-id-token' }),
    await bearer({ roles: ALL_ROLES }, 'logout+jwt'),
    await bearer({}),
    await bearer({ scp: 'User.Read' }),
    await bearer({ roles: ['Devices.Read'] }),
  ];
}

/** `size` requests from `make`, some in bursts: the 8 connections send a burst's copies at the same time. */
function batchOf(random: Random, size: number, burstChance: number, make: () => FuzzRequest): FuzzRequest[] {
  const batch: FuzzRequest[] = [];
  while (batch.length < size) {
    const request = make();
    const copies = random.chance(burstChance) ? BURST : 1;
    for (let i = 0; i < copies; i++) batch.push(request);
  }
  return batch;
}

const iPhone = (id: string) => ({ deviceName: `Fuzz ${id}`, operatingSystem: 'iOS', osVersion: '17.5' });
const UNSUPPORTED: [id: string, operatingSystem: string, osVersion: string][] = [
  ['fx-windows', 'Windows', '10.0.19045'],
  ['fx-macos', 'macOS', '14.5'],
  ['fx-afw', 'AndroidForWork', '13'],
  ['fx-android7', 'Android', '7.0'],
  ['fx-wp80', 'WindowsPhone', '8.0'],
];

/** One run: Azurite and the host, the client, what the run knows of the app's data, and what it saw. */
class FuzzRun {
  private client: FuzzClient;
  private snapshot: Snapshot | undefined;
  private batchNumber = 0;

  private constructor(
    readonly stack: Stack,
    readonly random: Random,
    readonly document: ApiDocument,
    readonly tally: Tally,
    client: FuzzClient,
  ) {
    this.client = client;
  }

  /** Azurite and the host with the worker on (for the set-up), and the document the host serves. */
  static async start(random: Random): Promise<FuzzRun> {
    const stack = await startStack(QUIET);
    const client = new FuzzClient('127.0.0.1', Number(new URL(stack.host.url).port));
    const [answer] = await client.sendAll([setupRequest('GET', `${API}/openapi.json`)]);
    if (answer?.status !== 200) throw new Error(`GET openapi.json: ${answer && describeOutcome(answer)}`);
    const document = readApiDocument(answer.json);
    const tally = new Tally(errorShapeChecker(document.errorBody));
    tally.record([answer]);
    return new FuzzRun(stack, random, document, tally, client);
  }

  async stop(): Promise<void> {
    this.client.close();
    await this.stack.stop();
  }

  /** Replaces the host (same storage) with one with `settings` on top of the first host's. */
  async restart(settings: Record<string, string>): Promise<void> {
    this.client.close();
    await this.stack.host.stop();
    this.stack.host = await spawnHost({ appDir: process.cwd(), env: { ...this.stack.env, ...settings }, port: 0 });
    this.client = new FuzzClient('127.0.0.1', Number(new URL(this.stack.host.url).port));
    this.snapshot = undefined;
  }

  async send(requests: FuzzRequest[]): Promise<Outcome[]> {
    const outcomes = await this.client.sendAll(requests);
    this.tally.record(outcomes);
    return outcomes;
  }

  /** One set-up request; its answer must have `status`. */
  async expect(status: number, method: string, target: string, json?: unknown, headers?: Record<string, string>) {
    const [outcome] = await this.send([setupRequest(method, target, json, headers)]);
    if (outcome?.status !== status)
      throw new Error(`set-up: expected ${status}: ${outcome && describeOutcome(outcome)}`);
    return outcome.json as any;
  }

  async takeSnapshot(): Promise<Snapshot> {
    const start = performance.now();
    const taken = await takeSnapshot(this.stack.azurite.connectionString);
    this.tally.snapshotSeconds += (performance.now() - start) / 1000;
    return taken;
  }

  /**
   * The devices whose answers are known (FixedDevices). Two resets finish while the worker is on (their passcodes are
   * known); then the host restarts without the worker, so that a pending action stays pending: 409 and 429 are certain.
   */
  async setUp(seed: number): Promise<World> {
    for (const id of ['fx-done-1', 'fx-done-2', 'fx-held', 'fx-limited']) {
      await this.expect(201, 'PUT', devicePath(id), iPhone(id));
    }
    for (const [id, operatingSystem, osVersion] of UNSUPPORTED) {
      await this.expect(201, 'PUT', devicePath(id), { deviceName: id, operatingSystem, osVersion });
    }
    const passcodes = new Map<string, string>();
    const finishedActions: FixedDevices['finishedActions'] = [];
    for (const id of ['fx-done-1', 'fx-done-2']) {
      const accepted = await this.expect(202, 'POST', `${devicePath(id)}/resetPasscode`, { reason: 'fuzz set-up' });
      let action: any = accepted;
      for (let i = 0; i < 150 && action.actionState !== 'done'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const [answer] = await this.send([setupRequest('GET', `${devicePath(id)}/deviceActionResults/${accepted.id}`)]);
        action = answer?.json;
      }
      if (typeof action?.passcode !== 'string')
        throw new Error(`set-up: reset of ${id} not done: ${JSON.stringify(action)}`);
      passcodes.set(id, action.passcode);
      finishedActions.push({ deviceId: id, actionId: accepted.id });
    }
    await this.expect(200, 'POST', `${API}/simulator/managedDevices/fx-done-1/unlock`, {
      passcode: passcodes.get('fx-done-1'),
    });

    await this.restart(NO_WORKER);
    const usedKey = { key: `fuzz-key-${seed}`, deviceId: 'fx-held' };
    const held = await this.expect(
      202,
      'POST',
      `${devicePath('fx-held')}/resetPasscode`,
      {},
      {
        'Idempotency-Key': usedKey.key,
      },
    );
    for (let i = 0; i < 10; i++) {
      const accepted = await this.expect(202, 'POST', `${devicePath('fx-limited')}/resetPasscode`);
      await this.expect(200, 'DELETE', `${devicePath('fx-limited')}/deviceActionResults/${accepted.id}`);
      finishedActions.push({ deviceId: 'fx-limited', actionId: accepted.id });
    }
    await this.expect(429, 'POST', `${devicePath('fx-limited')}/resetPasscode`);
    return {
      fixed: {
        held: 'fx-held',
        limited: 'fx-limited',
        unsupported: UNSUPPORTED.map(([id]) => id),
        done: ['fx-done-1', 'fx-done-2'],
        finishedActions,
        usedKey,
      },
      pool: [],
      actions: new Map([[held.id, 'fx-held'], ...finishedActions.map((a) => [a.actionId, a.deviceId] as const)]),
      poolActions: new Map(),
      skipTokens: new Map(),
      statusLinks: [],
      passcodes,
    };
  }

  /** A valid batch (it may write; the world learns from it), then refusal batches, each checked against storage. */
  async round(factory: RequestFactory, world: World): Promise<void> {
    learn(world, await this.send(batchOf(this.random, VALID_BATCH, 0.05, () => factory.valid())));
    this.snapshot = await this.takeSnapshot();
    for (let b = 0; b < REFUSAL_BATCHES_PER_ROUND; b++) {
      const requests = batchOf(this.random, REFUSAL_BATCH, 0.02, () =>
        this.random.chance(REFUSED_SHARE) ? factory.refused() : factory.mutated(),
      );
      await this.checkRefusals(await this.send(requests));
    }
  }

  /** No write succeeded, no refusal was skipped, and storage changed by exactly what the answers account for. */
  private async checkRefusals(outcomes: Outcome[]): Promise<void> {
    const { tally } = this;
    this.batchNumber++;
    for (const o of outcomes) {
      const ok = o.status !== undefined && o.status < 300;
      const refusedShapeAccepted = o.request.shape === 'refused' && o.status !== undefined && o.status < 400;
      if ((ok && o.request.method !== 'GET') || refusedShapeAccepted) tally.acceptedInvalid.push(describeOutcome(o));
    }
    const before = this.snapshot ?? (await this.takeSnapshot());
    const after = await this.takeSnapshot();
    const expected = expectedWrites(outcomes);
    const first = outcomes[0]?.index ?? 0;
    const where = `batch ${this.batchNumber} (#${first}-#${first + outcomes.length - 1})`;
    const problems = unexplainedChanges(diffSnapshots(before, after), expected, ...CHECKED_TABLES);
    tally.storage.push(...problems.map((p) => `${where}: ${p}`));
    tally.checkedBatches++;
    if (outcomes.every((o) => o.status !== undefined && o.status >= 400 && o.status < 500)) tally.allRefusedBatches++;
    tally.account(expected.events);
    this.snapshot = after;
  }

  /** Shows that the storage check can fail: a write that succeeded and an unaccounted refusal event are reported. */
  async probeStorageCheck(headers: Record<string, string>): Promise<void> {
    const before = await this.takeSnapshot();
    const probe = await this.client.sendAll([
      setupRequest('PUT', devicePath('fz-probe'), iPhone('fz-probe'), headers),
      setupRequest('POST', `${devicePath('ghost-probe')}/resetPasscode`, undefined, headers),
    ]);
    expect(probe.map((o) => o.status)).toEqual([201, 404]);
    const diff = diffSnapshots(before, await this.takeSnapshot());
    const caught = unexplainedChanges(diff, expectedWrites(probe), ...CHECKED_TABLES).join('\n');
    expect(caught).toMatch(/added devices device\/fz-probe/);
    expect(caught).toMatch(/unexplained audit event: deviceCreated/);
    expect(caught).not.toMatch(/deviceNotFound/);
    expect(unexplainedChanges(diff, expectedWrites([]), ...CHECKED_TABLES).join('\n')).toMatch(
      /unexplained audit event: resetRequested \| failure \| deviceNotFound \| ghost-probe/,
    );
  }
}

/** The tables whose changes a refusal may cause (audit events; a simulated device's attempt counter). */
const CHECKED_TABLES = [STORAGE_NAMES.tables.audit, STORAGE_NAMES.tables.simulator] as const;

describe('fuzzing the HTTP API from its OpenAPI document', () => {
  let run: FuzzRun | undefined;
  let issuer: TestIssuer | undefined;
  afterAll(async () => {
    await run?.stop();
    await issuer?.stop();
  });

  it('answers every generated request: no 5xx, no dropped connection, the error shape, no write on refusal', async () => {
    const seed = fuzzSeed(process.env, () => randomInt(0, 2 ** 31 - 1));
    const total = Number(process.env.FUZZ_REQUESTS ?? 10_000);
    console.log(`fuzz: FUZZ_SEED=${seed}, ${total} requests`);
    const started = performance.now();
    const cpuAtStart = process.cpuUsage();
    const random = seededRandom(seed);
    run = await FuzzRun.start(random);
    const { tally, document } = run;
    const world = await run.setUp(seed);

    // AUTH_MODE=none (every caller is the local developer with every role): most of the run.
    const junkAuthorization = ['Bearer', 'Bearer junk', 'Basic dXNlcjpwYXNz', 'Bearer caf\u00e9', ''];
    const none = new RequestFactory(document.operations, random, world, { bad: junkAuthorization }, API);
    while (tally.requests < total - Math.ceil(total * ENTRA_SHARE)) await run.round(none, world);
    const noneSeconds = (performance.now() - started) / 1000;

    // AUTH_MODE=entra: the same traffic with a valid token as the base, and bad Authorization headers as a mutation.
    issuer = await startTestIssuer();
    await run.restart({ ...NO_WORKER, ...issuer.settings });
    const admin = `Bearer ${await issuer.token({ roles: ALL_ROLES, oid: 'oid-fuzz-admin', preferred_username: 'admin@contoso.com' })}`;
    const auth: AuthOptions = { admin, bad: await badAuthorizations(issuer) };
    const entra = new RequestFactory(document.operations, random, world, auth, API);
    do await run.round(entra, world);
    while (tally.requests < total);
    await run.probeStorageCheck({ Authorization: admin });

    const cpu = process.cpuUsage(cpuAtStart);
    const cpuSeconds = ((cpu.user + cpu.system) / 1e6).toFixed(1);
    console.log(
      `${tally.summary(seed, (performance.now() - started) / 1000)}\n` +
        `  (AUTH_MODE=none part: ${noneSeconds.toFixed(1)} s; this process used ${cpuSeconds} s of CPU)`,
    );

    const list = (items: string[]) =>
      `${items.length}, replay with FUZZ_SEED=${seed}:\n${items.slice(0, 10).join('\n')}`;
    expect(tally.serverErrors, list(tally.serverErrors)).toEqual([]);
    expect(tally.resets, list(tally.resets)).toEqual([]);
    expect(tally.transport, list(tally.transport)).toEqual([]);
    expect(tally.shapes, list(tally.shapes)).toEqual([]);
    expect(tally.acceptedInvalid, list(tally.acceptedInvalid)).toEqual([]);
    expect(tally.storage, list(tally.storage)).toEqual([]);
    // The run did what it claims: its length, answers of every kind, and writes the storage check had to account for.
    expect(tally.requests).toBeGreaterThanOrEqual(total);
    expect(tally.count(200, 300)).toBeGreaterThan(0);
    expect(tally.count(400, 500)).toBeGreaterThan(total / 2);
    expect(tally.statuses.get(401)).toBeGreaterThan(0);
    expect(tally.checkedBatches).toBeGreaterThan(0);
    expect([...tally.accounted.keys()]).toEqual(
      expect.arrayContaining(['resetRequested deviceNotFound', 'resetRequested actionInProgress']),
    );
  }, 900_000);
});
