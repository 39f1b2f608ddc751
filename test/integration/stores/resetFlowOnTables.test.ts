import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AesGcmCipher } from '../../../lib/adapters/aesGcmCipher';
import { TableActionSchedule } from '../../../lib/adapters/tableActionSchedule';
import { TableActionStore } from '../../../lib/adapters/tableActionStore';
import { TableAuditLog } from '../../../lib/adapters/tableAuditLog';
import { ensureTable, tableClient } from '../../../lib/adapters/tableClients';
import { TableIdempotencyKeys } from '../../../lib/adapters/tableIdempotencyKeys';
import type { ActionSchedule, ActionStore, AuditLog, IdempotencyKeys } from '../../../lib/ports';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { getAction } from '../../../lib/useCases/deviceActions';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import type { Services } from '../../../lib/useCases/services';
import { sweepActions } from '../../../lib/useCases/sweepActions';
import { callerWith, deviceFixture, makeTestServices } from '../../support/services';

// The use cases over the Table adapters (queue and channel stay fakes): the sweeper's writes of terminal actions.
let n = 0;
const tableName = (role: string) => `f${role}${Date.now().toString(36)}${++n}`;
const admin = callerWith('Passcode.Reset', 'Passcode.Read', 'Devices.Read');
const tables: ReturnType<typeof tableClient>[] = [];
let actions: ActionStore;
let schedule: ActionSchedule;
let idempotencyKeys: IdempotencyKeys;
let audit: AuditLog;

beforeAll(async () => {
  const connection = inject('storageConnectionString');
  const [a, f, i, s] = ['act', 'aud', 'idem', 'sch'].map((role) => tableClient(connection, tableName(role)));
  if (!a || !f || !i || !s) throw new Error('no tables');
  tables.push(a, f, i, s);
  await Promise.all(tables.map(ensureTable));
  actions = new TableActionStore({ actions: a });
  schedule = new TableActionSchedule(s);
  idempotencyKeys = new TableIdempotencyKeys(i);
  audit = new TableAuditLog(f);
});
afterAll(async () => {
  await Promise.all(tables.map((t) => t.deleteTable()));
});

async function setup(deviceId: string) {
  const t = makeTestServices();
  const cipher = new AesGcmCipher({ currentKeyId: 'k1', keys: new Map([['k1', randomBytes(32)]]) });
  // The tables are shared by the tests of this file: ids must be unique across them, as they are in production.
  const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');
  const services: Services = { ...t.services, actions, schedule, idempotencyKeys, audit, cipher, randomHex };
  const device = deviceFixture({ id: deviceId });
  t.devices.devices.set(deviceId, device);
  return { ...t, services };
}

const guardOf = async (deviceId: string) => (await actions.resetContext(deviceId, new Date(0), 1)).inFlightActionId;

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

    expect(report.passcodesPurged).toBeGreaterThanOrEqual(1);
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

    expect(await guardOf(deviceId)).toBe(newer.id);
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
    expect(await guardOf(deviceId)).toBeUndefined();
  });
});
