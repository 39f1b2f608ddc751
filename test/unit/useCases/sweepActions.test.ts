import { describe, expect, it } from 'vitest';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { getAction } from '../../../lib/useCases/deviceActions';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import { sweepActions } from '../../../lib/useCases/sweepActions';
import { callerWith, deviceFixture, makeTestServices, type TestServices } from '../../support/services';

const admin = callerWith('Passcode.Reset', 'Passcode.Read', 'Devices.Read');

function setup() {
  const t = makeTestServices();
  t.addDevice(deviceFixture());
  t.addDevice(deviceFixture({ id: 'device-2' }));
  return t;
}

async function accept(t: TestServices, deviceId = 'device-1') {
  const { action } = await requestPasscodeReset(t.services, { deviceId, caller: admin });
  const message = t.queue.messages.shift();
  if (!message) throw new Error('nothing was queued');
  return { action, message };
}

const guardOf = async (t: TestServices, deviceId: string) =>
  (await t.actions.listInFlight()).find((g) => g.deviceId === deviceId);

describe('sweepActions', () => {
  it('leaves fresh actions alone: pending, active and done within the display window', async () => {
    const t = setup();
    await accept(t, 'device-1'); // pending, message on its way
    const done = await accept(t, 'device-2');
    await applyPasscodeReset(t.services, done.message);
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds - 1 });
    const writes = t.actions.writes;

    await expect(sweepActions(t.services)).resolves.toEqual({ requeued: 0, expired: 0, purged: 0 });

    expect(t.actions.writes).toBe(writes);
    expect(t.queue.messages).toEqual([]);
    expect((await t.actions.get('device-2', done.action.id))?.value.sealedPasscode).toBeDefined();
  });

  it('re-enqueues an action that made no progress for STUCK_AFTER_SECONDS, once per stuck period', async () => {
    const t = setup();
    const { action } = await accept(t);
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds + 1 });

    await expect(sweepActions(t.services)).resolves.toMatchObject({ requeued: 1 });
    expect(t.queue.messages).toEqual([{ v: 1, actionId: action.id, deviceId: 'device-1' }]);
    // The sweep touched the action, so an immediate second sweep does not queue it again.
    await expect(sweepActions(t.services)).resolves.toMatchObject({ requeued: 0 });
    expect(t.queue.messages).toHaveLength(1);
  });

  it('fails a pending action older than ACTION_EXPIRY_HOURS as expired and releases the guard', async () => {
    const t = setup();
    const { action } = await accept(t);
    t.clock.advance({ hours: t.services.settings.actionExpiryHours, seconds: 1 });

    await expect(sweepActions(t.services)).resolves.toMatchObject({ expired: 1, requeued: 0 });

    const stored = await t.actions.get('device-1', action.id);
    expect(stored?.value).toMatchObject({ actionState: 'failed', error: { code: 'expired' } });
    expect(await guardOf(t, 'device-1')).toBeUndefined();
    // A late message for it is now a no-op.
    await expect(applyPasscodeReset(t.services, { v: 1, actionId: action.id, deviceId: 'device-1' })).resolves.toBe(
      'alreadyFinished',
    );
    expect(t.channel.received).toEqual([]);
  });

  it('fails an active action older than ACTION_EXPIRY_HOURS and drops its passcode', async () => {
    const t = setup();
    const { action, message } = await accept(t);
    t.channel.script = [new Error('worker died')];
    await expect(applyPasscodeReset(t.services, message)).rejects.toThrow();
    expect((await t.actions.get('device-1', action.id))?.value.sealedPasscode).toBeDefined();
    t.clock.advance({ hours: t.services.settings.actionExpiryHours + 1 });

    await expect(sweepActions(t.services)).resolves.toMatchObject({ expired: 1 });

    const stored = await t.actions.get('device-1', action.id);
    expect(stored?.value).toMatchObject({ actionState: 'failed', error: { code: 'expired' } });
    expect(stored?.value.sealedPasscode).toBeUndefined();
    expect(await guardOf(t, 'device-1')).toBeUndefined();
  });

  it('purges passcodes after the display window: the view has none and the stored action has no sealedPasscode', async () => {
    const t = setup();
    const { action, message } = await accept(t);
    await applyPasscodeReset(t.services, message);
    const hours = t.services.settings.passcodeDisplayHours;

    t.clock.advance({ hours: hours - 1 });
    await expect(sweepActions(t.services)).resolves.toMatchObject({ purged: 0 });
    expect((await getAction(t.services, 'device-1', action.id, admin)).passcode).toMatch(/^\d{6}$/);

    t.clock.advance({ hours: 1, seconds: 1 });
    await expect(sweepActions(t.services)).resolves.toMatchObject({ purged: 1 });

    const stored = await t.actions.get('device-1', action.id);
    expect(stored?.value.actionState).toBe('done');
    expect(stored?.value.sealedPasscode).toBeUndefined();
    const view = await getAction(t.services, 'device-1', action.id, admin);
    expect(view).not.toHaveProperty('passcode');
    expect(view.actionState).toBe('done');
    // Nothing left to purge.
    await expect(sweepActions(t.services)).resolves.toMatchObject({ purged: 0 });
  });

  it('purging an old passcode keeps the guard of a newer reset on the same device', async () => {
    const t = setup();
    const first = await accept(t);
    await applyPasscodeReset(t.services, first.message);
    t.clock.advance({ hours: t.services.settings.passcodeDisplayHours, seconds: 1 });
    const second = await accept(t);

    await expect(sweepActions(t.services)).resolves.toMatchObject({ purged: 1, expired: 0 });

    expect((await guardOf(t, 'device-1'))?.actionId).toBe(second.action.id);
    await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin })).rejects.toMatchObject({
      status: 409,
    });
  });
});
