import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_NAMES } from '../../lib/deps';
import { call, type JsonResponse, type Stack, startStack } from './stack';

const DEVICES = 60;
const OUTAGE_MS = 30_000;
const TERMINAL = ['done', 'failed', 'canceled', 'notSupported'];

/** A request and how long it took; a hang shows as the test's own 30 s abort. */
async function timed(url: string, init: RequestInit = {}): Promise<JsonResponse & { ms: number }> {
  const started = Date.now();
  const response = await call(url, { ...init, signal: AbortSignal.timeout(30_000) });
  return { ...response, ms: Date.now() - started };
}

// Storage freezes (Azurite SIGSTOPped) for 30 s while requests arrive and 50 resets are in flight. Callers get a fast,
// clear answer (202, or 503 with Retry-After, within 15 s); health says 503 within 3 s; when storage is back, every
// accepted action ends terminal and nothing was sent to the poison queue.
describe('a storage outage of 30 seconds', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ SIMULATOR_LATENCY_MS: '1500', STUCK_AFTER_SECONDS: '20', WORKER_LEASE_SECONDS: '10' });
    const ids = Array.from({ length: DEVICES }, (_, i) => `so-${i}`);
    await Promise.all(
      ids.map((id) =>
        call(`${stack.api}/deviceManagement/managedDevices/${id}`, {
          method: 'PUT',
          json: { deviceName: id, operatingSystem: 'iOS', osVersion: '17.5' },
        }),
      ),
    );
  });
  afterAll(async () => {
    stack?.azurite.resume();
    await stack?.stop();
  });

  it('answers fast and clearly during it, and loses nothing after it', async () => {
    const reset = (i: number) =>
      timed(`${stack.api}/deviceManagement/managedDevices/so-${i}/resetPasscode`, { method: 'POST' });
    const accepted = new Set<string>();
    const answers: Array<JsonResponse & { ms: number; what: string }> = [];
    const record = (what: string, response: JsonResponse & { ms: number }) => {
      answers.push({ ...response, what });
      if (response.status === 202 && response.body?.id) accepted.add(`${response.body.deviceId}/${response.body.id}`);
    };

    // 50 resets accepted and in flight (the devices take 1.5 s each, 16 at a time), then the freeze.
    await Promise.all(Array.from({ length: 50 }, (_, i) => reset(i).then((r) => record(`reset so-${i}`, r))));
    expect(accepted.size).toBe(50);
    stack.azurite.pause();
    const frozenAt = Date.now();

    // Requests keep arriving while storage is frozen.
    const during: Promise<void>[] = [];
    for (let i = 50; i < DEVICES; i++) {
      during.push(reset(i).then((r) => record(`reset so-${i}`, r)));
      during.push(timed(`${stack.api}/deviceManagement/deviceActionResults?$top=5`).then((r) => record('list', r)));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    }
    // Health reuses a result for 5 s: past that it must say 503 within 3 s.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, frozenAt + 6_000 - Date.now())));
    const health = await timed(`${stack.api}/health`);
    expect(health.status).toBe(503);
    expect(health.ms).toBeLessThan(3_000);
    expect(health.body).toMatchObject({ status: 'unhealthy', checks: { storage: 'unreachable' } });

    await Promise.all(during);
    const stillFrozen = Date.now() - frozenAt < OUTAGE_MS;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, frozenAt + OUTAGE_MS - Date.now())));
    stack.azurite.resume();

    expect(stillFrozen).toBe(true);
    for (const answer of answers) {
      expect(answer.ms, answer.what).toBeLessThan(15_000);
      expect([200, 202, 503], `${answer.what}: ${answer.status}`).toContain(answer.status);
      if (answer.status === 503) {
        expect(answer.body.error.code).toBe('serviceUnavailable');
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    }
    expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(0);

    // Storage is back: every accepted action ends terminal, and the poison queue stays empty.
    const deadline = Date.now() + 150_000;
    let open = [...accepted];
    while (open.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const states = await Promise.all(
        open.map(async (key) => {
          const [deviceId, actionId] = key.split('/');
          const status = await call(
            `${stack.api}/deviceManagement/managedDevices/${deviceId}/deviceActionResults/${actionId}`,
          );
          return { key, state: status.body?.actionState as string };
        }),
      );
      open = states.filter((s) => !TERMINAL.includes(s.state)).map((s) => s.key);
    }
    expect(open).toEqual([]);
    const poison = new QueueClient(stack.azurite.connectionString, STORAGE_NAMES.poisonQueue);
    const peeked = await poison.peekMessages({ numberOfMessages: 32 }).catch(() => ({ peekedMessageItems: [] }));
    expect(peeked.peekedMessageItems).toEqual([]);
    console.info(
      `storage outage: ${answers.length} answers (${answers.filter((a) => a.status === 503).length} × 503), ` +
        `${accepted.size} accepted, slowest ${Math.max(...answers.map((a) => a.ms))} ms`,
    );
  }, 240_000);
});
