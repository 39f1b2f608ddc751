import { TableServiceClient } from '@azure/data-tables';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_NAMES } from '../../lib/deps';
import { call, pollLikeLogicApps, type Stack, startStack } from './stack';

describe('reset passcode end to end over HTTP on the local host', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('creates its tables and queues at start-up on an empty storage account', async () => {
    const cs = stack.azurite.connectionString;
    const tables: string[] = [];
    for await (const t of TableServiceClient.fromConnectionString(cs, { allowInsecureConnection: true }).listTables()) {
      if (t.name) tables.push(t.name);
    }
    const queues: string[] = [];
    for await (const q of QueueServiceClient.fromConnectionString(cs).listQueues()) queues.push(q.name);
    expect(tables).toEqual(expect.arrayContaining(Object.values(STORAGE_NAMES.tables)));
    expect(queues).toEqual(expect.arrayContaining([STORAGE_NAMES.queue, STORAGE_NAMES.poisonQueue]));
  });

  it('registers a device, resets it, follows Location to done, and the passcode unlocks the device', async () => {
    const device = `e2e-ios-${Date.now()}`;
    const put = await call(`${stack.api}/deviceManagement/managedDevices/${device}`, {
      method: 'PUT',
      json: {
        deviceName: 'E2E iPhone',
        operatingSystem: 'iOS',
        osVersion: '17.5',
        userPrincipalName: 'ana@contoso.com',
        passcodePolicy: { minLength: 6, characters: 'numeric', complex: true },
      },
    });
    expect(put.status).toBe(201);
    expect(put.body.resetPasscodeSupport).toEqual({ supported: true });

    const accepted = await call(`${stack.api}/deviceManagement/managedDevices/${device}/resetPasscode`, {
      method: 'POST',
      json: { reason: 'user locked out, ticket 4411' },
    });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ deviceId: device, actionName: 'resetPasscode', actionState: 'pending' });
    expect(accepted.body.passcode).toBeUndefined();
    const location = accepted.headers.get('location');
    expect(location).toMatch(
      new RegExp(
        `^http://127\\.0\\.0\\.1:\\d+/api/deviceManagement/managedDevices/${device}/deviceActionResults/${accepted.body.id}\\?sig=`,
      ),
    );
    expect(accepted.headers.get('operation-location')).toBe(location);
    expect(Number(accepted.headers.get('retry-after'))).toBeGreaterThan(0);

    const { final } = await pollLikeLogicApps(accepted);
    expect(final.status).toBe(200);
    expect(final.body.actionState).toBe('done');
    expect(final.body.reason).toBe('user locked out, ticket 4411');
    expect(final.body.passcode).toMatch(/^\d{6}$/);
    expect(final.headers.get('cache-control')).toBe('no-store');
    expect(new Date(final.body.passcodeExpirationDateTime).getTime()).toBeGreaterThan(Date.now() + 167 * 3600_000);

    const unlock = (passcode: string) =>
      call(`${stack.api}/simulator/managedDevices/${device}/unlock`, { method: 'POST', json: { passcode } });
    expect((await unlock(final.body.passcode)).status).toBe(200);
    const wrong = String((Number(final.body.passcode) + 1) % 1_000_000).padStart(6, '0');
    const refused = await unlock(wrong);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('wrongPasscode');

    const overview = await call(`${stack.api}/deviceManagement/managedDevices/${device}`);
    expect(overview.body.lastResetPasscode).toMatchObject({
      id: accepted.body.id,
      actionState: 'done',
      passcode: final.body.passcode,
    });

    const all = await call(`${stack.api}/deviceManagement/deviceActionResults?actionState=done`);
    expect(all.body.value.map((a: { id: string }) => a.id)).toContain(accepted.body.id);
  });
});
