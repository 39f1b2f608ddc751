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
import { readApiDocument } from './fuzz/openapi';
import { fuzzSeed, type Random, seededRandom } from './fuzz/random';
import {
  type AuthOptions,
  burstable,
  type FixedDevices,
  type FuzzRequest,
  RequestFactory,
  type World,
} from './fuzz/requests';
import { type Stack, startStack } from './stack';

// Drives the app as a hostile or careless client would: requests generated from the served OpenAPI document, valid
// first, then broken on purpose, through 8 keep-alive connections. Whatever comes in, the app must answer (no 5xx, no
// dropped connection under a body within the 64 KiB limit), every 4xx must have the API.md error shape, and a refused
// request must write nothing but the audit events docs/api.md documents. FUZZ_SEED replays a run; FUZZ_REQUESTS
// changes its length (default 10,000).

const VALID_BATCH = 40;
const REFUSAL_BATCH = 300;
const REFUSAL_BATCHES_PER_ROUND = 3;
/** Share of a refusal batch that is valid-looking requests the contract refuses (404, 409, 422, 429, 403). */
const REFUSED_SHARE = 0.12;
/** Share of the run sent to a host in AUTH_MODE=entra, to fuzz the Authorization header. */
const ENTRA_SHARE = 0.1;
/** Now and then a request goes out this many times at once, as an impatient client retries it (races on one id). */
const BURST = 8;

// Only the HTTP surface is under test: the queue worker (in the fuzzing phases) and the sweeper are off, so nothing
// but the requests themselves writes to storage and a snapshot before and after a batch tells exactly what it wrote.
const QUIET = {
  'AzureWebJobs.sweepDeviceActions.Disabled': 'true',
  // The simulated devices' passcode verifier: cheap here, the run measures the HTTP surface, not scrypt.
  SIMULATOR_VERIFIER_COST: '1024',
  // Two log lines per invocation cost a third of the host's time; warnings and errors (a 500's log) still show.
  AzureFunctionsJobHost__logging__logLevel__default: 'Warning',
};
const NO_WORKER = {
  'AzureWebJobs.resetPasscodeWorker.Disabled': 'true',
  'AzureWebJobs.resetPasscodePoison.Disabled': 'true',
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

  constructor(private readonly checkShape: (outcome: Outcome) => string | undefined) {}

  /** How often each kind of change was made (the notes, without their details). */
  readonly mutations = new Map<string, number>();
  /** The slowest answers, to see where a slow run spends its time. */
  readonly slowest: Outcome[] = [];

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
      `  storage: ${this.checkedBatches} refusal batches checked (${this.allRefusedBatches} all 4xx) in ${this.snapshotSeconds.toFixed(1)} s of snapshots, ${this.storage.length} unexplained changes; documented writes matched: ${[...this.accounted].map(([k, n]) => `${k} ${n}`).join(', ')}`,
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
    headers: json === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
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

describe('fuzzing the HTTP API from its OpenAPI document', () => {
  let stack: Stack | undefined;
  let issuer: TestIssuer | undefined;
  let client: FuzzClient | undefined;
  afterAll(async () => {
    client?.close();
    await stack?.stop();
    await issuer?.stop();
  });

  it('answers every generated request: no 5xx, no dropped connection, the error shape, no write on refusal', async () => {
    const seed = fuzzSeed(process.env, () => randomInt(0, 2 ** 31 - 1));
    const total = Number(process.env.FUZZ_REQUESTS ?? 10_000);
    const random: Random = seededRandom(seed);
    console.log(`fuzz: FUZZ_SEED=${seed}, ${total} requests`);
    const started = performance.now();
    const cpuAtStart = process.cpuUsage();

    // Set-up, with the worker on: devices whose answers are known, two finished resets with their passcodes.
    stack = await startStack(QUIET);
    const cs = stack.azurite.connectionString;
    let port = Number(new URL(stack.host.url).port);
    client = new FuzzClient('127.0.0.1', port);
    const setUpOutcomes: Outcome[] = [];
    const one = async (method: string, target: string, json?: unknown, headers?: Record<string, string>) => {
      const [outcome] = await (client as FuzzClient).sendAll([setupRequest(method, target, json, headers)]);
      setUpOutcomes.push(outcome as Outcome);
      return { outcome: outcome as Outcome, status: outcome?.status, body: outcome?.json as any };
    };
    const documentAnswer = await one('GET', `${API}/openapi.json`);
    expect(documentAnswer.status).toBe(200);
    const document = readApiDocument(documentAnswer.body);
    const tally = new Tally(errorShapeChecker(document.errorBody));

    const iPhone = (id: string) => ({ deviceName: `Fuzz ${id}`, operatingSystem: 'iOS', osVersion: '17.5' });
    const unsupported: [string, string, string][] = [
      ['fx-windows', 'Windows', '10.0.19045'],
      ['fx-macos', 'macOS', '14.5'],
      ['fx-afw', 'AndroidForWork', '13'],
      ['fx-android7', 'Android', '7.0'],
      ['fx-wp80', 'WindowsPhone', '8.0'],
    ];
    for (const id of ['fx-done-1', 'fx-done-2', 'fx-held', 'fx-limited']) {
      expect((await one('PUT', devicePath(id), iPhone(id))).status).toBe(201);
    }
    for (const [id, operatingSystem, osVersion] of unsupported) {
      expect((await one('PUT', devicePath(id), { deviceName: id, operatingSystem, osVersion })).status).toBe(201);
    }
    const passcodes = new Map<string, string>();
    const finishedActions: FixedDevices['finishedActions'] = [];
    for (const id of ['fx-done-1', 'fx-done-2']) {
      const accepted = await one('POST', `${devicePath(id)}/resetPasscode`, { reason: 'fuzz set-up' });
      expect(accepted.status).toBe(202);
      let status = accepted;
      for (let i = 0; i < 100 && status.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await one('GET', `${devicePath(id)}/deviceActionResults/${accepted.body.id}`);
      }
      expect(status.body).toMatchObject({ actionState: 'done', passcode: expect.any(String) });
      passcodes.set(id, status.body.passcode);
      finishedActions.push({ deviceId: id, actionId: accepted.body.id });
    }
    const unlocked = await one('POST', `${API}/simulator/managedDevices/fx-done-1/unlock`, {
      passcode: passcodes.get('fx-done-1'),
    });
    expect(unlocked.status).toBe(200);

    // From here on the worker is off: a pending action stays pending, so 409 and 429 are certain.
    const restart = async (settings: Record<string, string>) => {
      client?.close();
      await stack?.host.stop();
      const host = await spawnHost({ appDir: process.cwd(), env: { ...stack?.env, ...settings }, port: 0 });
      if (stack) stack.host = host;
      port = Number(new URL(host.url).port);
      client = new FuzzClient('127.0.0.1', port);
    };
    await restart(NO_WORKER);
    const usedKey = { key: `fuzz-key-${seed}`, deviceId: 'fx-held' };
    const held = await one('POST', `${devicePath('fx-held')}/resetPasscode`, {}, { 'Idempotency-Key': usedKey.key });
    expect(held.status).toBe(202);
    const heldActions = new Map([[held.body.id as string, 'fx-held']]);
    for (let i = 0; i < 10; i++) {
      const accepted = await one('POST', `${devicePath('fx-limited')}/resetPasscode`);
      expect(accepted.status).toBe(202);
      expect((await one('DELETE', `${devicePath('fx-limited')}/deviceActionResults/${accepted.body.id}`)).status).toBe(
        200,
      );
      finishedActions.push({ deviceId: 'fx-limited', actionId: accepted.body.id });
    }
    expect((await one('POST', `${devicePath('fx-limited')}/resetPasscode`)).status).toBe(429);
    tally.record(setUpOutcomes);

    const fixed: FixedDevices = {
      held: 'fx-held',
      limited: 'fx-limited',
      unsupported: unsupported.map(([id]) => id),
      done: ['fx-done-1', 'fx-done-2'],
      finishedActions,
      usedKey,
    };
    const world: World = {
      fixed,
      pool: [],
      actions: new Map([...heldActions, ...finishedActions.map((a) => [a.actionId, a.deviceId] as [string, string])]),
      poolActions: new Map(),
      skipTokens: new Map(),
      statusLinks: [],
      passcodes,
    };

    const snap = async () => {
      const start = performance.now();
      const taken = await takeSnapshot(cs);
      tally.snapshotSeconds += (performance.now() - start) / 1000;
      return taken;
    };
    let snapshot: Snapshot = await snap();
    let batchNumber = 0;
    /** `size` requests from `make`, some in bursts: the 8 connections send a burst's copies at the same time. */
    const batchOf = (size: number, burstChance: number, make: () => FuzzRequest) => {
      const batch: FuzzRequest[] = [];
      while (batch.length < size) {
        const request = make();
        const copies = burstable(request) && random.chance(burstChance) ? BURST : 1;
        for (let i = 0; i < copies; i++) batch.push(request);
      }
      return batch;
    };
    const runRound = async (factory: RequestFactory) => {
      const valid = await (client as FuzzClient).sendAll(batchOf(VALID_BATCH, 0.05, () => factory.valid()));
      tally.record(valid);
      learn(world, valid);
      snapshot = await snap();
      for (let b = 0; b < REFUSAL_BATCHES_PER_ROUND; b++) {
        batchNumber++;
        const requests = batchOf(REFUSAL_BATCH, 0.02, () =>
          random.chance(REFUSED_SHARE) ? factory.refused() : factory.mutated(),
        );
        const outcomes = await (client as FuzzClient).sendAll(requests);
        tally.record(outcomes);
        for (const o of outcomes) {
          const ok = o.status !== undefined && o.status < 300;
          // A write that succeeded, or a refusal that did not happen: an invalid request got through.
          if (
            (ok && o.request.method !== 'GET') ||
            (o.request.shape === 'refused' && o.status !== undefined && o.status < 400)
          )
            tally.acceptedInvalid.push(describeOutcome(o));
        }
        const after = await snap();
        const expected = expectedWrites(outcomes);
        const problems = unexplainedChanges(
          diffSnapshots(snapshot, after),
          expected,
          STORAGE_NAMES.tables.audit,
          STORAGE_NAMES.tables.simulator,
        );
        const first = outcomes[0]?.index ?? 0;
        tally.storage.push(
          ...problems.map((p) => `batch ${batchNumber} (#${first}-#${first + outcomes.length - 1}): ${p}`),
        );
        tally.checkedBatches++;
        if (outcomes.every((o) => o.status !== undefined && o.status >= 400 && o.status < 500))
          tally.allRefusedBatches++;
        for (const event of expected.events) {
          const [type, , detail] = event.split(' | ');
          const kind = `${type}${detail ? ` ${detail}` : ''}`;
          tally.accounted.set(kind, (tally.accounted.get(kind) ?? 0) + 1);
        }
        snapshot = after;
      }
    };

    // AUTH_MODE=none (every caller is the local developer with every role): most of the run.
    const noneFactory = new RequestFactory(
      document.operations,
      random,
      world,
      {
        bad: ['Bearer', 'Bearer junk', 'Basic dXNlcjpwYXNz', `Bearer caf\u00e9`, ''],
      },
      API,
    );
    const noneTarget = total - Math.ceil(total * ENTRA_SHARE);
    while (tally.requests < noneTarget) await runRound(noneFactory);
    const noneSeconds = (performance.now() - started) / 1000;

    // AUTH_MODE=entra: the same traffic with a valid token as the base, and bad Authorization headers as a mutation.
    issuer = await startTestIssuer();
    await restart({ ...NO_WORKER, ...issuer.settings });
    const auth: AuthOptions = {
      admin: `Bearer ${await issuer.token({ roles: ALL_ROLES, oid: 'oid-fuzz-admin', preferred_username: 'admin@contoso.com' })}`,
      bad: await badAuthorizations(issuer),
    };
    const entraFactory = new RequestFactory(document.operations, random, world, auth, API);
    snapshot = await snap();
    while (tally.requests < total) await runRound(entraFactory);

    // The storage check is real: it reports a write that succeeded, and a refusal's audit event nobody accounted for.
    const beforeProbe = await snap();
    const asAdmin = { Authorization: auth.admin ?? '' };
    const probe = await client.sendAll([
      setupRequest('PUT', devicePath('fz-probe'), iPhone('fz-probe'), asAdmin),
      setupRequest('POST', `${devicePath('ghost-probe')}/resetPasscode`, undefined, asAdmin),
    ]);
    expect(probe.map((o) => o.status)).toEqual([201, 404]);
    const probeDiff = diffSnapshots(beforeProbe, await snap());
    const tables = [STORAGE_NAMES.tables.audit, STORAGE_NAMES.tables.simulator] as const;
    const caught = unexplainedChanges(probeDiff, expectedWrites(probe), ...tables).join('\n');
    expect(caught).toMatch(/added devices device\/fz-probe/);
    expect(caught).toMatch(/unexplained audit event: deviceCreated/);
    expect(caught).not.toMatch(/deviceNotFound/);
    expect(unexplainedChanges(probeDiff, expectedWrites([]), ...tables).join('\n')).toMatch(
      /unexplained audit event: resetRequested \| failure \| deviceNotFound \| ghost-probe/,
    );

    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    console.log(
      `${tally.summary(seed, seconds)}\n  (AUTH_MODE=none part: ${noneSeconds.toFixed(1)} s; this process used ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s of CPU)`,
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
    const count = (from: number, to: number) =>
      [...tally.statuses].filter(([s]) => s >= from && s < to).reduce((n, [, c]) => n + c, 0);
    expect(count(200, 300)).toBeGreaterThan(0);
    expect(count(400, 500)).toBeGreaterThan(total / 2);
    expect(tally.statuses.get(401)).toBeGreaterThan(0);
    expect(tally.accounted.size).toBeGreaterThan(0);
    expect(tally.allRefusedBatches).toBeGreaterThan(0);
  }, 600_000);
});
