import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AesGcmCipher } from '../../../lib/adapters/aesGcmCipher';
import { TableActionStore } from '../../../lib/adapters/tableActionStore';
import { ensureTable, tableClient } from '../../../lib/adapters/tableClients';
import { deviceProfile } from '../../../lib/core/model';
import type { ActionStore } from '../../../lib/ports';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { getAction } from '../../../lib/useCases/deviceActions';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import type { Services } from '../../../lib/useCases/services';
import { sweepActions } from '../../../lib/useCases/sweepActions';
import { callerWith, deviceFixture, makeTestServices } from '../../support/services';

// The use cases over the Table adapter (the other ports stay fakes): the sweeper's writes of terminal actions.
let n = 0;
const tableName = (role: string) => `f${role}${Date.now().toString(36)}${++n}`;
const admin = callerWith('Passcode.Reset', 'Passcode.Read', 'Devices.Read');
const tables: ReturnType<typeof tableClient>[] = [];
let actions: ActionStore;

beforeAll(async () => {
  const connection = inject('storageConnectionString');
  const [a, f, i] = ['act', 'aud', 'idem'].map((role) => tableClient(connection, tableName(role)));
  if (!a || !f || !i) throw new Error('no tables');
  tables.push(a, f, i);
  await Promise.all(tables.map(ensureTable));
  actions = new TableActionStore({ actions: a, audit: f, idempotency: i });
});
afterAll(async () => {
  await Promise.all(tables.map((t) => t.deleteTable()));
});

async function setup(deviceId: string) {
  const t = makeTestServices();
  const cipher = new AesGcmCipher({ currentKeyId: 'k1', keys: new Map([['k1', randomBytes(32)]]) });
  const services: Services = { ...t.services, actions, cipher };
  const device = deviceFixture({ id: deviceId });
  t.devices.devices.set(deviceId, device);
  await actions.putDeviceProfile(deviceId, deviceProfile(device));
  return { ...t, services };
}

async function resetToDone(t: Awaited<ReturnType<typeof setup>>, deviceId: string) {
  const { action } = await requestPasscodeReset(t.services, { deviceId, caller: admin });
  const message = t.queue.messages.shift();
  if (!message) throw new Error('nothing was queued');
  await expect(applyPasscodeReset(t.services, message)).resolves.toBe('done');
  return action.id;
}

describe('reset flow on Table Storage', () => {
  it('shows the applied passcode, then the sweeper purges it after the display window', async () => {
    const deviceId = `purge-${Date.now()}`;
    const t = await setup(deviceId);
    const actionId = await resetToDone(t, deviceId);
    const applied = t.channel.received[0]?.passcode;
    expect((await getAction(t.services, deviceId, actionId, admin)).passcode).toBe(applied);

    t.clock.advance({ hours: t.services.settings.passcodeDisplayHours, seconds: 1 });
    const report = await sweepActions(t.services);

    expect(report.purged).toBeGreaterThanOrEqual(1);
    expect((await actions.get(deviceId, actionId))?.value.sealedPasscode).toBeUndefined();
    expect(await getAction(t.services, deviceId, actionId, admin)).not.toHaveProperty('passcode');
  });

  it("purging an old passcode keeps the newer reset's guard: a third request is still refused with 409", async () => {
    const deviceId = `guard-${Date.now()}`;
    const t = await setup(deviceId);
    await resetToDone(t, deviceId);
    t.clock.advance({ hours: t.services.settings.passcodeDisplayHours, seconds: 1 });
    const { action: newer } = await requestPasscodeReset(t.services, { deviceId, caller: admin });

    await sweepActions(t.services);

    const guards = (await actions.listInFlight()).filter((g) => g.deviceId === deviceId);
    expect(guards).toEqual([expect.objectContaining({ actionId: newer.id })]);
    await expect(requestPasscodeReset(t.services, { deviceId, caller: admin })).rejects.toMatchObject({
      status: 409,
      actionId: newer.id,
    });
  });

  it('expires an abandoned pending action and releases its guard', async () => {
    const deviceId = `expire-${Date.now()}`;
    const t = await setup(deviceId);
    const { action } = await requestPasscodeReset(t.services, { deviceId, caller: admin });
    t.clock.advance({ hours: t.services.settings.actionExpiryHours, seconds: 1 });

    await sweepActions(t.services);

    expect((await actions.get(deviceId, action.id))?.value).toMatchObject({
      actionState: 'failed',
      error: { code: 'expired' },
    });
    expect((await actions.listInFlight()).filter((g) => g.deviceId === deviceId)).toEqual([]);
  });
});
