import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_NAMES } from '../../lib/deps';
import { call, type Stack, startStack } from './stack';

const iPhone = { deviceName: 'iPhone', operatingSystem: 'iOS', osVersion: '17.5' };

describe('reset requests over HTTP: races, idempotency and bad input', () => {
  let stack: Stack;
  let api: string;
  // Slow devices keep actions in flight long enough for the race and repeat checks.
  beforeAll(async () => {
    stack = await startStack({ SIMULATOR_LATENCY_MS: '1500' });
    api = stack.api;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const putDevice = async (id: string, body: object = iPhone) => {
    const response = await call(`${api}/deviceManagement/managedDevices/${id}`, { method: 'PUT', json: body });
    expect([200, 201]).toContain(response.status);
  };
  const reset = (id: string, init: { json?: unknown; headers?: Record<string, string> } = {}) =>
    call(`${api}/deviceManagement/managedDevices/${id}/resetPasscode`, { method: 'POST', ...init });

  /** Every entity and queue message in storage, to prove a rejected request wrote nothing. */
  async function storageSnapshot(): Promise<string> {
    const cs = stack.azurite.connectionString;
    const parts: string[] = [];
    for (const name of Object.values(STORAGE_NAMES.tables)) {
      const client = TableClient.fromConnectionString(cs, name, { allowInsecureConnection: true });
      for await (const e of client.listEntities()) parts.push(`${name}:${e.partitionKey}/${e.rowKey}/${e.etag}`);
    }
    const queue = new QueueClient(cs, STORAGE_NAMES.queue);
    const props = await queue.getProperties();
    parts.push(`queue:${props.approximateMessagesCount}`);
    return parts.sort().join('\n');
  }

  it('20 parallel resets of one device create exactly one action; the rest get 409 pointing at it, unsigned', async () => {
    await putDevice('race-1');
    const responses = await Promise.all(Array.from({ length: 20 }, () => reset('race-1')));
    const accepted = responses.filter((r) => r.status === 202);
    const conflicts = responses.filter((r) => r.status === 409);
    expect(accepted).toHaveLength(1);
    expect(conflicts).toHaveLength(19);
    const id = accepted[0]?.body.id;
    for (const c of conflicts) {
      expect(c.body.error.code).toBe('actionInProgress');
      // Another caller's action: the Location names it but carries no signed link (they need their own credentials).
      expect(c.headers.get('location')).toMatch(new RegExp(`/deviceActionResults/${id}$`));
    }
    const list = await call(`${api}/deviceManagement/managedDevices/race-1/deviceActionResults`);
    expect(list.body.value).toHaveLength(1);
  });

  it('the same Idempotency-Key twice returns the same action and enqueues once; another body gets 422', async () => {
    await putDevice('idem-1');
    const headers = { 'Idempotency-Key': 'ticket-4411' };
    const first = await reset('idem-1', { headers, json: { reason: 'locked out' } });
    const second = await reset('idem-1', { headers, json: { reason: 'locked out' } });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('location')?.split('?')[0]).toBe(first.headers.get('location')?.split('?')[0]);
    const list = await call(`${api}/deviceManagement/managedDevices/idem-1/deviceActionResults`);
    expect(list.body.value).toHaveLength(1);

    const reused = await reset('idem-1', { headers, json: { reason: 'something else' } });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotencyKeyReused');
    await putDevice('idem-2');
    const otherDevice = await reset('idem-2', { headers, json: { reason: 'locked out' } });
    expect(otherDevice.status).toBe(422);
  });

  it('unknown device: 404 deviceNotFound; unsupported platform: 422 with the reason', async () => {
    const missing = await reset('no-such-device');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('deviceNotFound');
    await putDevice('android-7', { deviceName: 'Pixel', operatingSystem: 'Android', osVersion: '7.0' });
    const unsupported = await reset('android-7');
    expect(unsupported.status).toBe(422);
    expect(unsupported.body.error.code).toBe('platformNotSupported');
    expect(unsupported.body.error.message).toMatch(/Android 7/);
  });

  const badRequests: Array<[string, () => Promise<{ status: number; body: any }>]> = [
    ['a device id with an encoded slash', () => reset('bad%2Fid')],
    ['a device id with an encoded backslash', () => reset('bad%5Cid')],
    ['a device id with an encoded #', () => reset('bad%23id')],
    ['a device id with an encoded ?', () => reset('bad%3Fid')],
    ['a device id with a control character', () => reset('bad%01id')],
    ['an over-long device id', () => reset('x'.repeat(129))],
    ['an unknown body field', () => reset('race-1', { json: { reason: 'x', force: true } })],
    ['an over-long reason', () => reset('race-1', { json: { reason: 'x'.repeat(501) } })],
    ['a reason with control characters', () => reset('race-1', { json: { reason: 'a\u0007b' } })],
    [
      'broken JSON',
      () =>
        call(`${api}/deviceManagement/managedDevices/race-1/resetPasscode`, {
          method: 'POST',
          body: '{"reason":',
          headers: { 'Content-Type': 'application/json' },
        }),
    ],
    [
      'a wrong content type',
      () =>
        call(`${api}/deviceManagement/managedDevices/race-1/resetPasscode`, {
          method: 'POST',
          body: 'reason=x',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        }),
    ],
    ['a non-ASCII Idempotency-Key', () => reset('race-1', { headers: { 'Idempotency-Key': 'k\u00e9y' } })],
    [
      'a device with an unknown operating system',
      () =>
        call(`${api}/deviceManagement/managedDevices/new-1`, {
          method: 'PUT',
          json: { ...iPhone, operatingSystem: 'Symbian' },
        }),
    ],
    [
      'a device with a non-numeric version',
      () =>
        call(`${api}/deviceManagement/managedDevices/new-1`, { method: 'PUT', json: { ...iPhone, osVersion: '17.x' } }),
    ],
    ['a $top out of range', () => call(`${api}/deviceManagement/deviceActionResults?$top=1000`)],
    ['a forged $skipToken', () => call(`${api}/deviceManagement/deviceActionResults?$skipToken=Zm9v`)],
  ];

  /** Waits until no action is in flight, so that only the request under test could change storage. */
  async function settle() {
    for (let i = 0; i < 100; i++) {
      const pending = await call(`${api}/deviceManagement/deviceActionResults?actionState=pending`);
      const active = await call(`${api}/deviceManagement/deviceActionResults?actionState=active`);
      if (pending.body.value.length === 0 && active.body.value.length === 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('actions stayed in flight');
  }

  it.each(badRequests)('%s gets 400 in the docs/API.md error shape and writes nothing', async (_name, send) => {
    await settle();
    const before = await storageSnapshot();
    const response = await send();
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalidRequest');
    expect(typeof response.body.error.message).toBe('string');
    expect(response.body.error.innerError['request-id']).toBeTruthy();
    expect(await storageSnapshot()).toBe(before);
  });

  it('refuses a body over 64 KiB with 413 payloadTooLarge and writes nothing', async () => {
    await settle();
    const before = await storageSnapshot();
    const response = await reset('race-1', { json: { reason: 'x'.repeat(70_000) } });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('payloadTooLarge');
    expect(await storageSnapshot()).toBe(before);
  });

  it('host-level 404 and 405 use the same error shape', async () => {
    const notFound = await call(`${api}/nothing/here`);
    expect(notFound.status).toBe(404);
    expect(notFound.body.error.code).toBeTruthy();
    const notAllowed = await call(`${api}/deviceManagement/resetPasscode/supportMatrix`, { method: 'PATCH' });
    expect(notAllowed.status).toBe(405);
    expect(notAllowed.body.error.code).toBeTruthy();
  });
});
