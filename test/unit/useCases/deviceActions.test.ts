import { describe, expect, it } from 'vitest';
import { ApiError, StorageUnavailableError } from '../../../lib/core/errors';
import type { Caller } from '../../../lib/security/caller';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { cancelAction, getAction, listActions } from '../../../lib/useCases/deviceActions';
import { getDeviceOverview, registerDevice } from '../../../lib/useCases/devices';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import type { ActionView } from '../../../lib/useCases/views';
import { callerWith, deviceFixture, makeTestServices, type TestServices } from '../../support/services';

const reader = callerWith('Devices.Read');
const passcodeReader: Caller = {
  id: 'caller-7',
  name: 'bo@contoso.com',
  roles: new Set(['Devices.Read', 'Passcode.Read']),
};
const resetter = callerWith('Passcode.Reset');

function setup() {
  const t = makeTestServices();
  t.addDevice(deviceFixture());
  t.addDevice(deviceFixture({ id: 'device-2' }));
  return t;
}

/** A reset of `deviceId` that the worker finished (done), with its passcode as the device received it. */
async function doneReset(t: TestServices, deviceId = 'device-1') {
  const { action } = await requestPasscodeReset(t.services, { deviceId, caller: resetter });
  const message = t.queue.messages.shift();
  if (!message) throw new Error('nothing was queued');
  await expect(applyPasscodeReset(t.services, message)).resolves.toBe('done');
  const passcode = t.channel.received.find((r) => r.actionId === action.id)?.passcode;
  if (!passcode) throw new Error('nothing was applied');
  return { actionId: action.id, passcode };
}

/** Every view a caller can get a passcode from: the status monitor, both lists and the device overview. */
async function everyView(t: TestServices, caller: Caller, actionId: string): Promise<ActionView[]> {
  const status = await getAction(t.services, 'device-1', actionId, caller);
  const forDevice = await listActions(t.services, caller, { deviceId: 'device-1', top: 10 });
  const all = await listActions(t.services, caller, { top: 10 });
  const { device: overview } = await getDeviceOverview(t.services, caller, 'device-1');
  const views = [status, ...forDevice.items, ...all.items.filter((v) => v.deviceId === 'device-1')];
  if (overview.lastResetPasscode) views.push(overview.lastResetPasscode);
  expect(views).toHaveLength(4);
  for (const view of views) expect(view.id).toBe(actionId);
  return views;
}

const viewedEvents = (t: TestServices) => t.audit.events.filter((e) => e.eventType === 'passcodeViewed');

describe('passcode visibility', () => {
  it('leaves the passcode field out of every view without Passcode.Read, and audits no view', async () => {
    const t = setup();
    const { actionId } = await doneReset(t);
    for (const view of await everyView(t, reader, actionId)) {
      expect(view).not.toHaveProperty('passcode');
      expect(view.actionState).toBe('done');
      expect(view.passcodeExpirationDateTime).toBe('2026-12-03T10:00:00.000Z');
    }
    expect(viewedEvents(t)).toEqual([]);
  });

  it('shows the applied passcode with Passcode.Read while the window is open, auditing each view with the caller', async () => {
    const t = setup();
    const { actionId, passcode } = await doneReset(t);
    t.clock.advance({ hours: 1 });

    const views = await everyView(t, passcodeReader, actionId);

    for (const view of views) expect(view.passcode).toBe(passcode);
    expect(viewedEvents(t)).toHaveLength(views.length);
    for (const event of viewedEvents(t)) {
      expect(event).toMatchObject({
        eventType: 'passcodeViewed',
        callerId: 'caller-7',
        callerName: 'bo@contoso.com',
        deviceId: 'device-1',
        actionId,
        outcome: 'success',
        eventDateTime: '2026-11-26T11:00:00.000Z',
      });
      expect(JSON.stringify(event)).not.toContain(passcode);
    }
  });

  it('fails a read that would show a passcode when its passcodeViewed event cannot be written', async () => {
    const t = setup();
    const { actionId } = await doneReset(t);
    t.audit.record = async () => {
      throw new StorageUnavailableError('the audit table cannot be reached');
    };

    await expect(getAction(t.services, 'device-1', actionId, passcodeReader)).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
    await expect(listActions(t.services, passcodeReader, { top: 10 })).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(getDeviceOverview(t.services, passcodeReader, 'device-1')).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
    // A reader who is shown no passcode has nothing to audit: the same outage changes nothing for them.
    await expect(getAction(t.services, 'device-1', actionId, reader)).resolves.toMatchObject({ actionState: 'done' });
  });

  it('leaves the passcode out once the display window closed, even before the sweeper purged it', async () => {
    const t = setup();
    const { actionId } = await doneReset(t);
    t.clock.advance({ hours: t.services.settings.passcodeDisplayHours });

    for (const view of await everyView(t, passcodeReader, actionId)) expect(view).not.toHaveProperty('passcode');
    expect(viewedEvents(t)).toEqual([]);
    // It is still stored (sealed) until the sweep.
    expect((await t.actions.get('device-1', actionId))?.value.sealedPasscode).toBeDefined();
  });

  it('shows no passcode on a status read authorised by a signed link (no caller)', async () => {
    const t = setup();
    const { actionId } = await doneReset(t);
    const view = await getAction(t.services, 'device-1', actionId, undefined);
    expect(view).not.toHaveProperty('passcode');
    expect(viewedEvents(t)).toEqual([]);
  });

  it('shows no passcode for an action that is not done, whatever the roles', async () => {
    const t = setup();
    const { action } = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller: resetter });
    const message = t.queue.messages.shift();
    if (!message) throw new Error('nothing was queued');
    t.channel.script = [new Error('crash while applying')];
    await expect(applyPasscodeReset(t.services, message)).rejects.toThrow();
    const view = await getAction(t.services, 'device-1', action.id, passcodeReader);
    expect(view.actionState).toBe('active');
    expect(view).not.toHaveProperty('passcode');
    expect(view).not.toHaveProperty('passcodeExpirationDateTime');
    expect(viewedEvents(t)).toEqual([]);
  });

  it('answers 404 actionNotFound for an unknown action', async () => {
    const t = setup();
    await expect(getAction(t.services, 'device-1', 'nope', reader)).rejects.toMatchObject({
      status: 404,
      code: 'actionNotFound',
    });
  });
});

describe('listActions and the device overview', () => {
  it("lists a device's actions newest first, pages them and filters by actionState", async () => {
    const t = setup();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await doneReset(t)).actionId);
      t.clock.advance({ minutes: 1 });
    }
    const { action: pending } = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller: resetter });
    const newestFirst = [pending.id, ...ids.reverse()];

    const first = await listActions(t.services, reader, { deviceId: 'device-1', top: 3 });
    expect(first.items.map((v) => v.id)).toEqual(newestFirst.slice(0, 3));
    expect(first.nextToken).toBeDefined();
    const second = await listActions(t.services, reader, {
      deviceId: 'device-1',
      top: 3,
      ...(first.nextToken && { skipToken: first.nextToken }),
    });
    expect(second.items.map((v) => v.id)).toEqual(newestFirst.slice(3));
    expect(second.nextToken).toBeUndefined();

    const pendingOnly = await listActions(t.services, reader, {
      deviceId: 'device-1',
      top: 10,
      actionState: 'pending',
    });
    expect(pendingOnly.items.map((v) => v.id)).toEqual([pending.id]);
  });

  it('shows the latest reset on the device overview and 404 deviceNotFound for an unknown device', async () => {
    const t = setup();
    const { device: before } = await getDeviceOverview(t.services, reader, 'device-1');
    expect(before).not.toHaveProperty('lastResetPasscode');
    expect(before.resetPasscodeSupport).toEqual({ supported: true });
    const { actionId } = await doneReset(t);
    expect((await getDeviceOverview(t.services, reader, 'device-1')).device.lastResetPasscode?.id).toBe(actionId);
    await expect(getDeviceOverview(t.services, reader, 'nope')).rejects.toMatchObject({
      status: 404,
      code: 'deviceNotFound',
    });
  });

  it('registers a device (created, then updated) and audits both', async () => {
    const t = makeTestServices();
    const { id: _id, createdDateTime: _c, lastUpdatedDateTime: _u, ...input } = deviceFixture();
    const created = await registerDevice(t.services, resetter, 'device-9', input);
    t.clock.advance({ minutes: 5 });
    const updated = await registerDevice(t.services, resetter, 'device-9', { ...input, deviceName: 'Renamed' });
    expect(created.created).toBe(true);
    expect(updated.created).toBe(false);
    expect(updated.device).toMatchObject({
      deviceName: 'Renamed',
      createdDateTime: '2026-11-26T10:00:00.000Z',
      lastUpdatedDateTime: '2026-11-26T10:05:00.000Z',
    });
    expect(t.audit.events.map((e) => e.eventType)).toEqual(['deviceCreated', 'deviceUpdated']);
  });

  it('honours If-Match: the ETag read replaces that version only; a stale one is 412 and writes nothing', async () => {
    const t = makeTestServices();
    const { id: _id, createdDateTime: _c, lastUpdatedDateTime: _u, ...input } = deviceFixture();
    const first = await registerDevice(t.services, resetter, 'device-9', input);
    const second = await registerDevice(t.services, resetter, 'device-9', { ...input, osVersion: '17.0' }, first.etag);
    expect(second.etag).not.toBe(first.etag);
    await expect(
      registerDevice(t.services, resetter, 'device-9', { ...input, osVersion: '16.0' }, first.etag),
    ).rejects.toMatchObject({ status: 412, code: 'preconditionFailed' });
    expect((await t.devices.get('device-9'))?.osVersion).toBe('17.0');
    await expect(registerDevice(t.services, resetter, 'device-8', input, '*')).rejects.toMatchObject({ status: 412 });
    await expect(registerDevice(t.services, resetter, 'device-9', input, '*')).resolves.toMatchObject({
      created: false,
    });
  });

  it('two PUTs at once never interleave: the device is exactly one of the two bodies', async () => {
    const t = makeTestServices();
    const { id: _id, createdDateTime: _c, lastUpdatedDateTime: _u, ...input } = deviceFixture();
    await registerDevice(t.services, resetter, 'device-9', input);
    const ios = { ...input, operatingSystem: 'iOS' as const, osVersion: '17.5' };
    const android = { ...input, operatingSystem: 'Android' as const, osVersion: '6.0.1' };
    await Promise.all([
      registerDevice(t.services, resetter, 'device-9', ios),
      registerDevice(t.services, resetter, 'device-9', android),
    ]);
    const stored = await t.devices.get('device-9');
    expect(
      [ios, android].some(
        (body) => body.operatingSystem === stored?.operatingSystem && body.osVersion === stored.osVersion,
      ),
    ).toBe(true);
  });

  it('ten PUTs of one device at the same moment all succeed (a burst from an automation is not a 503)', async () => {
    const t = makeTestServices();
    const { id: _id, createdDateTime: _c, lastUpdatedDateTime: _u, ...input } = deviceFixture();
    await registerDevice(t.services, resetter, 'device-9', input);
    const bodies = Array.from({ length: 10 }, (_, i) => ({ ...input, osVersion: `17.${i}` }));
    const answers = await Promise.all(bodies.map((body) => registerDevice(t.services, resetter, 'device-9', body)));
    expect(answers.map((a) => a.device.osVersion)).toEqual(bodies.map((b) => b.osVersion));
    // The last write is one of them, whole.
    expect(bodies.map((b) => b.osVersion)).toContain((await t.devices.get('device-9'))?.osVersion);
  });
});

describe('cancelAction', () => {
  it('cancels a pending action, releases the guard and audits resetCanceled', async () => {
    const t = setup();
    const { action } = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller: resetter });
    t.clock.advance({ seconds: 3 });

    const { kind, action: view } = await cancelAction(t.services, 'device-1', action.id, resetter);

    expect(kind).toBe('canceled');
    expect(view).toMatchObject({
      id: action.id,
      actionState: 'canceled',
      lastUpdatedDateTime: '2026-11-26T10:00:03.000Z',
    });
    expect((await t.actions.get('device-1', action.id))?.value.actionState).toBe('canceled');
    expect(t.actions.guardOf('device-1')).toBeUndefined();
    expect(t.audit.events.filter((e) => e.eventType === 'resetCanceled')).toEqual([
      expect.objectContaining({
        eventType: 'resetCanceled',
        callerId: 'caller-1',
        deviceId: 'device-1',
        actionId: action.id,
        outcome: 'success',
      }),
    ]);
  });

  it('refuses to cancel an active action with 409 actionNotCancelable', async () => {
    const t = setup();
    const { action } = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller: resetter });
    const message = t.queue.messages.shift();
    if (!message) throw new Error('nothing was queued');
    t.channel.script = [new Error('crash while applying')];
    await expect(applyPasscodeReset(t.services, message)).rejects.toThrow();

    const error = await cancelAction(t.services, 'device-1', action.id, resetter).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: 'actionNotCancelable' });
    expect((await t.actions.get('device-1', action.id))?.value.actionState).toBe('active');
    expect(t.audit.events.filter((e) => e.eventType === 'resetCanceled')).toEqual([]);
  });

  describe('a command that waits for the device', () => {
    async function waitingReset(t: ReturnType<typeof setup>) {
      const { action } = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller: resetter });
      const message = t.queue.messages.shift();
      if (!message) throw new Error('nothing was queued');
      t.channel.script = [{ status: 'waiting', reference: 'enterprises/e/devices/d/operations/7' }];
      await expect(applyPasscodeReset(t.services, message)).resolves.toBe('waiting');
      return action.id;
    }

    it('is canceled through the channel: canceled once the channel confirms, passcode dropped, audited', async () => {
      const t = setup();
      const actionId = await waitingReset(t);
      t.channel.checkScript = [{ status: 'canceled' }];

      const result = await cancelAction(t.services, 'device-1', actionId, resetter);

      expect(result.kind).toBe('canceled');
      expect(t.channel.cancels).toEqual([
        { actionId, deviceId: 'device-1', reference: 'enterprises/e/devices/d/operations/7' },
      ]);
      const stored = (await t.actions.get('device-1', actionId))?.value;
      expect(stored?.actionState).toBe('canceled');
      expect(stored?.sealedPasscode).toBeUndefined();
      expect(t.actions.guardOf('device-1')).toBeUndefined();
      expect(t.audit.events.filter((e) => e.eventType === 'resetCanceled')).toHaveLength(1);
    });

    it('stays waiting, with the request shown, until the channel confirms (cancelRequested)', async () => {
      const t = setup();
      const actionId = await waitingReset(t);
      t.channel.checkScript = [{ status: 'waiting', reference: 'enterprises/e/devices/d/operations/7' }];

      const result = await cancelAction(t.services, 'device-1', actionId, resetter);

      expect(result.kind).toBe('cancelRequested');
      expect(result.action).toMatchObject({
        actionState: 'active',
        deviceCommand: { state: 'waitingForDevice', cancelRequestedDateTime: t.clock.now().toISOString() },
      });
      expect(t.audit.events.filter((e) => e.eventType === 'resetCanceled')).toEqual([]);
    });

    it('ends as the device reported when the device ran the command first: done, and 409', async () => {
      const t = setup();
      const actionId = await waitingReset(t);
      t.channel.checkScript = [{ status: 'applied' }];

      await expect(cancelAction(t.services, 'device-1', actionId, resetter)).rejects.toMatchObject({
        status: 409,
        code: 'actionNotCancelable',
        message: 'The action cannot be canceled: it is done.',
      });
      expect((await t.actions.get('device-1', actionId))?.value.actionState).toBe('done');
    });

    it('409 when the channel cannot cancel commands; nothing changes', async () => {
      const t = setup();
      const actionId = await waitingReset(t);
      t.channel.cancelable = false;
      const before = await t.actions.get('device-1', actionId);

      await expect(cancelAction(t.services, 'device-1', actionId, resetter)).rejects.toMatchObject({ status: 409 });
      expect(await t.actions.get('device-1', actionId)).toEqual(before);
    });
  });

  it('refuses to cancel a done action with 409 actionNotCancelable', async () => {
    const t = setup();
    const { actionId } = await doneReset(t);
    await expect(cancelAction(t.services, 'device-1', actionId, resetter)).rejects.toMatchObject({
      status: 409,
      code: 'actionNotCancelable',
    });
    expect((await t.actions.get('device-1', actionId))?.value.actionState).toBe('done');
  });

  it('answers 404 actionNotFound for an unknown action', async () => {
    const t = setup();
    await expect(cancelAction(t.services, 'device-1', 'nope', resetter)).rejects.toMatchObject({
      status: 404,
      code: 'actionNotFound',
    });
  });
});
