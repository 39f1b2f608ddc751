import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AesGcmCipher } from '../../lib/adapters/aesGcmCipher';
import { TRANSACTION_SIZE } from '../../lib/adapters/tableClients';
import { newActionId } from '../../lib/core/actionId';
import { ForbiddenTransitionError, isTerminal } from '../../lib/core/actionLifecycle';
import { ApiError, PreconditionFailedError } from '../../lib/core/errors';
import type { ActionState, Device, DeviceAction, ResetMessage } from '../../lib/core/model';
import type { Subscription } from '../../lib/core/subscription';
import type {
  ActionQueue,
  ActionSchedule,
  ActionStore,
  AuditEvent,
  AuditLog,
  DeviceStore,
  IdempotencyKeys,
  Page,
  SubscriptionStore,
  Watcher,
  WatcherCursor,
} from '../../lib/ports';
import { passcodeAad } from '../../lib/useCases/services';
import { actionFixture, deviceFixture } from './services';

/** A store under test and how to dispose of it (drop its tables). */
export interface UnderTest<T> {
  subject: T;
  dispose?: () => Promise<void>;
}

export interface ActionStoreUnderTest extends UnderTest<ActionStore> {
  /** The action exactly as persisted (for the Table adapter: the raw entity from TableClient.getEntity). */
  rawAction(deviceId: string, actionId: string): Promise<unknown>;
}

export interface ActionQueueUnderTest extends UnderTest<ActionQueue> {
  /** Takes every message off the queue, decoded as the queue trigger decodes it. */
  receive(): Promise<ResetMessage[]>;
}

const BASE = Date.parse('2026-11-26T10:00:00.000Z');
const at = (minutes: number) => new Date(BASE + minutes * 60_000);
let sequence = 0;
/** An action id for an action started `minutes` after BASE; ids are unique per call. */
const idAt = (minutes: number) => newActionId(at(minutes), (++sequence).toString(16).padStart(20, '0'));
const uniqueDevice = (prefix = 'dev') => `${prefix}-${process.pid}-${++sequence}`;

function actionAt(deviceId: string, minutes: number, overrides: Partial<DeviceAction> = {}): DeviceAction {
  const time = at(minutes).toISOString();
  return actionFixture({
    id: idAt(minutes),
    deviceId,
    startDateTime: time,
    lastUpdatedDateTime: time,
    ...overrides,
  });
}

/** Follows nextToken until the last page; returns every page. */
async function allPages<T>(fetch: (skipToken?: string) => Promise<Page<T>>): Promise<T[][]> {
  const pages: T[][] = [];
  let token: string | undefined;
  do {
    const page = await fetch(token);
    pages.push(page.items);
    token = page.nextToken;
  } while (token !== undefined && pages.length < 50);
  return pages;
}

/** Registers a fresh subject per test, disposed of afterwards. */
function useSubject<U extends UnderTest<unknown>>(create: () => Promise<U>): () => U {
  let current: U | undefined;
  beforeEach(async () => {
    current = await create();
  });
  afterEach(async () => {
    await current?.dispose?.();
    current = undefined;
  });
  return () => {
    if (!current) throw new Error('no subject');
    return current;
  };
}

/** The ActionStore port contract (lib/ports.ts), for one implementation. */
export function describeActionStoreContract(name: string, create: () => Promise<ActionStoreUnderTest>): void {
  describe(`ActionStore contract: ${name}`, () => {
    const current = useSubject(create);
    const store = () => current().subject;

    const guardOf = async (deviceId: string) => (await store().resetContext(deviceId, at(0), 1)).inFlightActionId;

    /** Creates the action (as a request does) and moves it to `state` (releasing the guard when terminal). */
    async function seed(action: DeviceAction, state: ActionState = 'done', extra: Partial<DeviceAction> = {}) {
      const created = await store().create(action);
      if (!created.created) throw new Error('seed: the device is busy');
      if (state === 'pending') return { value: action, etag: created.etag };
      const { sealedPasscode, ...rest } = extra;
      const active = await store().update(
        { ...action, actionState: 'active', attempts: 1, ...(sealedPasscode && { sealedPasscode }) },
        { value: action, etag: created.etag },
      );
      if (state === 'active') return active;
      return store().update({ ...active.value, actionState: state, ...rest }, active);
    }

    it('create writes the pending action and the device guard together', async () => {
      const action = actionAt(uniqueDevice(), 0, { reason: 'ticket 4411' });
      const result = await store().create(action);

      expect(result).toEqual({ created: true, etag: expect.any(String) });
      const stored = await store().get(action.deviceId, action.id);
      expect(stored?.value).toEqual(action);
      expect(stored?.etag).toBe(result.created ? result.etag : undefined);
      expect(await guardOf(action.deviceId)).toBe(action.id);
    });

    it('get answers undefined for an unknown action', async () => {
      await expect(store().get(uniqueDevice(), idAt(0))).resolves.toBeUndefined();
    });

    it('a second create for the same device returns the in-flight action and writes nothing', async () => {
      const deviceId = uniqueDevice();
      const first = actionAt(deviceId, 0);
      const second = actionAt(deviceId, 1);
      await seed(first, 'pending');

      await expect(store().create(second)).resolves.toEqual({ created: false, inFlightActionId: first.id });

      await expect(store().get(deviceId, second.id)).resolves.toBeUndefined();
      expect((await store().listForDevice(deviceId, { top: 10 })).items.map((a) => a.id)).toEqual([first.id]);
      expect((await store().listAll({ top: 10 })).items.map((a) => a.id)).toEqual([first.id]);
      expect(await guardOf(deviceId)).toBe(first.id);
    });

    it('update replaces the action when the ETag matches and returns a new ETag', async () => {
      const action = actionAt(uniqueDevice(), 0);
      const created = await store().create(action);
      if (!created.created) throw new Error('not created');
      const active: DeviceAction = {
        ...action,
        actionState: 'active',
        attempts: 1,
        lastUpdatedDateTime: at(1).toISOString(),
      };

      const updated = await store().update(active, { value: action, etag: created.etag });

      expect(updated.value).toEqual(active);
      expect(updated.etag).not.toBe(created.etag);
      expect(await store().get(action.deviceId, action.id)).toEqual(updated);
    });

    it('keeps every field of an action whose command waits for the device (the worker then only asks)', async () => {
      const action = actionAt(uniqueDevice(), 0);
      const created = await store().create(action);
      if (!created.created) throw new Error('not created');
      const waiting: DeviceAction = {
        ...action,
        actionState: 'active',
        attempts: 1,
        sealedPasscode: { keyId: 'k1', value: 'c2VhbGVk' },
        claimedBy: 'message-1',
        crashedDeliveries: 1,
        nextAttemptDateTime: at(2).toISOString(),
        lastError: { code: 'deviceUnreachable', message: 'the gateway answered 503' },
        command: {
          state: 'waitingForDevice',
          reference: 'enterprises/LC01/devices/d1/operations/17',
          sentDateTime: at(1).toISOString(),
          expiresDateTime: at(60).toISOString(),
          deviceLastSeenDateTime: at(-60).toISOString(),
          checks: 3,
          cancelRequestedDateTime: at(1).toISOString(),
        },
        lastUpdatedDateTime: at(1).toISOString(),
      };
      const updated = await store().update(waiting, { value: action, etag: created.etag });
      expect(await store().get(action.deviceId, action.id)).toEqual(updated);
      expect(updated.value).toEqual(waiting);
    });

    it('update with a stale ETag throws PreconditionFailedError and changes nothing', async () => {
      const action = actionAt(uniqueDevice(), 0);
      const created = await store().create(action);
      if (!created.created) throw new Error('not created');
      const first = await store().update(
        { ...action, actionState: 'active', attempts: 1 },
        { value: action, etag: created.etag },
      );

      await expect(
        store().update({ ...action, actionState: 'active', attempts: 7 }, { value: action, etag: created.etag }),
      ).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await store().get(action.deviceId, action.id)).toEqual(first);
    });

    it('update of an action that does not exist throws PreconditionFailedError', async () => {
      const action = actionAt(uniqueDevice(), 0, { actionState: 'active' });
      await expect(
        store().update(action, { value: action, etag: 'W/"datetime\'2026-01-01T00%3A00%3A00Z\'"' }),
      ).rejects.toBeInstanceOf(PreconditionFailedError);
    });

    it('a terminal update releases the guard in the same write: a new create then succeeds', async () => {
      const deviceId = uniqueDevice();
      const first = actionAt(deviceId, 0);
      const active = await seed(first, 'active');

      const done = await store().update({ ...active.value, actionState: 'done' }, active);

      expect(done.value.actionState).toBe('done');
      expect(await guardOf(deviceId)).toBeUndefined();
      const second = actionAt(deviceId, 1);
      await expect(store().create(second)).resolves.toMatchObject({ created: true });
      expect(await guardOf(deviceId)).toBe(second.id);
    });

    it('a terminal update with a stale ETag leaves the guard in place', async () => {
      const deviceId = uniqueDevice();
      const first = actionAt(deviceId, 0);
      const created = await store().create(first);
      if (!created.created) throw new Error('not created');
      await store().update({ ...first, actionState: 'active', attempts: 1 }, { value: first, etag: created.etag });

      await expect(
        store().update({ ...first, actionState: 'canceled' }, { value: first, etag: created.etag }),
      ).rejects.toBeInstanceOf(PreconditionFailedError);

      expect((await store().get(deviceId, first.id))?.value.actionState).toBe('active');
      expect(await guardOf(deviceId)).toBe(first.id);
      await expect(store().create(actionAt(deviceId, 1))).resolves.toEqual({
        created: false,
        inFlightActionId: first.id,
      });
    });

    it('two concurrent writes from the same ETag: exactly one wins, the other gets PreconditionFailedError', async () => {
      const deviceId = uniqueDevice();
      const action = actionAt(deviceId, 0);
      const created = await store().create(action);
      if (!created.created) throw new Error('not created');

      const results = await Promise.allSettled([
        store().update({ ...action, actionState: 'active', attempts: 1 }, { value: action, etag: created.etag }),
        store().update({ ...action, actionState: 'canceled' }, { value: action, etag: created.etag }),
      ]);

      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]?.status === 'rejected' && lost[0].reason).toBeInstanceOf(PreconditionFailedError);
      const stored = await store().get(deviceId, action.id);
      // The guard is held exactly while the action is not terminal.
      expect(await guardOf(deviceId)).toBe(isTerminal(stored?.value.actionState ?? 'pending') ? undefined : action.id);
    });

    /** A done action with a stored passcode whose display window ended, and its device's guard released. */
    async function doneWithPasscode(deviceId: string) {
      return seed(actionAt(deviceId, 0), 'done', {
        sealedPasscode: { keyId: 'k1', value: 'c2VhbGVk' },
        appliedDateTime: at(1).toISOString(),
        passcodeExpirationDateTime: at(2).toISOString(),
      });
    }

    it('updating an already terminal action (passcode purge) succeeds on an idle device', async () => {
      const deviceId = uniqueDevice();
      const old = await doneWithPasscode(deviceId);
      const { sealedPasscode: _purged, ...withoutPasscode } = old.value;

      const purged = await store().update(withoutPasscode, old);

      expect(purged.value).toEqual(withoutPasscode);
      expect((await store().get(deviceId, old.value.id))?.value).toEqual(withoutPasscode);
      expect(await guardOf(deviceId)).toBeUndefined();
    });

    it("updating an already terminal action (passcode purge) keeps a newer action's guard", async () => {
      const deviceId = uniqueDevice();
      const old = await doneWithPasscode(deviceId);
      const newer = actionAt(deviceId, 5);
      await store().create(newer);
      const { sealedPasscode: _purged, ...withoutPasscode } = old.value;

      await store().update(withoutPasscode, old);

      expect((await store().get(deviceId, old.value.id))?.value.sealedPasscode).toBeUndefined();
      expect(await guardOf(deviceId)).toBe(newer.id);
      await expect(store().create(actionAt(deviceId, 7))).resolves.toEqual({
        created: false,
        inFlightActionId: newer.id,
      });
    });

    it('listForDevice lists newest first, pages with top and nextToken, and filters by actionState', async () => {
      const deviceId = uniqueDevice();
      const ids: string[] = [];
      for (let minute = 0; minute < 4; minute++) ids.push((await seed(actionAt(deviceId, minute), 'done')).value.id);
      ids.push((await seed(actionAt(deviceId, 4), 'pending')).value.id);
      await seed(actionAt(uniqueDevice(), 10), 'pending'); // another device's, newer than all of them
      const newestFirst = [...ids].reverse();

      const pages = await allPages((skipToken) =>
        store().listForDevice(deviceId, { top: 2, ...(skipToken !== undefined && { skipToken }) }),
      );
      expect(pages[0]).toHaveLength(2);
      for (const page of pages) expect(page.length).toBeLessThanOrEqual(2);
      expect(pages.flat().map((a) => a.id)).toEqual(newestFirst);

      const pending = await store().listForDevice(deviceId, { top: 10, actionState: 'pending' });
      expect(pending.items.map((a) => a.id)).toEqual([ids[4]]);
      const done = await allPages((skipToken) =>
        store().listForDevice(deviceId, { top: 3, actionState: 'done', ...(skipToken !== undefined && { skipToken }) }),
      );
      expect(done.flat().map((a) => a.id)).toEqual(newestFirst.slice(1));
    });

    it("listAll lists every device's actions newest first, with paging and an actionState filter", async () => {
      const expected: DeviceAction[] = [];
      for (let minute = 0; minute < 5; minute++) {
        const state = minute % 2 === 0 ? 'done' : 'pending';
        expected.push((await seed(actionAt(uniqueDevice(), minute), state)).value);
      }
      const newestFirst = expected.map((a) => a.id).reverse();

      const pages = await allPages((skipToken) =>
        store().listAll({ top: 2, ...(skipToken !== undefined && { skipToken }) }),
      );
      expect(pages[0]).toHaveLength(2);
      expect(pages.flat().map((a) => a.id)).toEqual(newestFirst);
      expect(new Set(pages.flat().map((a) => a.deviceId)).size).toBe(5);

      const pending = await allPages((skipToken) =>
        store().listAll({ top: 2, actionState: 'pending', ...(skipToken !== undefined && { skipToken }) }),
      );
      // A filtered page is filled from further actions rather than returned short.
      expect(pending[0]).toHaveLength(2);
      const done = await store().listAll({ top: 3, actionState: 'done' });
      expect(done.items.map((a) => a.id)).toEqual(newestFirst.filter((_, i) => i % 2 === 0));
      expect(pending.flat().map((a) => a.id)).toEqual(
        expected
          .filter((a) => a.actionState === 'pending')
          .map((a) => a.id)
          .reverse(),
      );
    });

    it('resetContext gives the start times after `since`, newest first, at most `limit`, and the guard', async () => {
      const deviceId = uniqueDevice();
      await expect(store().resetContext(deviceId, at(0), 10)).resolves.toEqual({ recentStarts: [] });
      for (let minute = 0; minute < 5; minute++) await seed(actionAt(deviceId, minute * 10), 'done');
      await seed(actionAt(uniqueDevice(), 45), 'done');

      await expect(store().resetContext(deviceId, at(15), 10)).resolves.toEqual({
        recentStarts: [at(40).toISOString(), at(30).toISOString(), at(20).toISOString()],
      });
      const two = await store().resetContext(deviceId, at(15), 2);
      expect(two.recentStarts).toEqual([at(40).toISOString(), at(30).toISOString()]);
      await expect(store().resetContext(deviceId, at(41), 10)).resolves.toEqual({ recentStarts: [] });
      expect((await store().resetContext(deviceId, at(-1), 10)).recentStarts).toHaveLength(5);
      const inFlight = await seed(actionAt(deviceId, 50), 'pending');
      await expect(store().resetContext(deviceId, at(45), 10)).resolves.toEqual({
        recentStarts: [at(50).toISOString()],
        inFlightActionId: inFlight.value.id,
      });
    });

    it('refuses a change the lifecycle does not allow, and writes nothing', async () => {
      const done = await seed(actionAt(uniqueDevice(), 0), 'done', {
        sealedPasscode: { keyId: 'k1', value: 'c2VhbGVk' },
      });
      const forbidden: DeviceAction[] = [
        { ...done.value, actionState: 'active' },
        { ...done.value, sealedPasscode: { keyId: 'k1', value: 'b3RoZXI=' } },
        { ...done.value, reason: 'rewritten' },
        { ...done.value, lastUpdatedDateTime: at(9).toISOString() },
      ];
      for (const next of forbidden) {
        await expect(store().update(next, done)).rejects.toBeInstanceOf(ForbiddenTransitionError);
      }
      expect(await store().get(done.value.deviceId, done.value.id)).toEqual(done);
    });

    it('remove deletes a finished action, never one in flight', async () => {
      const done = await seed(actionAt(uniqueDevice(), 0), 'failed');
      const pending = await seed(actionAt(uniqueDevice(), 1), 'pending');
      await store().remove(done);
      await expect(store().get(done.value.deviceId, done.value.id)).resolves.toBeUndefined();
      await store().remove(done); // already gone: nothing happens
      await expect(store().remove(pending)).rejects.toBeInstanceOf(PreconditionFailedError);
      expect((await store().get(pending.value.deviceId, pending.value.id))?.value.actionState).toBe('pending');
    });

    it('20 parallel creates for one device: exactly one is created, the others name it', async () => {
      const deviceId = uniqueDevice();
      const actions = Array.from({ length: 20 }, (_, i) => actionAt(deviceId, i));

      const results = await Promise.all(actions.map((a) => store().create(a)));

      const winners = actions.filter((_, i) => results[i]?.created);
      expect(winners).toHaveLength(1);
      const winner = winners[0] as DeviceAction;
      for (const result of results.filter((r) => !r.created)) {
        expect(result).toEqual({ created: false, inFlightActionId: winner.id });
      }
      expect((await store().listForDevice(deviceId, { top: 50 })).items.map((a) => a.id)).toEqual([winner.id]);
      expect(await guardOf(deviceId)).toBe(winner.id);
    });

    it('never persists a plaintext passcode: only AES-GCM ciphertext and its key id', async () => {
      const cipher = new AesGcmCipher({ currentKeyId: 'k1', keys: new Map([['k1', randomBytes(32)]]) });
      const passcode = '583920';
      const action = actionAt(uniqueDevice(), 0);
      const created = await store().create(action);
      if (!created.created) throw new Error('not created');
      const sealed = cipher.seal(passcode, passcodeAad(action.deviceId, action.id));
      // The claim stores the sealed passcode; done keeps it.
      const active = await store().update(
        { ...action, actionState: 'active', attempts: 1, sealedPasscode: sealed },
        { value: action, etag: created.etag },
      );
      await store().update(
        { ...active.value, actionState: 'done', passcodeExpirationDateTime: at(60).toISOString() },
        active,
      );

      const raw = await current().rawAction(action.deviceId, action.id);
      expect(raw).toBeTypeOf('object');
      const values = Object.values(raw as Record<string, unknown>).map((v) => JSON.stringify(v) ?? '');
      expect(values.length).toBeGreaterThan(5);
      for (const value of values) expect(value).not.toContain(passcode);
      expect(JSON.stringify(raw)).toContain(sealed.value);
      // And what is stored opens to the passcode again.
      const stored = await store().get(action.deviceId, action.id);
      expect(stored?.value.sealedPasscode).toEqual(sealed);
      expect(isTerminal(stored?.value.actionState ?? 'pending')).toBe(true);
      expect(cipher.open(sealed, passcodeAad(action.deviceId, action.id))).toBe(passcode);
    });
  });
}

/** The DeviceStore port contract, for one implementation. */
export function describeDeviceStoreContract(name: string, create: () => Promise<UnderTest<DeviceStore>>): void {
  describe(`DeviceStore contract: ${name}`, () => {
    const current = useSubject(create);
    const store = () => current().subject;

    it('put creates a device only if absent, and replaces only the version read (its ETag)', async () => {
      const device = deviceFixture({ id: uniqueDevice() });
      const created = await store().put(device);
      expect(created.value).toEqual(device);
      await expect(store().read(device.id)).resolves.toEqual(created);
      await expect(store().put({ ...device, deviceName: 'Another' })).rejects.toBeInstanceOf(PreconditionFailedError);
      // The very same device again is this write's own earlier try (its answer lost): it is already written.
      await expect(store().put(device)).resolves.toEqual(created);

      const renamed = {
        ...device,
        deviceName: 'Renamed',
        passcodePolicy: { minLength: 8, characters: 'alphanumeric' as const, complex: true },
        lastUpdatedDateTime: '2026-11-27T00:00:00.000Z',
      };
      const replaced = await store().put(renamed, created);
      expect(replaced.etag).not.toBe(created.etag);
      await expect(store().get(device.id)).resolves.toEqual(renamed);
      // A writer that read the first version loses: nothing changes.
      await expect(store().put({ ...device, deviceName: 'Stale' }, created)).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      await expect(store().get(device.id)).resolves.toEqual(renamed);
    });

    it('keeps the Android Management facts of a synced device', async () => {
      const device = {
        ...deviceFixture({ id: uniqueDevice(), operatingSystem: 'AndroidForWork', osVersion: '13' }),
        androidManagement: {
          name: 'enterprises/LC01/devices/abc',
          managementMode: 'workProfile',
          ownership: 'personallyOwned',
          state: 'active',
          apiLevel: 33,
          lastStatusReportDateTime: '2026-11-26T08:00:00.000Z',
          enrollmentDateTime: '2026-01-01T08:00:00.000Z',
          syncedDateTime: '2026-11-26T10:00:00.000Z',
        },
      } satisfies Device;
      await store().putSynced([device]);
      await expect(store().get(device.id)).resolves.toEqual(device);
      await expect(store().listSyncedBefore(new Date('2026-11-26T10:00:00.001Z'), 1000)).resolves.toContainEqual(
        device,
      );
      await expect(store().listSyncedBefore(new Date('2026-11-26T10:00:00.000Z'), 1000)).resolves.not.toContainEqual(
        device,
      );
      const deleted = { ...device, androidManagement: { ...device.androidManagement, state: 'deleted' as const } };
      await store().putSynced([deleted]);
      await expect(store().listSyncedBefore(new Date('2026-11-27T00:00:00.000Z'), 1000)).resolves.not.toContainEqual(
        deleted,
      );
    });

    it('keeps a device without userPrincipalName without one', async () => {
      const { userPrincipalName: _u, ...device } = deviceFixture({ id: uniqueDevice() });
      await store().put(device);
      const stored = await store().get(device.id);
      expect(stored).toEqual(device);
      expect(stored).not.toHaveProperty('userPrincipalName');
    });

    it('get answers undefined for an unknown device', async () => {
      await expect(store().get(uniqueDevice())).resolves.toBeUndefined();
    });

    it('lists with an operatingSystem filter and paging', async () => {
      const ios = ['a', 'b', 'c'].map((p) => deviceFixture({ id: `${p}-${uniqueDevice()}` }));
      const android = ['d', 'e'].map((p) =>
        deviceFixture({ id: `${p}-${uniqueDevice()}`, operatingSystem: 'Android', osVersion: '6.0' }),
      );
      for (const device of [...android, ...ios]) await store().put(device);

      const iosPages = await allPages((skipToken) =>
        store().list({ operatingSystem: 'iOS', top: 2, ...(skipToken !== undefined && { skipToken }) }),
      );
      expect(iosPages[0]).toHaveLength(2);
      expect(
        iosPages
          .flat()
          .map((d) => d.id)
          .sort(),
      ).toEqual(ios.map((d) => d.id).sort());
      expect(iosPages.flat().every((d) => d.operatingSystem === 'iOS')).toBe(true);

      const everything = await allPages((skipToken) =>
        store().list({ top: 2, ...(skipToken !== undefined && { skipToken }) }),
      );
      expect(everything.flat()).toHaveLength(5);
      expect(new Set(everything.flat().map((d) => d.id)).size).toBe(5);
    });

    it('finds devices by name prefix and by user, without regard to case, narrowed to an operating system', async () => {
      const put = (id: string, deviceName: string, userPrincipalName: string, operatingSystem: 'iOS' | 'Android') =>
        store().put(
          deviceFixture({
            id,
            deviceName,
            userPrincipalName,
            operatingSystem,
            osVersion: operatingSystem === 'iOS' ? '17.0' : '6.0',
          }),
        );
      await put('s1', 'Sales iPhone 1', 'ana@contoso.com', 'iOS');
      await put('s2', 'sales iPhone 2', 'Ben@contoso.com', 'iOS');
      await put('s3', 'Sales Galaxy', 'ana@contoso.com', 'Android');
      await put('s4', 'Support/Desk #4?', 'anabel@contoso.com', 'iOS');
      const ids = async (query: Parameters<DeviceStore['list']>[0]) =>
        (await allPages((skipToken) => store().list({ ...query, ...(skipToken !== undefined && { skipToken }) })))
          .flat()
          .map((d) => d.id)
          .sort();

      await expect(ids({ top: 1, deviceNamePrefix: 'SALES' })).resolves.toEqual(['s1', 's2', 's3']);
      await expect(ids({ top: 2, deviceNamePrefix: 'sales i', operatingSystem: 'iOS' })).resolves.toEqual(['s1', 's2']);
      await expect(ids({ top: 5, deviceNamePrefix: 'support/desk #4' })).resolves.toEqual(['s4']);
      await expect(ids({ top: 5, userPrincipalName: { value: 'ANA@contoso.com', prefix: false } })).resolves.toEqual([
        's1',
        's3',
      ]);
      await expect(ids({ top: 5, userPrincipalName: { value: 'ana', prefix: true } })).resolves.toEqual([
        's1',
        's3',
        's4',
      ]);
      await expect(
        ids({ top: 5, userPrincipalName: { value: 'ana@contoso.com', prefix: false }, operatingSystem: 'Android' }),
      ).resolves.toEqual(['s3']);
      await expect(ids({ top: 5, operatingSystem: 'Android' })).resolves.toEqual(['s3']);
      await expect(ids({ top: 5, id: 's2', deviceNamePrefix: 'sales' })).resolves.toEqual(['s2']);
      await expect(ids({ top: 5, id: 's2', operatingSystem: 'Android' })).resolves.toEqual([]);
      // The plain list holds each device once, whatever its index rows.
      await expect(ids({ top: 3 })).resolves.toEqual(['s1', 's2', 's3', 's4']);
    });

    it('moves a device in its indexes when its name, user or system changes, by PUT and by sync', async () => {
      const device = deviceFixture({ id: 'mv1', deviceName: 'Old name', userPrincipalName: 'old@contoso.com' });
      const created = await store().put(device);
      const renamed = { ...device, deviceName: 'New name', userPrincipalName: 'new@contoso.com' };
      await store().put(renamed, created);
      const found = async (query: Parameters<DeviceStore['list']>[0]) =>
        (await store().list(query)).items.map((d) => d.deviceName);
      await expect(found({ top: 5, deviceNamePrefix: 'old' })).resolves.toEqual([]);
      await expect(found({ top: 5, userPrincipalName: { value: 'old@contoso.com', prefix: false } })).resolves.toEqual(
        [],
      );
      await expect(found({ top: 5, deviceNamePrefix: 'new' })).resolves.toEqual(['New name']);

      const moved = { ...renamed, deviceName: 'Synced name', operatingSystem: 'Android' as const, osVersion: '6.0' };
      await store().putSynced([moved]);
      await expect(found({ top: 5, deviceNamePrefix: 'new' })).resolves.toEqual([]);
      await expect(found({ top: 5, operatingSystem: 'iOS' })).resolves.toEqual([]);
      await expect(found({ top: 5, deviceNamePrefix: 'synced', operatingSystem: 'Android' })).resolves.toEqual([
        'Synced name',
      ]);
      await expect(store().get('mv1')).resolves.toEqual(moved);
    });

    it('rejects an invalid $skipToken with ApiError 400', async () => {
      const error = await store()
        .list({ top: 2, skipToken: 'not-a-token' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ status: 400, code: 'invalidRequest' });
    });
  });
}

/** The AuditLog port contract, for one implementation. */
export function describeAuditLogContract(name: string, create: () => Promise<UnderTest<AuditLog>>): void {
  describe(`AuditLog contract: ${name}`, () => {
    const current = useSubject(create);
    const log = () => current().subject;

    const event = (minutes: number, deviceId: string, overrides: Partial<AuditEvent> = {}): AuditEvent => ({
      id: (++sequence).toString(16).padStart(24, '0'),
      eventDateTime: at(minutes).toISOString(),
      eventType: 'resetRequested',
      callerId: 'caller-1',
      callerName: 'ana@contoso.com',
      deviceId,
      outcome: 'success',
      ...overrides,
    });

    async function recordSome() {
      const d1 = uniqueDevice();
      const d2 = uniqueDevice();
      const events = [
        event(0, d1, { actionId: idAt(0), reason: 'ticket 1' }),
        event(10, d2, { eventType: 'deviceCreated' }),
        event(20, d1, { eventType: 'resetCanceled', actionId: idAt(0) }),
        event(30, d1, { outcome: 'failure', detail: 'tooManyRequests' }),
      ];
      for (const e of events) await log().record(e);
      return { d1, d2, events };
    }

    it('lists what was recorded, newest first, with paging', async () => {
      const { events } = await recordSome();
      const pages = await allPages((skipToken) =>
        log().list({ top: 3, ...(skipToken !== undefined && { skipToken }) }),
      );
      expect(pages[0]).toHaveLength(3);
      expect(pages.flat()).toEqual([...events].reverse());
    });

    it('filters by deviceId', async () => {
      const { d1, d2, events } = await recordSome();
      const forD1 = await log().list({ top: 10, deviceId: d1 });
      expect(forD1.items.map((e) => e.id)).toEqual(
        events
          .filter((e) => e.deviceId === d1)
          .map((e) => e.id)
          .reverse(),
      );
      expect((await log().list({ top: 10, deviceId: d2 })).items).toEqual([events[1]]);
    });

    it('filters by from and to, both inclusive', async () => {
      const { events } = await recordSome();
      const between = await log().list({ top: 10, from: at(10), to: at(20) });
      expect(between.items).toEqual([events[2], events[1]]);
      expect((await log().list({ top: 10, from: at(21) })).items).toEqual([events[3]]);
      expect((await log().list({ top: 10, to: at(5) })).items).toEqual([events[0]]);
      expect((await log().list({ top: 10, from: at(31) })).items).toEqual([]);
    });

    it('listOlderThan finds the events before the cutoff, at most limit; remove deletes them', async () => {
      const { events } = await recordSome();
      const old = await log().listOlderThan(at(15), 10);
      expect(old.map((e) => e.id).sort()).toEqual([events[0]?.id, events[1]?.id].sort());
      expect(await log().listOlderThan(at(15), 1)).toHaveLength(1);
      expect(await log().listOlderThan(at(0), 10)).toEqual([]);
      await log().remove(old);
      expect((await log().list({ top: 10 })).items).toEqual([events[3], events[2]]);
      await log().remove(old); // already gone: nothing happens
      expect(await log().listOlderThan(at(15), 10)).toEqual([]);
    });

    it('removes more events than one entity-group transaction holds, some of them already gone', async () => {
      const deviceId = uniqueDevice();
      const many = Array.from({ length: 2 * TRANSACTION_SIZE + 1 }, () => event(0, deviceId));
      await Promise.all(many.map((e) => log().record(e)));
      await log().remove(many.slice(0, 1));
      await log().remove(many);
      expect((await log().list({ top: 10, deviceId })).items).toEqual([]);
    });
  });
}

/** The ActionSchedule port contract, for one implementation. */
export function describeActionScheduleContract(name: string, create: () => Promise<UnderTest<ActionSchedule>>): void {
  describe(`ActionSchedule contract: ${name}`, () => {
    const current = useSubject(create);
    const schedule = () => current().subject;
    const entry = (minutes: number) => ({
      deviceId: uniqueDevice(),
      actionId: idAt(minutes),
      dueDateTime: at(minutes).toISOString(),
      visits: 0,
    });

    it('lists what is due, earliest first, at most limit, and nothing that is not due yet', async () => {
      const entries = [entry(30), entry(10), entry(20), entry(40)];
      for (const e of entries) await schedule().add(e);
      expect(await schedule().listDue(at(25), 10)).toEqual([entries[1], entries[2]]);
      expect(await schedule().listDue(at(25), 1)).toEqual([entries[1]]);
      expect(await schedule().listDue(at(5), 10)).toEqual([]);
      expect(await schedule().listDue(at(30), 10)).toHaveLength(3);
    });

    it('reschedule moves an entry and counts the visit; a second move of the old entry fails', async () => {
      const e = entry(10);
      await schedule().add(e);
      await schedule().reschedule(e, at(50));
      expect(await schedule().listDue(at(45), 10)).toEqual([]);
      expect(await schedule().listDue(at(50), 10)).toEqual([{ ...e, dueDateTime: at(50).toISOString(), visits: 1 }]);
      await expect(schedule().reschedule(e, at(60))).rejects.toBeInstanceOf(PreconditionFailedError);
    });

    it('remove deletes an entry, and removing it again does nothing', async () => {
      const e = entry(10);
      await schedule().add(e);
      await schedule().remove(e);
      await schedule().remove(e);
      expect(await schedule().listDue(at(60), 10)).toEqual([]);
    });
  });
}

/** The IdempotencyKeys port contract, for one implementation. */
export function describeIdempotencyKeysContract(name: string, create: () => Promise<UnderTest<IdempotencyKeys>>): void {
  describe(`IdempotencyKeys contract: ${name}`, () => {
    const current = useSubject(create);
    const keys = () => current().subject;
    const record = (minutes: number) => ({
      deviceId: uniqueDevice(),
      requestHash: 'a'.repeat(64),
      actionId: idAt(minutes),
      createdDateTime: at(minutes).toISOString(),
    });

    it('reserves a key once; find returns it; a second reservation is refused', async () => {
      const key = randomBytes(32).toString('hex');
      const first = record(0);
      await expect(keys().find(key)).resolves.toBeUndefined();
      await expect(keys().reserve(key, first)).resolves.toBe(true);
      await expect(keys().reserve(key, record(1))).resolves.toBe(false);
      expect((await keys().find(key))?.value).toEqual(first);
    });

    it('replaces a reservation only from the version read', async () => {
      const key = randomBytes(32).toString('hex');
      await keys().reserve(key, record(0));
      const read = await keys().find(key);
      if (!read) throw new Error('not reserved');
      const second = record(1);
      await expect(keys().reserve(key, second, read)).resolves.toBe(true);
      await expect(keys().reserve(key, record(2), read)).resolves.toBe(false);
      expect((await keys().find(key))?.value).toEqual(second);
    });

    it('removes a key only while it points at the given action', async () => {
      const key = randomBytes(32).toString('hex');
      const first = record(0);
      await keys().reserve(key, first);
      await keys().remove(key, idAt(5));
      expect((await keys().find(key))?.value).toEqual(first);
      await keys().remove(key, first.actionId);
      await expect(keys().find(key)).resolves.toBeUndefined();
    });
  });
}

/** The ActionQueue port contract, for one implementation. */
export function describeActionQueueContract(name: string, create: () => Promise<ActionQueueUnderTest>): void {
  describe(`ActionQueue contract: ${name}`, () => {
    const current = useSubject(create);

    it('delivers exactly the messages enqueued, ids only', async () => {
      const messages: ResetMessage[] = [
        { v: 1, actionId: idAt(0), deviceId: uniqueDevice() },
        { v: 1, actionId: idAt(1), deviceId: uniqueDevice() },
      ];
      for (const message of messages) await current().subject.enqueue(message);

      const received = await current().receive();

      expect(received).toHaveLength(2);
      expect(received).toEqual(expect.arrayContaining(messages));
      for (const message of received) expect(Object.keys(message).sort()).toEqual(['actionId', 'deviceId', 'v']);
    });
  });
}

/** The SubscriptionStore port contract, for one implementation. */
export function describeSubscriptionStoreContract(
  name: string,
  create: () => Promise<UnderTest<SubscriptionStore>>,
): void {
  describe(`SubscriptionStore contract: ${name}`, () => {
    const current = useSubject(create);
    const store = () => current().subject;
    const subscription = (overrides: Partial<Subscription> = {}): Subscription => ({
      id: `${randomBytes(4).toString('hex')}-0000-0000-0000-${randomBytes(6).toString('hex')}`,
      ownerId: 'owner-1',
      watched: { scope: 'all' },
      sealedNotificationUrl: { keyId: 'k1', value: 'dXJs' },
      changeType: 'updated',
      expirationDateTime: at(60).toISOString(),
      createdDateTime: at(0).toISOString(),
      workflow: false,
      dueDateTime: at(60).toISOString(),
      ...overrides,
    });

    const limits = { maxPerOwner: 3, creationsPerHour: 5 };
    const created = async (s: Subscription, now = at(0)) =>
      expect(await store().create(s, limits, now)).toEqual({ created: true });
    const uniqueOwner = () => `owner-${randomBytes(4).toString('hex')}`;
    /** Every watcher of a device, page by page, as the fan-out reads them. */
    async function allWatchers(device: string, pageSize: number) {
      const ids: string[] = [];
      let cursor: WatcherCursor | undefined = { scope: 'device' };
      let pages = 0;
      while (cursor) {
        const page: { watchers: Watcher[]; next?: WatcherCursor } = await store().listWatchers(
          device,
          cursor,
          pageSize,
        );
        expect(page.watchers.length).toBeLessThanOrEqual(pageSize);
        ids.push(...page.watchers.map((w) => w.subscriptionId));
        cursor = page.next;
        pages++;
      }
      return { ids, pages };
    }

    it('creates, reads back, lists by owner and finds who watches a device by key', async () => {
      const device = uniqueDevice();
      const all = subscription({ sealedClientState: { keyId: 'k1', value: 'c2VhbGVk' }, ownerId: uniqueOwner() });
      const owner2 = uniqueOwner();
      const one = subscription({ watched: { scope: 'device', deviceId: device }, ownerId: owner2 });
      const elsewhere = subscription({
        watched: { scope: 'device', deviceId: uniqueDevice() },
        ownerId: uniqueOwner(),
      });
      for (const s of [all, one, elsewhere]) await created(s);

      expect((await store().get(all.id))?.value).toEqual(all);
      expect((await store().listByOwner(owner2)).map((s) => s.id)).toEqual([one.id]);
      const { ids } = await allWatchers(device, 10);
      expect(ids).toContain(one.id);
      expect(ids).toContain(all.id);
      expect(ids).not.toContain(elsewhere.id);
      await expect(store().get('no-such-subscription')).resolves.toBeUndefined();
    });

    it('pages the watchers of a device in bounded batches, the device own ones first', async () => {
      const device = uniqueDevice();
      const mine = [];
      for (let i = 0; i < 5; i++) {
        const s = subscription({ watched: { scope: 'device', deviceId: device }, ownerId: uniqueOwner() });
        await created(s);
        mine.push(s.id);
      }
      const { ids, pages } = await allWatchers(device, 2);
      expect(ids.slice(0, 5).sort()).toEqual(mine.sort());
      expect(pages).toBeGreaterThanOrEqual(3);
    });

    it('refuses a creation past the per-owner cap and past the hourly rate, with when to try again', async () => {
      const owner = uniqueOwner();
      for (let i = 0; i < 3; i++)
        await created(subscription({ ownerId: owner, expirationDateTime: at(60 + i).toISOString() }));
      expect(await store().create(subscription({ ownerId: owner }), limits, at(1))).toEqual({
        created: false,
        limit: 'maxPerOwner',
        retryAfterSeconds: 59 * 60,
      });
      // Past the first expiry a slot is free, but 3 creations this hour and 2 more reach the rate.
      await created(subscription({ ownerId: owner, expirationDateTime: at(200).toISOString() }), at(61));
      const another = uniqueOwner();
      for (let i = 0; i < 5; i++) {
        const s = subscription({ ownerId: another });
        await created(s, at(2));
        expect(await store().remove(s.id, at(2), 100)).toBe(true);
      }
      expect(await store().create(subscription({ ownerId: another }), limits, at(10))).toEqual({
        created: false,
        limit: 'creationRate',
        retryAfterSeconds: 52 * 60,
      });
      await created(subscription({ ownerId: another }), at(63));
    });

    it('lets concurrent creations by one owner take turns: the cap holds, none fails', async () => {
      const owner = uniqueOwner();
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, () => store().create(subscription({ ownerId: owner }), limits, at(0))),
      );
      expect(outcomes.filter((o) => o.created)).toHaveLength(3);
      expect(outcomes.filter((o) => !o.created && o.limit === 'maxPerOwner')).toHaveLength(2);
      expect(await store().listByOwner(owner)).toHaveLength(3);
    });

    it('updates from the version read only, lists what is due and nothing else, and removes (twice: the second says gone)', async () => {
      const s = subscription({
        ownerId: uniqueOwner(),
        expirationDateTime: at(10).toISOString(),
        dueDateTime: at(10).toISOString(),
      });
      await created(s);
      const read = await store().get(s.id);
      if (!read) throw new Error('not created');
      const later = { ...s, expirationDateTime: at(20).toISOString(), dueDateTime: at(20).toISOString() };
      await store().update(later, read);
      await expect(store().update({ ...s, expirationDateTime: at(30).toISOString() }, read)).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      const dueAt = async (minutes: number) =>
        (await store().listDue(at(minutes), 1000)).filter((d) => d.subscriptionId === s.id);
      expect(await dueAt(15)).toEqual([]);
      expect(await dueAt(25)).toEqual([
        {
          subscriptionId: s.id,
          dueDateTime: at(20).toISOString(),
          ownerId: s.ownerId,
          watched: s.watched,
          removal: false,
        },
      ]);
      expect(await store().remove(s.id, at(25), 100)).toBe(true);
      expect(await store().remove(s.id, at(25), 100)).toBe(false);
      await expect(store().get(s.id)).resolves.toBeUndefined();
      expect(await dueAt(1000)).toEqual([]);
      expect((await allWatchers(uniqueDevice(), 100)).ids).not.toContain(s.id);
    });

    it('claims a delivery for one message only; the same message again keeps it', async () => {
      const s = subscription({ ownerId: uniqueOwner() });
      await created(s);
      const action = idAt(1);
      expect(await store().claimDelivery(s.id, action, 'message-1')).toBe(true);
      expect(await store().claimDelivery(s.id, action, 'message-2')).toBe(false);
      expect(await store().claimDelivery(s.id, action, 'message-1')).toBe(true);
      expect(await store().claimDelivery(s.id, idAt(2), 'message-2')).toBe(true);
    });

    it('removes delivery records in bounded steps; a removal left half way is finished from its due entry', async () => {
      const s = subscription({ ownerId: uniqueOwner() });
      await created(s);
      for (let i = 0; i < 7; i++) await store().claimDelivery(s.id, idAt(i + 1), 'm');
      expect(await store().remove(s.id, at(5), 3)).toBe(true);
      const [left] = (await store().listDue(at(5), 1000)).filter((d) => d.subscriptionId === s.id);
      expect(left).toMatchObject({ removal: true });
      if (!left) throw new Error('no removal entry');
      expect(await store().finishRemoval(left, 3)).toBe(false);
      expect(await store().finishRemoval(left, 3)).toBe(true);
      expect((await store().listDue(at(5), 1000)).filter((d) => d.subscriptionId === s.id)).toEqual([]);
      // Its records are gone: a new claim by another message succeeds.
      expect(await store().claimDelivery(s.id, idAt(1), 'other')).toBe(true);
    });

    it('prunes the delivery records of actions started before a cutoff, at most a limit', async () => {
      const s = subscription({ ownerId: uniqueOwner() });
      await created(s);
      const recent = idAt(50);
      for (const action of [idAt(1), idAt(2), idAt(3), recent]) await store().claimDelivery(s.id, action, 'm');
      expect(await store().pruneDeliveries(s.id, at(10), 2)).toBe(2);
      expect(await store().pruneDeliveries(s.id, at(10), 2)).toBe(1);
      expect(await store().pruneDeliveries(s.id, at(10), 2)).toBe(0);
      expect(await store().claimDelivery(s.id, recent, 'other')).toBe(false);
    });
  });
}
