import { describe, expect, it } from 'vitest';
import { isTerminal } from '../../../lib/core/actionState';
import { TransientError } from '../../../lib/core/errors';
import type { ActionState, ResetMessage } from '../../../lib/core/model';
import type { ApplyOutcome, ApplyPasscodeRequest } from '../../../lib/ports';
import { applyPasscodeReset, failUndeliveredReset, type WorkerOutcome } from '../../../lib/useCases/applyPasscodeReset';
import { cancelAction, getAction } from '../../../lib/useCases/deviceActions';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import { passcodeAad } from '../../../lib/useCases/services';
import { sweepActions } from '../../../lib/useCases/sweepActions';
import { callerWith, deviceFixture, makeTestServices, type TestServices, throwOnCall } from '../../support/services';

const admin = callerWith('Passcode.Reset', 'Passcode.Read', 'Devices.Read');
/** The test device's policy is numeric, 6 digits, not complex: every candidate is accepted, so one passcode = 6 draws. */
const DRAWS_PER_PASSCODE = 6;
/** host.json extensions.queues.maxDequeueCount (DESIGN.md "Local Functions host"). */
const MAX_DEQUEUE_COUNT = 5;

interface Harness extends TestServices {
  /** Every message ever enqueued, including those already taken off the queue. */
  sent: ResetMessage[];
  /** Every distinct sealed passcode ever written to the action store, by action id. */
  stored: Map<string, Set<string>>;
}

function setup(): Harness {
  const t = makeTestServices();
  t.addDevice(deviceFixture());
  const sent: ResetMessage[] = [];
  const enqueue = t.queue.enqueue.bind(t.queue);
  t.queue.enqueue = async (message) => {
    sent.push(structuredClone(message));
    await enqueue(message);
  };
  const stored = new Map<string, Set<string>>();
  const update = t.actions.update.bind(t.actions);
  t.actions.update = async (action, etag) => {
    const written = await update(action, etag);
    if (action.sealedPasscode) {
      const seen = stored.get(action.id) ?? new Set<string>();
      stored.set(action.id, seen.add(action.sealedPasscode.value));
    }
    return written;
  };
  return { ...t, sent, stored };
}

/** Accepts a reset and takes its message off the queue (the test delivers it). */
async function accept(t: Harness): Promise<ResetMessage> {
  const { action } = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin });
  const message = takeMessage(t);
  expect(message).toEqual({ v: 1, actionId: action.id, deviceId: 'device-1' });
  return message;
}

function takeMessage(t: Harness): ResetMessage {
  const message = t.queue.messages.shift();
  if (!message) throw new Error('no message on the queue');
  return message;
}

/** One delivery attempt; a throw means the host will redeliver (or poison) the message. */
const deliver = (t: Harness, message: ResetMessage) => applyPasscodeReset(t.services, message);

/**
 * What the Functions host does with one message: deliver it until the handler returns, at most maxDequeueCount
 * times, then move it to the poison queue, whose handler fails the action.
 */
async function hostDelivers(t: Harness, message: ResetMessage) {
  for (let attempt = 1; attempt <= MAX_DEQUEUE_COUNT; attempt++) {
    try {
      return { attempts: attempt, outcome: (await deliver(t, message)) as WorkerOutcome | 'failed' };
    } catch {
      t.clock.advance({ seconds: 1 });
    }
  }
  return { attempts: MAX_DEQUEUE_COUNT, poisoned: await failUndeliveredReset(t.services, message) };
}

const receivedFor = (t: Harness, actionId: string) =>
  t.channel.received.filter((r) => r.actionId === actionId).map((r) => r.passcode);

/** DESIGN.md invariants 1, 2, 3 and 5 for one action, after whatever crashed has been re-run. */
async function expectInvariants(
  t: Harness,
  message: ResetMessage,
  state: ActionState,
  options: { losingConcurrentClaims?: number } = {},
) {
  const { actionId, deviceId } = message;
  const stored = await t.actions.get(deviceId, actionId);
  // 1: terminal.
  expect(stored?.value.actionState).toBe(state);
  expect(isTerminal(state)).toBe(true);
  // 2: generated once, and every delivery carried that one passcode. A claim that loses a concurrent race draws
  // a candidate before its conditional write fails; that candidate is discarded, never stored nor applied.
  const generations = 1 + (options.losingConcurrentClaims ?? 0);
  expect(t.cipher.sealed.filter((s) => s.aad === passcodeAad(deviceId, actionId))).toHaveLength(generations);
  expect(t.random.calls).toBe(DRAWS_PER_PASSCODE * generations);
  expect(t.stored.get(actionId)?.size).toBe(1);
  const received = receivedFor(t, actionId);
  expect(received.length).toBeGreaterThan(0);
  expect(new Set(received).size).toBe(1);
  const passcode = received[0] as string;
  expect(passcode).toMatch(/^\d{6}$/);
  if (state === 'done') {
    const sealed = stored?.value.sealedPasscode;
    if (!sealed) throw new Error('a done action lost its passcode');
    expect(t.cipher.open(sealed, passcodeAad(deviceId, actionId))).toBe(passcode);
    // What the admin sees is what the device received.
    expect((await getAction(t.services, deviceId, actionId, admin)).passcode).toBe(passcode);
  } else {
    expect(stored?.value.sealedPasscode).toBeUndefined();
  }
  // 3: the in-flight guard is released, so a new reset can start.
  expect((await t.actions.listInFlight()).filter((g) => g.deviceId === deviceId)).toEqual([]);
  // 5: the plaintext is in no message and no log line.
  expect(JSON.stringify(t.sent)).not.toContain(passcode);
  expect(t.log.text()).not.toContain(passcode);
  return passcode;
}

describe('applyPasscodeReset', () => {
  it('claims, generates and seals one passcode, applies it and records done with its display window', async () => {
    const t = setup();
    const message = await accept(t);
    t.clock.advance({ seconds: 2 });

    await expect(deliver(t, message)).resolves.toBe('done');

    const stored = await t.actions.get('device-1', message.actionId);
    expect(stored?.value).toMatchObject({
      actionState: 'done',
      attempts: 1,
      appliedDateTime: '2026-11-26T10:00:02.000Z',
      passcodeExpirationDateTime: '2026-12-03T10:00:02.000Z',
      lastUpdatedDateTime: '2026-11-26T10:00:02.000Z',
    });
    expect(t.channel.received).toEqual([
      {
        actionId: message.actionId,
        deviceId: 'device-1',
        operatingSystem: 'iOS',
        osVersion: '16.4.1',
        policy: { minLength: 6, characters: 'numeric', complex: false },
        passcode: expect.stringMatching(/^\d{6}$/),
      },
    ]);
    await expectInvariants(t, message, 'done');
  });

  it('records failed with the channel code on a permanent failure, dropping the passcode and the guard', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = [{ outcome: 'failed', code: 'deviceUnreachable', message: 'The device is not enrolled.' }];

    await expect(deliver(t, message)).resolves.toBe('failed');

    const stored = await t.actions.get('device-1', message.actionId);
    expect(stored?.value.error).toEqual({ code: 'deviceUnreachable', message: 'The device is not enrolled.' });
    await expectInvariants(t, message, 'failed');
  });

  it('records notSupported when the channel reports the action unsupported', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = [{ outcome: 'notSupported', code: 'platformNotSupported', message: 'Not on this model.' }];

    await expect(deliver(t, message)).resolves.toBe('notSupported');

    const stored = await t.actions.get('device-1', message.actionId);
    expect(stored?.value.error).toEqual({ code: 'platformNotSupported', message: 'Not on this model.' });
    await expectInvariants(t, message, 'notSupported');
  });

  it('applies nothing for a canceled action', async () => {
    const t = setup();
    const message = await accept(t);
    await cancelAction(t.services, 'device-1', message.actionId, admin);

    await expect(deliver(t, message)).resolves.toBe('alreadyFinished');

    expect(t.channel.received).toEqual([]);
    expect(t.random.calls).toBe(0);
    expect(t.cipher.sealed).toEqual([]);
    expect((await t.actions.get('device-1', message.actionId))?.value.actionState).toBe('canceled');
  });

  it('ignores a message for an action that does not exist', async () => {
    const t = setup();
    await expect(deliver(t, { v: 1, actionId: 'nope', deviceId: 'device-1' })).resolves.toBe('missing');
    expect(t.channel.received).toEqual([]);
    expect(t.actions.writes).toBe(0);
  });
});

describe('fault tests: a crash at each point, then what the host re-runs', () => {
  it('(a) crash after the action is written, before it is enqueued: the sweeper re-enqueues it, the worker finishes', async () => {
    const t = setup();
    throwOnCall(t.queue, 'enqueue', 1);
    await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin })).rejects.toThrow(
      /simulated crash/,
    );
    const [written] = t.actions.all();
    expect(written?.actionState).toBe('pending');
    expect(t.queue.messages).toEqual([]);

    // A fresh action is left alone; once it made no progress for STUCK_AFTER_SECONDS it is re-enqueued.
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds - 1 });
    expect((await sweepActions(t.services)).requeued).toBe(0);
    t.clock.advance({ seconds: 2 });
    expect((await sweepActions(t.services)).requeued).toBe(1);
    const message = takeMessage(t);
    expect(message).toEqual({ v: 1, actionId: written?.id, deviceId: 'device-1' });

    await expect(deliver(t, message)).resolves.toBe('done');
    await expectInvariants(t, message, 'done');
    expect(t.queue.messages).toEqual([]);
  });

  it('(a′) crash in the sweeper after touching the action, before enqueueing: the next sweep re-enqueues it', async () => {
    const t = setup();
    throwOnCall(t.queue, 'enqueue', 1);
    await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin })).rejects.toThrow();
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds + 1 });
    throwOnCall(t.queue, 'enqueue', 1);
    await expect(sweepActions(t.services)).rejects.toThrow(/simulated crash/);
    expect(t.queue.messages).toEqual([]);

    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds + 1 });
    expect((await sweepActions(t.services)).requeued).toBe(1);
    const message = takeMessage(t);
    await expect(deliver(t, message)).resolves.toBe('done');
    await expectInvariants(t, message, 'done');
  });

  it('(b) crash after claiming, before applying: the redelivery applies the same stored passcode', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = [new Error('process crashed')];

    await expect(deliver(t, message)).rejects.toThrow('process crashed');
    const claimed = await t.actions.get('device-1', message.actionId);
    expect(claimed?.value).toMatchObject({ actionState: 'active', attempts: 1 });
    expect(claimed?.value.sealedPasscode).toBeDefined();

    await expect(deliver(t, message)).resolves.toBe('done');
    expect((await t.actions.get('device-1', message.actionId))?.value.attempts).toBe(2);
    expect(claimed?.value.sealedPasscode).toEqual(
      (await t.actions.get('device-1', message.actionId))?.value.sealedPasscode,
    );
    await expectInvariants(t, message, 'done');
  });

  it('(c) crash after applying, before recording done: the redelivery re-applies the SAME passcode, then done', async () => {
    const t = setup();
    const message = await accept(t);
    throwOnCall(t.actions, 'update', 2); // update 1 = the claim, update 2 = the final write

    await expect(deliver(t, message)).rejects.toThrow(/simulated crash/);
    expect(t.channel.received).toHaveLength(1);
    expect((await t.actions.get('device-1', message.actionId))?.value.actionState).toBe('active');

    await expect(deliver(t, message)).resolves.toBe('done');
    const received = receivedFor(t, message.actionId);
    expect(received).toHaveLength(2);
    expect(received[1]).toBe(received[0]);
    await expectInvariants(t, message, 'done');
  });

  it('(d) a message delivered twice in sequence: one passcode, one done', async () => {
    const t = setup();
    const message = await accept(t);

    await expect(deliver(t, message)).resolves.toBe('done');
    const doneAt = await t.actions.get('device-1', message.actionId);
    await expect(deliver(t, { ...message })).resolves.toBe('alreadyFinished');

    expect(t.channel.received).toHaveLength(1);
    expect(await t.actions.get('device-1', message.actionId)).toEqual(doneAt);
    await expectInvariants(t, message, 'done');
  });

  it('(d) a message delivered twice concurrently: one claim wins, one passcode, one done', async () => {
    const t = setup();
    const message = await accept(t);

    const outcomes = await Promise.all([deliver(t, message), deliver(t, { ...message })]);

    expect(outcomes.sort()).toEqual(['done', 'lostRace']);
    expect(t.channel.received).toHaveLength(1);
    await expectInvariants(t, message, 'done', { losingConcurrentClaims: 1 });
  });

  it('(d) a duplicate delivered while the first is still applying re-applies the same passcode; one done', async () => {
    const t = setup();
    const message = await accept(t);
    let releaseFirst: () => void = () => {};
    const apply = t.channel.apply.bind(t.channel);
    let calls = 0;
    t.channel.apply = async (request: ApplyPasscodeRequest): Promise<ApplyOutcome> => {
      calls++;
      if (calls === 1) await new Promise<void>((resolve) => (releaseFirst = resolve));
      return apply(request);
    };

    const first = deliver(t, message);
    await vi_waitFor(() => calls === 1);
    await expect(deliver(t, { ...message })).resolves.toBe('done');
    releaseFirst();
    await expect(first).resolves.toBe('lostRace');

    expect(receivedFor(t, message.actionId)).toHaveLength(2);
    await expectInvariants(t, message, 'done');
  });

  it('(d) the sweeper re-enqueues a slow active action: the first worker loses its final write, the re-enqueued message finishes', async () => {
    const t = setup();
    const message = await accept(t);
    let releaseFirst: () => void = () => {};
    const apply = t.channel.apply.bind(t.channel);
    let calls = 0;
    t.channel.apply = async (request: ApplyPasscodeRequest): Promise<ApplyOutcome> => {
      calls++;
      if (calls === 1) await new Promise<void>((resolve) => (releaseFirst = resolve));
      return apply(request);
    };

    const first = deliver(t, message);
    await vi_waitFor(() => calls === 1);
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds + 1 });
    expect((await sweepActions(t.services)).requeued).toBe(1);
    releaseFirst();
    await expect(first).resolves.toBe('lostRace');
    expect((await t.actions.get('device-1', message.actionId))?.value.actionState).toBe('active');

    await expect(deliver(t, takeMessage(t))).resolves.toBe('done');
    await expectInvariants(t, message, 'done');
  });

  it('(e) a device that fails transiently twice, then succeeds: done on the third delivery', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = [new TransientError('gateway timeout'), new TransientError('gateway 503')];

    await expect(hostDelivers(t, message)).resolves.toEqual({ attempts: 3, outcome: 'done' });

    expect((await t.actions.get('device-1', message.actionId))?.value.attempts).toBe(3);
    expect(receivedFor(t, message.actionId)).toHaveLength(3);
    await expectInvariants(t, message, 'done');
  });

  it('(f) a device that always fails transiently: 5 attempts, then the poison handler fails it as deliveryFailed', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = Array.from({ length: 10 }, () => new TransientError('gateway timeout'));

    await expect(hostDelivers(t, message)).resolves.toEqual({ attempts: 5, poisoned: 'failed' });

    const stored = await t.actions.get('device-1', message.actionId);
    expect(stored?.value.error?.code).toBe('deliveryFailed');
    expect(receivedFor(t, message.actionId)).toHaveLength(MAX_DEQUEUE_COUNT);
    await expectInvariants(t, message, 'failed');
    // The device is free again.
    await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin })).resolves.toMatchObject({
      kind: 'accepted',
    });
  });

  it('the poison handler leaves a finished action alone', async () => {
    const t = setup();
    const message = await accept(t);
    await deliver(t, message);
    await expect(failUndeliveredReset(t.services, message)).resolves.toBe('alreadyFinished');
    await expectInvariants(t, message, 'done');
  });
});

/** Waits (a few event-loop turns at most) until `condition` holds. */
async function vi_waitFor(condition: () => boolean) {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}
