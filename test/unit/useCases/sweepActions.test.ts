import { describe, expect, it } from 'vitest';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { getAction } from '../../../lib/useCases/deviceActions';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import { type SweepReport, sweepActions } from '../../../lib/useCases/sweepActions';
import { callerWith, deviceFixture, makeTestServices, type TestServices } from '../../support/services';

const admin = callerWith('Passcode.Reset', 'Passcode.Read', 'Devices.Read');
const NOTHING: SweepReport = {
  reviewed: 0,
  requeued: 0,
  expired: 0,
  passcodesPurged: 0,
  keysPurged: 0,
  actionsPurged: 0,
  eventsPurged: 0,
  subscriptionsPurged: 0,
  subscriptionsRenewed: 0,
};

function setup() {
  const t = makeTestServices();
  t.addDevice(deviceFixture());
  t.addDevice(deviceFixture({ id: 'device-2' }));
  return t;
}

async function accept(t: TestServices, deviceId = 'device-1', idempotencyKey?: string) {
  const { action } = await requestPasscodeReset(t.services, {
    deviceId,
    caller: admin,
    ...(idempotencyKey && { idempotencyKey }),
  });
  const message = t.queue.messages.shift();
  t.queue.delays.shift();
  if (!message) throw new Error('nothing was queued');
  return { action, message };
}

/** When an action started at `start` is removed (RETENTION_DAYS of the test settings, 90). */
const retentionOf = (start: string) => new Date(new Date(start).getTime() + 90 * 24 * 3_600_000).toISOString();

describe('sweepActions', () => {
  it('reads nothing but the due entries: fresh actions are not even looked at', async () => {
    const t = setup();
    await accept(t, 'device-1'); // pending, message on its way
    const done = await accept(t, 'device-2');
    await applyPasscodeReset(t.services, done.message);
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds - 1 });
    const writes = t.actions.writes;

    await expect(sweepActions(t.services)).resolves.toEqual(NOTHING);

    expect(t.actions.writes).toBe(writes);
    expect(t.queue.messages).toEqual([]);
  });

  it('re-enqueues an action that made no progress for STUCK_AFTER_SECONDS, once per stuck period', async () => {
    const t = setup();
    const { action } = await accept(t);
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds + 1 });

    await expect(sweepActions(t.services)).resolves.toMatchObject({ reviewed: 1, requeued: 1 });
    expect(t.queue.messages).toEqual([{ v: 1, actionId: action.id, deviceId: 'device-1' }]);
    // Its entry moved on by a stuck period: an immediate second sweep reads nothing.
    await expect(sweepActions(t.services)).resolves.toEqual(NOTHING);
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds });
    await expect(sweepActions(t.services)).resolves.toMatchObject({ requeued: 1 });
    expect(t.queue.messages).toHaveLength(2);
  });

  it('a finished action is reviewed once after it finished, then not again until its passcode is due', async () => {
    const t = setup();
    const { action, message } = await accept(t);
    await applyPasscodeReset(t.services, message);
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds + 1 });
    await expect(sweepActions(t.services)).resolves.toMatchObject({ reviewed: 1, requeued: 0 });
    expect(t.schedule.of(action.id)).toEqual([
      expect.objectContaining({ dueDateTime: '2026-12-03T10:00:00.000Z', visits: 1 }),
    ]);
    t.clock.advance({ hours: 24 });
    await expect(sweepActions(t.services)).resolves.toEqual(NOTHING);
  });

  it('fails a pending action older than ACTION_EXPIRY_HOURS as expired and releases the guard', async () => {
    const t = setup();
    const { action } = await accept(t);
    t.clock.advance({ hours: t.services.settings.actionExpiryHours, seconds: 1 });

    await expect(sweepActions(t.services)).resolves.toMatchObject({ expired: 1, requeued: 0 });

    const stored = await t.actions.get('device-1', action.id);
    expect(stored?.value).toMatchObject({ actionState: 'failed', error: { code: 'expired' } });
    expect(t.actions.guardOf('device-1')).toBeUndefined();
    // Its entry now waits for the end of its retention.
    expect(t.schedule.of(action.id).map((e) => e.dueDateTime)).toEqual([retentionOf(action.startDateTime)]);
    // A late message for it is now a no-op.
    await expect(applyPasscodeReset(t.services, { v: 1, actionId: action.id, deviceId: 'device-1' })).resolves.toBe(
      'alreadyFinished',
    );
    expect(t.channel.received).toEqual([]);
  });

  it('fails an active action older than ACTION_EXPIRY_HOURS once its claim lapsed, keeping the passcode it may have sent', async () => {
    const t = setup();
    const { action, message } = await accept(t);
    t.channel.script = [new Error('worker died')];
    await expect(applyPasscodeReset(t.services, message)).rejects.toThrow();
    expect((await t.actions.get('device-1', action.id))?.value.sealedPasscode).toBeDefined();
    t.clock.advance({ hours: t.services.settings.actionExpiryHours + 1 });

    await expect(sweepActions(t.services)).resolves.toMatchObject({ expired: 1 });

    const stored = await t.actions.get('device-1', action.id);
    // The worker died after its claim: the device may have the passcode, so it stays shown (outcomeUnknown).
    expect(stored?.value).toMatchObject({ actionState: 'failed', error: { code: 'outcomeUnknown' } });
    expect(stored?.value.sealedPasscode).toBeDefined();
    expect((await getAction(t.services, 'device-1', action.id, admin)).passcode).toMatch(/^\d{6}$/);
    expect(t.actions.guardOf('device-1')).toBeUndefined();
  });

  it('purges passcodes at the end of the display window: the view has none and the stored action has none', async () => {
    const t = setup();
    const { action, message } = await accept(t);
    await applyPasscodeReset(t.services, message);
    const hours = t.services.settings.passcodeDisplayHours;

    t.clock.advance({ hours: hours - 1 });
    await expect(sweepActions(t.services)).resolves.toMatchObject({ passcodesPurged: 0 });
    expect((await getAction(t.services, 'device-1', action.id, admin)).passcode).toMatch(/^\d{6}$/);

    t.clock.advance({ hours: 1, seconds: 1 });
    await expect(sweepActions(t.services)).resolves.toMatchObject({ passcodesPurged: 1 });

    const stored = await t.actions.get('device-1', action.id);
    expect(stored?.value.actionState).toBe('done');
    expect(stored?.value.sealedPasscode).toBeUndefined();
    const view = await getAction(t.services, 'device-1', action.id, admin);
    expect(view).not.toHaveProperty('passcode');
    expect(view.actionState).toBe('done');
    // Nothing left to do for it but its removal at the end of its retention.
    expect(t.schedule.of(action.id).map((e) => e.dueDateTime)).toEqual([retentionOf(action.startDateTime)]);
    await expect(sweepActions(t.services)).resolves.toEqual(NOTHING);
  });

  it('removes a finished action at the end of its retention through its schedule entry, even with no accepted event', async () => {
    const t = setup();
    const { action, message } = await accept(t);
    await applyPasscodeReset(t.services, message);
    // The accepted event is what the older, event-driven purge relied on: without it the schedule still finds it.
    t.audit.events.splice(0, t.audit.events.length);
    t.clock.set(retentionOf(action.startDateTime));
    await sweepActions(t.services);
    await expect(t.actions.get('device-1', action.id)).resolves.toBeUndefined();
    expect(t.schedule.of(action.id)).toEqual([]);
  });

  it('purging an old passcode keeps the guard of a newer reset on the same device', async () => {
    const t = setup();
    const first = await accept(t);
    await applyPasscodeReset(t.services, first.message);
    t.clock.advance({ hours: t.services.settings.passcodeDisplayHours, seconds: 1 });
    const second = await accept(t);

    await expect(sweepActions(t.services)).resolves.toMatchObject({ passcodesPurged: 1, expired: 0 });

    expect(t.actions.guardOf('device-1')).toBe(second.action.id);
    await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin })).rejects.toMatchObject({
      status: 409,
    });
  });

  it('removes an Idempotency-Key 48 hours after its request', async () => {
    const t = setup();
    const { message } = await accept(t, 'device-1', 'ticket-4411');
    t.channel.script = [{ status: 'failed', code: 'deviceWiped', message: 'wiped' }];
    await applyPasscodeReset(t.services, message);
    expect(t.idempotencyKeys.records.size).toBe(1);

    t.clock.advance({ hours: 47 });
    await expect(sweepActions(t.services)).resolves.toMatchObject({ keysPurged: 0 });
    expect(t.idempotencyKeys.records.size).toBe(1);
    t.clock.advance({ hours: 1, seconds: 1 });
    await expect(sweepActions(t.services)).resolves.toMatchObject({ keysPurged: 1 });
    expect(t.idempotencyKeys.records.size).toBe(0);
  });

  it('re-records the accepted event of a request that died before recording it', async () => {
    const t = setup();
    t.audit.record = async () => {
      throw new Error('audit table unavailable');
    };
    const { action } = await accept(t);
    expect(t.audit.events).toEqual([]);
    t.audit.record = Object.getPrototypeOf(t.audit).record.bind(t.audit);

    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds + 1 });
    await sweepActions(t.services);

    expect(t.audit.events).toEqual([expect.objectContaining({ id: action.id, detail: 'accepted' })]);
  });

  it('removes audit events and finished actions past RETENTION_DAYS, in bounded batches', async () => {
    const t = setup();
    const { action, message } = await accept(t);
    await applyPasscodeReset(t.services, message);
    const second = await accept(t, 'device-2');
    t.clock.advance({ hours: t.services.settings.retentionDays * 24 - 1 });
    await sweepActions(t.services);
    expect(await t.actions.get('device-1', action.id)).toBeDefined();

    t.clock.advance({ hours: 2 });
    const report = await sweepActions(t.services);

    expect(report.actionsPurged).toBe(2);
    expect(report.eventsPurged).toBeGreaterThanOrEqual(2);
    expect(await t.actions.get('device-1', action.id)).toBeUndefined();
    expect(await t.actions.get('device-2', second.action.id)).toBeUndefined();
    expect(t.audit.events).toEqual([]);
  });
});
