import { randomBytes } from 'node:crypto';
import { RestError } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TableActionSchedule } from '../../../lib/adapters/tableActionSchedule';
import { TableActionStore } from '../../../lib/adapters/tableActionStore';
import { ensureTable, tableClient } from '../../../lib/adapters/tableClients';
import { TableDeviceStore } from '../../../lib/adapters/tableDeviceStore';
import { TableIdempotencyKeys } from '../../../lib/adapters/tableIdempotencyKeys';
import { TableSubscriptionStore } from '../../../lib/adapters/tableSubscriptionStore';
import { cancel as cancelPending, claim, recordCommandStatus } from '../../../lib/core/actionLifecycle';
import { PreconditionFailedError } from '../../../lib/core/errors';
import type { DeviceAction } from '../../../lib/core/model';
import type { Subscription } from '../../../lib/core/subscription';
import type { Versioned } from '../../../lib/ports';
import { actionFixture, deviceFixture, TEST_SETTINGS } from '../../support/services';

// Every store write against its own lost answer, on Azurite: the write commits and then either the answer is lost
// (the client gives up: a timeout) or the SDK's retry meets the committed first try (409, 412 or 404). The store must
// read back and call it success, never a lost race (docs/DESIGN.md invariant 9; lib/adapters/certainWrite.ts). And a
// real conflict, another writer's, must still be one.

type Loss = 'answerLost' | 'retryMeetsItself';

/**
 * A TableClient whose next call of `method` commits and then loses its answer the way `loss` says. Every other call
 * goes through untouched.
 */
function lossy(client: TableClient) {
  let armed: { method: string; loss: Loss; skip: number } | undefined;
  const proxy = new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (armed?.method !== property) return value.bind(target);
      return async (...args: unknown[]) => {
        const call = () => value.apply(target, args);
        if (armed?.method !== property) return call();
        if (armed.skip > 0) {
          armed.skip--;
          return call();
        }
        const { loss } = armed;
        armed = undefined;
        await call();
        if (loss === 'answerLost') throw new RestError('the answer never came', { code: 'ETIMEDOUT' });
        return call();
      };
    },
  });
  return {
    client: proxy as TableClient,
    /** Arms the call of `method` after the next `skip` ones. */
    next(method: keyof TableClient, loss: Loss, skip = 0) {
      armed = { method: String(method), loss, skip };
    },
  };
}

let n = 0;
const name = (role: string) => `cw${role}${Date.now().toString(36)}${++n}`;
const uniqueDevice = () => `cw-${randomBytes(6).toString('hex')}`;
const SEALED = { keyId: 'k1', value: 'c2VhbGVk' };
const at = (seconds: number) => new Date(Date.parse('2026-11-26T10:00:00.000Z') + seconds * 1000);

const tables: TableClient[] = [];
const made = async (role: string) => {
  const table = tableClient(inject('storageConnectionString'), name(role));
  await ensureTable(table);
  tables.push(table);
  return table;
};
afterAll(async () => {
  await Promise.all(tables.map((t) => t.deleteTable()));
});

describe.each<Loss>(['answerLost', 'retryMeetsItself'])('a write whose answer is lost (%s)', (loss) => {
  let actionTable: ReturnType<typeof lossy>;
  let actions: TableActionStore;
  beforeAll(async () => {
    actionTable = lossy(await made('act'));
    actions = new TableActionStore({ actions: actionTable.client });
  });

  const created = async () => {
    const action = actionFixture({ id: `a-${randomBytes(6).toString('hex')}`, deviceId: uniqueDevice() });
    const result = await actions.create(action);
    if (!result.created) throw new Error('not created');
    return { value: action, etag: result.etag } satisfies Versioned<DeviceAction>;
  };
  const claimed = async () => {
    const pending = await created();
    const decision = claim(pending.value, at(1), TEST_SETTINGS, () => SEALED, 'message-1');
    if (decision.kind !== 'move') throw new Error('no claim');
    return actions.update(decision.next, pending);
  };
  const guardOf = async (deviceId: string) => (await actions.resetContext(deviceId, new Date(0), 1)).inFlightActionId;

  it('create: the "Device actions" feed rows are written before it, and their lost answer is no failure', async () => {
    const action = actionFixture({ id: `a-${randomBytes(6).toString('hex')}`, deviceId: uniqueDevice() });
    actionTable.next('submitTransaction', loss);
    await expect(actions.create(action)).resolves.toMatchObject({ created: true });
    expect((await actions.listAll({ top: 100, actionState: 'pending' })).items.map((a) => a.id)).toContain(action.id);
  });

  it('create: the action and its guard are written once, and it says created', async () => {
    const action = actionFixture({ id: `a-${randomBytes(6).toString('hex')}`, deviceId: uniqueDevice() });
    // The first transaction is the feed rows'; the second, the action and its guard.
    actionTable.next('submitTransaction', loss, 1);
    await expect(actions.create(action)).resolves.toMatchObject({ created: true });
    expect((await actions.get(action.deviceId, action.id))?.value).toEqual(action);
    expect(await guardOf(action.deviceId)).toBe(action.id);
  });

  it('claim: the claim holds, with the passcode stored once', async () => {
    const pending = await created();
    const decision = claim(pending.value, at(1), TEST_SETTINGS, () => SEALED, 'message-1');
    if (decision.kind !== 'move') throw new Error('no claim');
    actionTable.next('updateEntity', loss);
    const stored = await actions.update(decision.next, pending);
    expect(stored.value).toEqual(decision.next);
    expect(await actions.get(pending.value.deviceId, pending.value.id)).toEqual(stored);
  });

  it('complete: done, and the guard released with it', async () => {
    const active = await claimed();
    const done = recordCommandStatus(active.value, { status: 'applied' }, at(2), TEST_SETTINGS, () => 0);
    if (done.kind !== 'move') throw new Error('not done');
    actionTable.next('submitTransaction', loss, 1);
    await expect(actions.update(done.next, active)).resolves.toMatchObject({ value: done.next });
    expect((await actions.get(active.value.deviceId, active.value.id))?.value.actionState).toBe('done');
    expect(await guardOf(active.value.deviceId)).toBeUndefined();
  });

  it('cancel: canceled, and the guard released with it', async () => {
    const pending = await created();
    const canceled = cancelPending(pending.value, at(1));
    if (canceled.kind !== 'move') throw new Error('not canceled');
    actionTable.next('submitTransaction', loss, 1);
    await expect(actions.update(canceled.next, pending)).resolves.toMatchObject({ value: canceled.next });
    expect(await guardOf(pending.value.deviceId)).toBeUndefined();
  });

  it('a real conflict is still one: another writer got there first', async () => {
    const pending = await created();
    const first = claim(pending.value, at(1), TEST_SETTINGS, () => SEALED, 'message-1');
    const second = claim(pending.value, at(1), TEST_SETTINGS, () => SEALED, 'message-2');
    if (first.kind !== 'move' || second.kind !== 'move') throw new Error('no claim');
    await actions.update(first.next, pending);
    actionTable.next('updateEntity', loss);
    await expect(actions.update(second.next, pending)).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await actions.get(pending.value.deviceId, pending.value.id))?.value).toEqual(first.next);
  });
});

describe.each<Loss>(['answerLost', 'retryMeetsItself'])('the other stores (%s)', (loss) => {
  it("an Idempotency-Key reservation is this request's", async () => {
    const table = lossy(await made('idem'));
    const keys = new TableIdempotencyKeys(table.client);
    const record = { deviceId: 'd1', requestHash: 'h', actionId: 'a1', createdDateTime: at(0).toISOString() };
    table.next('createEntity', loss);
    await expect(keys.reserve('key-1', record)).resolves.toBe(true);
    // Another request's reservation of the same key is still refused.
    await expect(keys.reserve('key-1', { ...record, actionId: 'a2' })).resolves.toBe(false);
    const found = await keys.find('key-1');
    if (!found) throw new Error('not reserved');
    table.next('updateEntity', loss);
    await expect(keys.reserve('key-1', { ...record, actionId: 'a3' }, found)).resolves.toBe(true);
    expect((await keys.find('key-1'))?.value.actionId).toBe('a3');
  });

  it('a device PUT: created, then replaced from the version read', async () => {
    const table = lossy(await made('dev'));
    const devices = new TableDeviceStore(table.client);
    const device = deviceFixture({ id: uniqueDevice() });
    table.next('createEntity', loss);
    const created = await devices.put(device);
    expect(created.value).toEqual(device);
    table.next('updateEntity', loss);
    const renamed = { ...device, deviceName: 'Renamed' };
    await expect(devices.put(renamed, created)).resolves.toMatchObject({ value: renamed });
    await expect(devices.get(device.id)).resolves.toEqual(renamed);
  });

  it('a schedule entry moved once', async () => {
    const table = lossy(await made('sch'));
    const schedule = new TableActionSchedule(table.client);
    const entry = { deviceId: 'd1', actionId: 'a1', dueDateTime: at(0).toISOString(), visits: 0 };
    await schedule.add(entry);
    table.next('submitTransaction', loss);
    await schedule.reschedule(entry, at(60));
    expect(await schedule.listDue(at(3600), 10)).toEqual([{ ...entry, dueDateTime: at(60).toISOString(), visits: 1 }]);
  });

  it('a subscription created, renewed, and a delivery claimed', async () => {
    const subscriptionsTable = lossy(await made('sub'));
    const deliveries = lossy(await made('del'));
    const store = new TableSubscriptionStore({
      subscriptions: subscriptionsTable.client,
      deliveries: deliveries.client,
    });
    const subscription: Subscription = {
      id: `3f0c2b7e-5d1a-4c8e-9a77-${randomBytes(6).toString('hex')}`,
      ownerId: 'owner-1',
      watched: { scope: 'all' },
      sealedNotificationUrl: SEALED,
      changeType: 'updated',
      expirationDateTime: at(3600).toISOString(),
      createdDateTime: at(0).toISOString(),
      workflow: false,
      dueDateTime: at(3600).toISOString(),
    };
    subscriptionsTable.next('createEntity', loss);
    await expect(store.create(subscription, { maxPerOwner: 20, creationsPerHour: 20 }, at(0))).resolves.toEqual({
      created: true,
    });
    const stored = await store.get(subscription.id);
    if (!stored) throw new Error('not created');
    subscriptionsTable.next('updateEntity', loss);
    const renewed = { ...subscription, expirationDateTime: at(7200).toISOString() };
    await store.update(renewed, stored);
    expect((await store.get(subscription.id))?.value.expirationDateTime).toBe(renewed.expirationDateTime);
    deliveries.next('createEntity', loss);
    await expect(store.claimDelivery(subscription.id, 'a1', 'token-1')).resolves.toBe(true);
    // The same message again keeps its claim; any other message for the same notice is refused.
    await expect(store.claimDelivery(subscription.id, 'a1', 'token-1')).resolves.toBe(true);
    await expect(store.claimDelivery(subscription.id, 'a1', 'token-2')).resolves.toBe(false);
  });
});
