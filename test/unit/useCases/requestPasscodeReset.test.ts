import { describe, expect, it } from 'vitest';
import { ActionInProgressError, ApiError, StorageUnavailableError } from '../../../lib/core/errors';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import { callerWith, deviceFixture, makeTestServices, type TestServices } from '../../support/services';

const caller = callerWith('Passcode.Reset');

function setup() {
  const t = makeTestServices();
  t.addDevice(deviceFixture());
  return t;
}

/** Runs every queued message through the worker, as the queue trigger would. */
async function drainQueue(t: TestServices) {
  while (t.queue.messages.length > 0) {
    const message = t.queue.messages.shift();
    if (message) await applyPasscodeReset(t.services, message);
  }
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('requestPasscodeReset', () => {
  it('answers 404 deviceNotFound for an unknown device and writes nothing', async () => {
    const t = setup();
    const error = await rejection(requestPasscodeReset(t.services, { deviceId: 'no-such-device', caller }));
    expect(error).toMatchObject({ status: 404, code: 'deviceNotFound' });
    expect(t.actions.writes).toBe(0);
    expect(t.actions.all()).toEqual([]);
    expect(t.queue.messages).toEqual([]);
    // The refusal itself is audited: who tried, and why they were turned away.
    expect(t.audit.events).toEqual([
      expect.objectContaining({
        eventType: 'resetRequested',
        callerId: 'caller-1',
        deviceId: 'no-such-device',
        outcome: 'failure',
        detail: 'deviceNotFound',
      }),
    ]);
  });

  it('answers 422 platformNotSupported with the reason for an unsupported platform and writes nothing', async () => {
    const t = setup();
    t.addDevice(deviceFixture({ id: 'android-9', operatingSystem: 'Android', osVersion: '9' }));
    const error = await rejection(
      requestPasscodeReset(t.services, { deviceId: 'android-9', caller, idempotencyKey: 'k-1' }),
    );
    expect(error).toMatchObject({ status: 422, code: 'platformNotSupported' });
    expect(error.message).toMatch(/Android 7/);
    expect(t.actions.writes).toBe(0);
    expect(t.queue.messages).toEqual([]);
  });

  it('accepts a reset: the action is pending and one message {v:1, actionId, deviceId} without a passcode is queued', async () => {
    const t = setup();
    const result = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller, reason: 'ticket 4411' });

    expect(result.kind).toBe('accepted');
    expect(result.action).toMatchObject({
      deviceId: 'device-1',
      actionName: 'resetPasscode',
      actionState: 'pending',
      startDateTime: '2026-11-26T10:00:00.000Z',
      requestedBy: 'ana@contoso.com',
      reason: 'ticket 4411',
      attempts: 0,
    });
    expect(result.action.sealedPasscode).toBeUndefined();
    const stored = await t.actions.get('device-1', result.action.id);
    expect(stored?.value).toEqual(result.action);
    expect(t.queue.messages).toEqual([{ v: 1, actionId: result.action.id, deviceId: 'device-1' }]);
    expect(t.actions.guardOf('device-1')).toBe(result.action.id);
    // No passcode exists yet, so none can have leaked: the generator has not run.
    expect(t.random.calls).toBe(0);
    expect(t.cipher.sealed).toEqual([]);
    expect(t.audit.events).toEqual([
      expect.objectContaining({
        eventType: 'resetRequested',
        deviceId: 'device-1',
        actionId: result.action.id,
        reason: 'ticket 4411',
        outcome: 'success',
      }),
    ]);
  });

  it('rejects a second request while the first is not terminal with ActionInProgressError naming the first', async () => {
    const t = setup();
    const first = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller });
    const error = await rejection(requestPasscodeReset(t.services, { deviceId: 'device-1', caller }));

    expect(error).toBeInstanceOf(ActionInProgressError);
    expect(error).toMatchObject({ status: 409, code: 'actionInProgress', actionId: first.action.id });
    expect(t.audit.events.at(-1)).toMatchObject({
      outcome: 'failure',
      detail: 'actionInProgress',
      actionId: first.action.id,
    });
    expect(t.actions.all()).toHaveLength(1);
    expect(t.queue.messages).toHaveLength(1);
  });

  it('accepts a new request once the previous reset is done', async () => {
    const t = setup();
    const first = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller });
    await drainQueue(t);
    t.clock.advance({ minutes: 1 });
    const second = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller });
    expect(second.kind).toBe('accepted');
    expect(second.action.id).not.toBe(first.action.id);
  });

  describe('Idempotency-Key', () => {
    it('returns the same action for the same key and body, queues one message and says "repeated"', async () => {
      const t = setup();
      const request = { deviceId: 'device-1', caller, reason: 'locked out', idempotencyKey: 'key-1' };
      const first = await requestPasscodeReset(t.services, request);
      t.clock.advance({ seconds: 5 });
      const again = await requestPasscodeReset(t.services, request);

      expect(first.kind).toBe('accepted');
      expect(again.kind).toBe('repeated');
      expect(again.action.id).toBe(first.action.id);
      expect(t.actions.all()).toHaveLength(1);
      expect(t.queue.messages).toHaveLength(1);
    });

    it('returns the original action even after it finished', async () => {
      const t = setup();
      const request = { deviceId: 'device-1', caller, idempotencyKey: 'key-1' };
      const first = await requestPasscodeReset(t.services, request);
      await drainQueue(t);
      const again = await requestPasscodeReset(t.services, request);
      expect(again).toMatchObject({ kind: 'repeated', action: { id: first.action.id, actionState: 'done' } });
      expect(t.queue.messages).toEqual([]);
    });

    it('answers 422 idempotencyKeyReused for the same key with another body', async () => {
      const t = setup();
      await requestPasscodeReset(t.services, { deviceId: 'device-1', caller, reason: 'a', idempotencyKey: 'key-1' });
      const error = await rejection(
        requestPasscodeReset(t.services, { deviceId: 'device-1', caller, reason: 'b', idempotencyKey: 'key-1' }),
      );
      expect(error).toMatchObject({ status: 422, code: 'idempotencyKeyReused' });
      expect(t.actions.all()).toHaveLength(1);
      expect(t.queue.messages).toHaveLength(1);
    });

    it('answers 422 idempotencyKeyReused for the same key with another device', async () => {
      const t = setup();
      t.addDevice(deviceFixture({ id: 'device-2' }));
      await requestPasscodeReset(t.services, { deviceId: 'device-1', caller, idempotencyKey: 'key-1' });
      const error = await rejection(
        requestPasscodeReset(t.services, { deviceId: 'device-2', caller, idempotencyKey: 'key-1' }),
      );
      expect(error).toMatchObject({ status: 422, code: 'idempotencyKeyReused' });
      expect(t.actions.all().map((a) => a.deviceId)).toEqual(['device-1']);
      expect(t.actions.guardOf('device-1')).toBeDefined();
    });

    it('keeps keys per caller: another caller with the same key gets its own answer', async () => {
      const t = setup();
      t.addDevice(deviceFixture({ id: 'device-2' }));
      await requestPasscodeReset(t.services, { deviceId: 'device-1', caller, idempotencyKey: 'key-1' });
      const other = { ...callerWith('Passcode.Reset'), id: 'caller-2' };
      const result = await requestPasscodeReset(t.services, {
        deviceId: 'device-2',
        caller: other,
        idempotencyKey: 'key-1',
      });
      expect(result.kind).toBe('accepted');
      expect(t.actions.all()).toHaveLength(2);
    });
  });

  describe('daily limit', () => {
    it('refuses the 11th reset in 24 hours with 429 and Retry-After, and allows it again after 24 hours', async () => {
      const t = setup();
      const firstAt = t.clock.now();
      for (let i = 0; i < 10; i++) {
        const result = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller });
        expect(result.kind).toBe('accepted');
        await drainQueue(t); // frees the in-flight guard so only the daily limit can refuse the next one
        t.clock.advance({ minutes: 30 });
      }
      const writesBefore = t.actions.writes;
      const error = await rejection(requestPasscodeReset(t.services, { deviceId: 'device-1', caller }));

      expect(error).toMatchObject({ status: 429, code: 'tooManyRequests' });
      // The oldest of the ten leaves the 24-hour window at firstAt + 24 h.
      const expected = Math.ceil((firstAt.getTime() + 24 * 3_600_000 - t.clock.now().getTime()) / 1000);
      expect(error.extra.headers?.['Retry-After']).toBe(String(expected));
      expect(Number(error.extra.headers?.['Retry-After'])).toBeGreaterThan(0);
      expect(t.actions.writes).toBe(writesBefore);
      expect(t.queue.messages).toEqual([]);

      // One second before the oldest leaves the window it is still refused; once it left, one more is allowed.
      t.clock.set(new Date(firstAt.getTime() + 24 * 3_600_000 - 1000));
      await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller })).rejects.toMatchObject({
        status: 429,
      });
      t.clock.set(new Date(firstAt.getTime() + 24 * 3_600_000 + 1000));
      const allowed = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller });
      expect(allowed.kind).toBe('accepted');
    });

    it('counts per device: another device is not limited', async () => {
      const t = makeTestServices({ settings: { maxResetsPerDevicePerDay: 1 } });
      t.addDevice(deviceFixture());
      t.addDevice(deviceFixture({ id: 'device-2' }));
      await requestPasscodeReset(t.services, { deviceId: 'device-1', caller });
      await drainQueue(t);
      await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller })).rejects.toMatchObject({
        status: 429,
      });
      await expect(requestPasscodeReset(t.services, { deviceId: 'device-2', caller })).resolves.toMatchObject({
        kind: 'accepted',
      });
    });
  });

  describe('concurrency', () => {
    it('20 parallel requests for one device create exactly one action; 19 get ActionInProgressError', async () => {
      const t = setup();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => requestPasscodeReset(t.services, { deviceId: 'device-1', caller })),
      );
      const accepted = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason);

      expect(accepted).toHaveLength(1);
      expect(refused).toHaveLength(19);
      const winner = accepted[0]?.status === 'fulfilled' ? accepted[0].value.action.id : undefined;
      for (const reason of refused) {
        expect(reason).toBeInstanceOf(ActionInProgressError);
        expect((reason as ActionInProgressError).actionId).toBe(winner);
      }
      expect(t.actions.all()).toHaveLength(1);
      expect(t.queue.messages).toEqual([{ v: 1, actionId: winner, deviceId: 'device-1' }]);
    });

    it('two concurrent requests with one Idempotency-Key both get the one action: accepted, then repeated', async () => {
      const t = setup();
      // Slow writes, so that the second request looks for the action before the first has written it.
      const create = t.actions.create.bind(t.actions);
      t.actions.create = async (action) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return create(action);
      };
      const request = { deviceId: 'device-1', caller, idempotencyKey: 'same-key', reason: 'locked out' };
      const results = await Promise.all([
        requestPasscodeReset(t.services, request),
        requestPasscodeReset(t.services, request),
      ]);
      expect(results.map((r) => r.kind).sort()).toEqual(['accepted', 'repeated']);
      expect(results[0]?.action.id).toBe(results[1]?.action.id);
      expect(t.actions.all()).toHaveLength(1);
      expect(t.queue.messages).toHaveLength(1);
    });
  });

  it("carries the request's trace to the worker in the message", async () => {
    const t = setup();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const { action } = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller, traceparent });
    expect(t.queue.messages).toEqual([{ v: 1, actionId: action.id, deviceId: 'device-1', traceparent }]);
  });

  describe('refusals write nothing, and write failures after acceptance never change the answer', () => {
    it('a refused reset (404, 422, 409, 429) with an Idempotency-Key leaves no reservation and no schedule entry', async () => {
      const t = makeTestServices({ settings: { maxResetsPerDevicePerDay: 2 } });
      t.addDevice(deviceFixture());
      t.addDevice(deviceFixture({ id: 'busy' }));
      t.addDevice(deviceFixture({ id: 'android-9', operatingSystem: 'Android', osVersion: '9' }));
      for (let i = 0; i < 2; i++) {
        await requestPasscodeReset(t.services, { deviceId: 'device-1', caller });
        await drainQueue(t);
      }
      await requestPasscodeReset(t.services, { deviceId: 'busy', caller });
      const keys = t.idempotencyKeys.records.size;
      const entries = t.schedule.entries.size;
      const writes = t.actions.writes;

      for (const [deviceId, status] of [
        ['no-such-device', 404],
        ['android-9', 422],
        ['busy', 409],
        ['device-1', 429],
      ] as const) {
        const error = await rejection(
          requestPasscodeReset(t.services, { deviceId, caller, idempotencyKey: `key-${deviceId}` }),
        );
        expect(error.status).toBe(status);
      }
      expect(t.idempotencyKeys.records.size).toBe(keys);
      expect(t.schedule.entries.size).toBe(entries);
      expect(t.actions.writes).toBe(writes);
    });

    it('the same key a day after a refusal creates an action with an id of its own time, which the limit counts', async () => {
      const t = makeTestServices({ settings: { maxResetsPerDevicePerDay: 1 } });
      t.addDevice(deviceFixture());
      await requestPasscodeReset(t.services, { deviceId: 'device-1', caller });
      await drainQueue(t);
      const request = { deviceId: 'device-1', caller, idempotencyKey: 'ticket-7' };
      await expect(requestPasscodeReset(t.services, request)).rejects.toMatchObject({ status: 429 });

      t.clock.advance({ hours: 25 });
      const later = await requestPasscodeReset(t.services, request);
      expect(later.kind).toBe('accepted');
      expect(later.action.startDateTime).toBe(t.clock.now().toISOString());
      // The id orders by acceptance time: it sorts before (is newer than) every earlier action.
      const newest = await t.actions.listForDevice('device-1', { top: 1 });
      expect(newest.items[0]?.id).toBe(later.action.id);
      await drainQueue(t);
      // The limit counts it: another request within 24 hours of it is refused.
      t.clock.advance({ hours: 1 });
      await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller })).rejects.toMatchObject({
        status: 429,
      });
    });

    it('a key is remembered 48 hours: after that the same key starts a new action', async () => {
      const t = setup();
      const request = { deviceId: 'device-1', caller, idempotencyKey: 'ticket-8' };
      const first = await requestPasscodeReset(t.services, request);
      await drainQueue(t);
      t.clock.advance({ hours: 47 });
      await expect(requestPasscodeReset(t.services, request)).resolves.toMatchObject({
        kind: 'repeated',
        action: { id: first.action.id },
      });
      t.clock.advance({ hours: 1, seconds: 1 });
      const again = await requestPasscodeReset(t.services, request);
      expect(again.kind).toBe('accepted');
      expect(again.action.id).not.toBe(first.action.id);
    });

    it('a reservation whose request died before writing its action: the repeat writes it, with the reserved id', async () => {
      const t = setup();
      const create = t.actions.create.bind(t.actions);
      t.actions.create = async () => {
        throw new Error('process died');
      };
      const request = { deviceId: 'device-1', caller, idempotencyKey: 'ticket-9' };
      await expect(requestPasscodeReset(t.services, request)).rejects.toThrow('process died');
      const [reserved] = [...t.idempotencyKeys.records.values()];
      t.actions.create = create;

      t.clock.advance({ seconds: 2 });
      const result = await requestPasscodeReset(t.services, request);

      // One key, one action id: had the first write committed late, it would be this very action.
      expect(result.kind).toBe('accepted');
      expect(result.action.id).toBe(reserved?.value.actionId);
      expect(result.action.startDateTime).toBe(reserved?.value.createdDateTime);
      expect([...t.idempotencyKeys.records.values()]).toEqual([reserved]);
      expect(t.schedule.of(result.action.id)).toHaveLength(1);
    });

    it('a write whose answer was lost but which committed: the repeat gets that action, never a second one', async () => {
      const t = setup();
      const create = t.actions.create.bind(t.actions);
      t.actions.create = async (action) => {
        await create(action);
        throw new StorageUnavailableError('the answer was lost');
      };
      const request = { deviceId: 'device-1', caller, idempotencyKey: 'ticket-10' };
      await expect(requestPasscodeReset(t.services, request)).rejects.toBeInstanceOf(StorageUnavailableError);
      t.actions.create = create;

      const again = await requestPasscodeReset(t.services, request);
      expect(again.kind).toBe('repeated');
      expect(t.actions.all()).toHaveLength(1);
      expect(again.action.id).toBe(t.actions.all()[0]?.id);
    });

    it('an accepted reset stays a 202 when its event or its enqueue cannot be written (the sweeper repairs both)', async () => {
      const t = setup();
      t.audit.record = async () => {
        throw new Error('audit table down');
      };
      t.queue.enqueue = async () => {
        throw new Error('queue down');
      };
      const result = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller });
      expect(result.kind).toBe('accepted');
      expect(t.actions.all()).toHaveLength(1);
      expect(t.schedule.of(result.action.id)).toHaveLength(1);
      expect(t.log.lines.map((l) => l.message)).toEqual(
        expect.arrayContaining([expect.stringMatching(/accepted event failed/), expect.stringMatching(/enqueueing/)]),
      );
    });

    it('a refusal keeps its own code when its audit event cannot be written', async () => {
      const t = setup();
      await requestPasscodeReset(t.services, { deviceId: 'device-1', caller });
      t.audit.record = async () => {
        throw new Error('audit table down');
      };
      await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller })).rejects.toBeInstanceOf(
        ActionInProgressError,
      );
      await expect(requestPasscodeReset(t.services, { deviceId: 'nope', caller })).rejects.toMatchObject({
        status: 404,
      });
    });
  });
});
