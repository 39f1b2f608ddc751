import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../tools/azurite';
import { type SpawnedHost, spawnHost } from '../../tools/host/spawnHost';
import { type FaultyStorageProxy, startFaultyStorageProxy } from '../support/faultyStorageProxy';
import { call, type JsonResponse, testSettings } from './stack';

// Storage that commits a write and loses its answer (docs/DESIGN.md invariant 9). Every storage request of the app, of
// its workers and of the local host's queue listener goes through a proxy that, per request and with a seeded
// probability, forwards it and drops the answer, forwards it and never answers, answers 503 without forwarding, or
// forwards it only after the client's per-try deadline. The listener's polls (Get Messages) are spared: a poll that
// hangs stalls a listener for the storage client's 100 s network timeout, here as in Azure, which would measure
// waiting, not correctness; the listener's deletes and lease renewals are not spared. Clients retry as Logic Apps does (5xx and connection errors,
// the same Idempotency-Key). Then the faults stop and everything is checked: one action per key, every action
// terminal, the shown passcode unlocks the device, no 500, the daily limit counted once per action.

const DEVICES = 150;
const RESETS_PER_DEVICE = 2;
const PARALLEL_DEVICES = 25;
const SEED = Number(process.env.STORAGE_FAULTS_SEED ?? 20261207);
const RATES = { drop: 0.02, hang: 0.01, unavailable: 0.02, late: 0.01 };

interface Counts {
  statuses: Record<number, number>;
  connectionErrors: number;
  retries: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('storage faults: 300 resets while 6% of storage requests lose their answer', () => {
  let azurite: Azurite;
  let proxy: FaultyStorageProxy;
  let host: SpawnedHost;
  let api: string;
  const counts: Counts = { statuses: {}, connectionErrors: 0, retries: 0 };

  beforeAll(async () => {
    azurite = await startAzurite();
    // Faults from the start: the host's own start-up (tables, queues) goes through them too.
    proxy = await startFaultyStorageProxy({
      azuriteConnectionString: azurite.connectionString,
      seed: SEED,
      rates: RATES,
      only: (request) =>
        !(request.service === 'queue' && request.method === 'GET' && request.path.endsWith('/messages')),
    });
    host = await spawnHost({
      appDir: process.cwd(),
      port: 0,
      env: testSettings({
        AzureWebJobsStorage: proxy.connectionString,
        MAX_RESETS_PER_DEVICE_PER_DAY: String(RESETS_PER_DEVICE),
        // The sweeper repairs what the faults leave behind (a lost enqueue): look sooner than the default 120 s.
        STUCK_AFTER_SECONDS: '10',
      }),
    });
    api = `${host.url}/api`;
  }, 120_000);

  afterAll(async () => {
    await host?.stop();
    await proxy?.stop();
    await azurite?.stop();
  });

  /** A client that retries as Logic Apps does: 5xx and connection errors, after Retry-After or a backoff. */
  async function send(url: string, init: RequestInit & { json?: unknown } = {}): Promise<JsonResponse> {
    for (let attempt = 0; ; attempt++) {
      let response: JsonResponse | undefined;
      try {
        response = await call(url, init);
        counts.statuses[response.status] = (counts.statuses[response.status] ?? 0) + 1;
        if (response.status < 500) return response;
      } catch {
        counts.connectionErrors++;
      }
      if (attempt >= 15) throw new Error(`${init.method ?? 'GET'} ${url} kept failing`);
      counts.retries++;
      const retryAfter = Number(response?.headers.get('retry-after') ?? Number.NaN);
      await sleep((Number.isFinite(retryAfter) ? retryAfter : Math.min(8, 2 ** attempt)) * 1000);
    }
  }

  async function untilTerminal(deviceId: string, actionId: string) {
    let last: unknown;
    for (let poll = 0; poll < 240; poll++) {
      const status = await send(`${api}/deviceManagement/managedDevices/${deviceId}/deviceActionResults/${actionId}`);
      if (status.status === 200) return status.body;
      last = status.body;
      await sleep(1000);
    }
    const logs = host
      .logs()
      .split('\n')
      .filter((line) => line.includes(actionId));
    throw new Error(`${actionId} never ended: ${JSON.stringify(last)}\n${logs.join('\n')}`);
  }

  /** What each Idempotency-Key was answered (every 202 of its retries), and how each action ended. */
  const answered = new Map<string, Set<string>>();
  const outcomes = new Map<string, { deviceId: string; actionState: string; errorCode?: string; unlocked?: boolean }>();
  const thirdAnswers: number[] = [];

  async function resetsOf(deviceId: string) {
    const put = await send(`${api}/deviceManagement/managedDevices/${deviceId}`, {
      method: 'PUT',
      json: { deviceName: `Faulty ${deviceId}`, operatingSystem: 'iOS', osVersion: '17.5' },
    });
    expect([200, 201]).toContain(put.status);
    for (let round = 1; round <= RESETS_PER_DEVICE; round++) {
      const key = `${deviceId}-reset-${round}`;
      const ids = answered.get(key) ?? new Set<string>();
      answered.set(key, ids);
      const accepted = await send(`${api}/deviceManagement/managedDevices/${deviceId}/resetPasscode`, {
        method: 'POST',
        json: { reason: `round ${round}` },
        headers: { 'Idempotency-Key': key },
      });
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
      ids.add(accepted.body.id);
      // A second send of the same request (the automation's own repeat) names the same action.
      const repeat = await send(`${api}/deviceManagement/managedDevices/${deviceId}/resetPasscode`, {
        method: 'POST',
        json: { reason: `round ${round}` },
        headers: { 'Idempotency-Key': key },
      });
      expect(repeat.status).toBe(202);
      ids.add(repeat.body.id);
      const final = await untilTerminal(deviceId, accepted.body.id);
      const outcome: { deviceId: string; actionState: string; errorCode?: string; unlocked?: boolean } = {
        deviceId,
        actionState: final.actionState,
        ...(final.error && { errorCode: final.error.code }),
      };
      if (final.passcode) {
        // The shown passcode is the one the device holds now: its lock screen takes it.
        const unlock = await send(`${api}/simulator/managedDevices/${deviceId}/unlock`, {
          method: 'POST',
          json: { passcode: final.passcode },
        });
        outcome.unlocked = unlock.status === 200;
      }
      outcomes.set(accepted.body.id, outcome);
    }
    // The daily limit counts each accepted action once, whatever the retries: the next request is refused.
    const third = await send(`${api}/deviceManagement/managedDevices/${deviceId}/resetPasscode`, {
      method: 'POST',
      headers: { 'Idempotency-Key': `${deviceId}-reset-3` },
    });
    thirdAnswers.push(third.status);
  }

  it('every key maps to one action, every action ends and shows what the device got, no 500, the limit holds', async () => {
    const started = Date.now();
    const devices = Array.from({ length: DEVICES }, (_, i) => `faulty-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < devices.length; i += PARALLEL_DEVICES) {
      await Promise.all(devices.slice(i, i + PARALLEL_DEVICES).map(resetsOf));
    }
    const faultyPhase = proxy.stats();
    proxy.setRates({ drop: 0, hang: 0, unavailable: 0, late: 0 });

    // Each device has exactly the actions its keys were answered with: no key made a second one.
    for (const deviceId of devices) {
      const list = await send(`${api}/deviceManagement/managedDevices/${deviceId}/deviceActionResults`);
      const stored = (list.body.value as { id: string }[]).map((a) => a.id).sort();
      const keyed = [1, 2].map((round) => [...(answered.get(`${deviceId}-reset-${round}`) ?? [])]);
      expect(keyed.every((ids) => ids.length === 1)).toBe(true);
      expect(stored).toEqual(keyed.flat().sort());
    }
    const states: Record<string, number> = {};
    for (const outcome of outcomes.values()) {
      const label = outcome.errorCode ? `${outcome.actionState}:${outcome.errorCode}` : outcome.actionState;
      states[label] = (states[label] ?? 0) + 1;
    }
    // A done action's passcode is the device's; an outcomeUnknown one's may be (it is shown because it may be).
    const shown = [...outcomes.values()].filter((o) => o.actionState === 'done');
    const poisoned = host
      .logs()
      .split('\n')
      .filter((line) => line.includes('undelivered reset'));
    console.log(
      `storage faults (seed ${SEED}): ${faultyPhase.requests} storage requests, faults ${JSON.stringify(faultyPhase.faults)} ` +
        `(${((100 * Object.values(faultyPhase.faults).reduce((a, b) => a + b, 0)) / faultyPhase.requests).toFixed(1)}%); ` +
        `${outcomes.size} actions ${JSON.stringify(states)}; client answers ${JSON.stringify(counts.statuses)}, ` +
        `${counts.connectionErrors} connection errors, ${counts.retries} retries; poison deliveries ${poisoned.length}` +
        `${poisoned.length ? `: ${poisoned.join(' | ')}` : ''}; ${Math.round((Date.now() - started) / 1000)} s`,
    );

    expect(outcomes.size).toBe(DEVICES * RESETS_PER_DEVICE);
    const faults = Object.values(faultyPhase.faults).reduce((a, b) => a + b, 0);
    expect(faults / faultyPhase.requests).toBeGreaterThanOrEqual(0.05);
    expect(counts.statuses[500] ?? 0).toBe(0);
    // Every action ended, and every one that shows a passcode unlocks its device with it.
    expect(
      [...outcomes.values()].every((o) => ['done', 'failed', 'notSupported', 'canceled'].includes(o.actionState)),
    ).toBe(true);
    expect(shown.length).toBeGreaterThan(DEVICES);
    expect(shown.every((o) => o.unlocked)).toBe(true);
    expect(thirdAnswers).toEqual(devices.map(() => 429));
  }, 900_000);
});
