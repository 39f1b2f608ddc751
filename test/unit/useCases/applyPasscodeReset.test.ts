import { describe, expect, it } from 'vitest';
import { isTerminal, OUTCOME_UNKNOWN, showsPasscode } from '../../../lib/core/actionLifecycle';
import { StorageUnavailableError, TransientError } from '../../../lib/core/errors';
import type { ActionState, ResetMessage } from '../../../lib/core/model';
import type { ApplyPasscodeRequest, CommandStatus } from '../../../lib/ports';
import { applyPasscodeReset, failUndeliveredReset, type WorkerOutcome } from '../../../lib/useCases/applyPasscodeReset';
import { cancelAction, getAction } from '../../../lib/useCases/deviceActions';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import { passcodeAad } from '../../../lib/useCases/services';
import { sweepActions } from '../../../lib/useCases/sweepActions';
import { callerWith, deviceFixture, makeTestServices, type TestServices, throwOnCall } from '../../support/services';

const admin = callerWith('Passcode.Reset', 'Passcode.Read', 'Devices.Read');
/** host.json extensions.queues.maxDequeueCount (docs/DESIGN.md "Local Functions host"). */
const MAX_DEQUEUE_COUNT = 5;

interface Harness extends TestServices {
  /** Every message ever enqueued, including those already taken off the queue. */
  sent: ResetMessage[];
  /** Every distinct sealed passcode ever written to the action store, by action id. */
  stored: Map<string, Set<string>>;
  /** When (test clock, ms) the device channel was sent the command. */
  attemptTimes: number[];
  /** When (test clock, ms) the device channel was asked how a command stands. */
  checkTimes: number[];
}

function setup(settings: Partial<TestServices['services']['settings']> = {}): Harness {
  const t = makeTestServices({ settings });
  t.addDevice(deviceFixture());
  const sent: ResetMessage[] = [];
  const enqueue = t.queue.enqueue.bind(t.queue);
  t.queue.enqueue = async (message, options) => {
    sent.push(structuredClone(message));
    await enqueue(message, options);
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
  const attemptTimes: number[] = [];
  const apply = t.channel.send.bind(t.channel);
  t.channel.send = async (request) => {
    attemptTimes.push(t.clock.now().getTime());
    return apply(request);
  };
  const checkTimes: number[] = [];
  const check = t.channel.check.bind(t.channel);
  t.channel.check = async (command) => {
    checkTimes.push(t.clock.now().getTime());
    return check(command);
  };
  return { ...t, sent, stored, attemptTimes, checkTimes };
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
  t.queue.delays.splice(0, t.queue.delays.length - t.queue.messages.length);
  return message;
}

/** One delivery attempt; a throw means the host will redeliver (or poison) the message. */
const deliver = (t: Harness, message: ResetMessage) => applyPasscodeReset(t.services, message);

/**
 * What the Functions host does with one message: deliver it until the handler returns, at most maxDequeueCount
 * times, then move it to the poison queue, whose handler runs once.
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

/**
 * The queue over time: takes each message when it becomes visible (advancing the clock by its delay) and lets the
 * host deliver it, until the queue is empty. Returns what each message came to.
 */
async function drain(t: Harness, limit = 100) {
  const results: Awaited<ReturnType<typeof hostDelivers>>[] = [];
  while (t.queue.messages.length > 0 && results.length < limit) {
    const delay = t.queue.delays.shift() ?? 0;
    const message = takeMessage(t);
    t.clock.advance({ seconds: delay });
    results.push(await hostDelivers(t, message));
  }
  return results;
}

const receivedFor = (t: Harness, actionId: string) =>
  t.channel.received.filter((r) => r.actionId === actionId).map((r) => r.passcode);

/** docs/DESIGN.md invariants 1, 2, 3 and 5 for one action, after whatever crashed has been re-run. */
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
  expect(t.stored.get(actionId)?.size).toBe(1);
  const received = receivedFor(t, actionId);
  expect(received.length).toBeGreaterThan(0);
  expect(new Set(received).size).toBe(1);
  const passcode = received[0] as string;
  expect(passcode).toMatch(/^\d{6}$/);
  if (stored && showsPasscode(stored.value)) {
    // Done, or outcomeUnknown (the device may have it): the passcode stays visible.
    const sealed = stored.value.sealedPasscode;
    if (!sealed) throw new Error('a done action lost its passcode');
    expect(t.cipher.open(sealed, passcodeAad(deviceId, actionId))).toBe(passcode);
    // What the admin sees is what the device received.
    expect((await getAction(t.services, deviceId, actionId, admin)).passcode).toBe(passcode);
  } else {
    expect(stored?.value.sealedPasscode).toBeUndefined();
  }
  // 3: the in-flight guard is released, so a new reset can start.
  expect(t.actions.guardOf(deviceId)).toBeUndefined();
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
    t.channel.script = [{ status: 'failed', code: 'deviceUnreachable', message: 'The device is not enrolled.' }];

    await expect(deliver(t, message)).resolves.toBe('failed');

    const stored = await t.actions.get('device-1', message.actionId);
    expect(stored?.value.error).toEqual({ code: 'deviceUnreachable', message: 'The device is not enrolled.' });
    await expectInvariants(t, message, 'failed');
  });

  it('records notSupported when the channel reports the action unsupported', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = [{ status: 'notSupported', code: 'platformNotSupported', message: 'Not on this model.' }];

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

describe('fault tests: a crash at each point, then what the host and the sweeper re-run', () => {
  it('(a) the enqueue fails after the action is written: still accepted; the sweeper sends it once it is stuck', async () => {
    const t = setup();
    throwOnCall(t.queue, 'enqueue', 1);
    const { kind, action } = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin });
    expect(kind).toBe('accepted');
    expect(t.queue.messages).toEqual([]);

    // A fresh action is left alone; once it made no progress for STUCK_AFTER_SECONDS it is re-enqueued.
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds - 1 });
    expect((await sweepActions(t.services)).requeued).toBe(0);
    t.clock.advance({ seconds: 2 });
    expect((await sweepActions(t.services)).requeued).toBe(1);
    const message = takeMessage(t);
    expect(message).toEqual({ v: 1, actionId: action.id, deviceId: 'device-1' });

    await expect(deliver(t, message)).resolves.toBe('done');
    await expectInvariants(t, message, 'done');
  });

  it('(a′) the sweeper fails to enqueue: the entry stays due and the next sweep sends the action', async () => {
    const t = setup();
    throwOnCall(t.queue, 'enqueue', 1);
    await requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin });
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds + 1 });
    throwOnCall(t.queue, 'enqueue', 1);
    expect((await sweepActions(t.services)).requeued).toBe(0);
    expect(t.queue.messages).toEqual([]);

    expect((await sweepActions(t.services)).requeued).toBe(1);
    const message = takeMessage(t);
    await expect(deliver(t, message)).resolves.toBe('done');
    await expectInvariants(t, message, 'done');
  });

  it('(a″) crash after the schedule entry, before the action: the entry is dropped at its first visit', async () => {
    const t = setup();
    throwOnCall(t.actions, 'create', 1);
    await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin })).rejects.toThrow(
      /simulated crash/,
    );
    expect(t.schedule.entries.size).toBe(1);
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds + 1 });
    await sweepActions(t.services);
    expect(t.schedule.entries.size).toBe(0);
    expect(t.actions.all()).toEqual([]);
  });

  it('(b) crash after claiming, before applying: after the claim lapses the same stored passcode is applied', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = [new Error('process crashed')];

    await expect(deliver(t, message)).rejects.toThrow('process crashed');
    const claimed = await t.actions.get('device-1', message.actionId);
    expect(claimed?.value).toMatchObject({ actionState: 'active', attempts: 1 });
    expect(claimed?.value.sealedPasscode).toBeDefined();

    // The redelivery finds the claim still live: it comes back when the claim lapses, without touching the device.
    await expect(deliver(t, message)).resolves.toBe('deferred');
    expect(t.channel.received).toHaveLength(1);
    expect(t.queue.delays.at(-1)).toBe(t.services.settings.leaseSeconds);
    await drain(t);

    const stored = await t.actions.get('device-1', message.actionId);
    expect(stored?.value.attempts).toBe(2);
    expect(stored?.value.sealedPasscode).toEqual(claimed?.value.sealedPasscode);
    await expectInvariants(t, message, 'done');
  });

  it('(c) crash after applying, before recording done: the SAME passcode is re-applied once the claim lapses', async () => {
    const t = setup();
    const message = await accept(t);
    throwOnCall(t.actions, 'update', 2); // update 1 = the claim, update 2 = the final write

    await expect(deliver(t, message)).rejects.toThrow(/simulated crash/);
    expect(t.channel.received).toHaveLength(1);
    expect((await t.actions.get('device-1', message.actionId))?.value.actionState).toBe('active');

    t.clock.advance({ seconds: t.services.settings.leaseSeconds });
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

  it('(d) a duplicate delivered while the first is still applying waits for the claim; one apply, one done', async () => {
    const t = setup();
    const message = await accept(t);
    const slow = holdFirstApply(t);

    const first = deliver(t, message);
    await vi_waitFor(() => slow.calls === 1);
    await expect(deliver(t, { ...message })).resolves.toBe('deferred');
    slow.release();
    await expect(first).resolves.toBe('done');
    await drain(t);

    expect(receivedFor(t, message.actionId)).toHaveLength(1);
    await expectInvariants(t, message, 'done');
  });

  it('(d) the sweeper leaves an action under a live claim alone, however slow the device', async () => {
    // A claim long enough to outlive the stuck period without renewals (the test clock does not drive real timers).
    const t = setup({ leaseSeconds: 600 });
    const message = await accept(t);
    const slow = holdFirstApply(t);

    const first = deliver(t, message);
    await vi_waitFor(() => slow.calls === 1);
    t.clock.advance({ seconds: t.services.settings.stuckAfterSeconds + 1 });
    expect((await sweepActions(t.services)).requeued).toBe(0);
    slow.release();
    await expect(first).resolves.toBe('done');
    await expectInvariants(t, message, 'done');
  });

  it('poison while a worker is mid-apply: the claim is respected, and the action ends done with its passcode shown', async () => {
    const t = setup();
    const message = await accept(t);
    const slow = holdFirstApply(t);

    const first = deliver(t, message);
    await vi_waitFor(() => slow.calls === 1);
    await expect(failUndeliveredReset(t.services, message)).resolves.toBe('requeued');
    expect((await t.actions.get('device-1', message.actionId))?.value.actionState).toBe('active');
    slow.release();
    await expect(first).resolves.toBe('done');
    await drain(t); // the poison handler's message finds the action finished

    await expectInvariants(t, message, 'done');
  });

  it('expiry while a worker is mid-apply: nothing expires under the claim; the action ends done', async () => {
    const t = setup({ leaseSeconds: 25 * 3600 });
    const message = await accept(t);
    const slow = holdFirstApply(t);

    const first = deliver(t, message);
    await vi_waitFor(() => slow.calls === 1);
    t.clock.advance({ hours: t.services.settings.actionExpiryHours, seconds: 1 });
    expect((await sweepActions(t.services)).expired).toBe(0);
    slow.release();
    await expect(first).resolves.toBe('done');

    await expectInvariants(t, message, 'done');
  });

  it('a storage outage in the worker is thrown as StorageUnavailableError, never counted against the device', async () => {
    const t = setup();
    const message = await accept(t);
    throwOnCall(t.actions, 'get', 1, new StorageUnavailableError());
    await expect(deliver(t, message)).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(deliver(t, message)).resolves.toBe('done');
    expect((await t.actions.get('device-1', message.actionId))?.value.attempts).toBe(1);
    await expectInvariants(t, message, 'done');
  });

  it('(f) an undeliverable action within the retry window goes back to a worker; past the window it fails', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = Array.from({ length: MAX_DEQUEUE_COUNT }, () => new Error('worker crashed'));

    // Every delivery crashes (the lease lapses between them): the poison handler sends the action again.
    for (let i = 0; i < MAX_DEQUEUE_COUNT; i++) {
      t.clock.advance({ seconds: t.services.settings.leaseSeconds });
      await expect(deliver(t, message)).rejects.toThrow('worker crashed');
    }
    t.clock.advance({ seconds: t.services.settings.leaseSeconds });
    await expect(failUndeliveredReset(t.services, message)).resolves.toBe('requeued');
    await drain(t);
    await expectInvariants(t, message, 'done');
  });

  it('(f′) past the retry window the poison handler fails the action, keeps the passcode it may have sent, frees the device', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = [new Error('worker crashed')];
    await expect(deliver(t, message)).rejects.toThrow('worker crashed');
    t.clock.advance({ minutes: t.services.settings.retryWindowMinutes });

    await expect(failUndeliveredReset(t.services, message)).resolves.toBe('failed');

    const failed = await t.actions.get('device-1', message.actionId);
    expect(failed?.value.error?.code).toBe(OUTCOME_UNKNOWN);
    expect(failed?.value.error?.message).toMatch(/could not be reached after every retry/);
    await expectInvariants(t, message, 'failed');
    await expect(requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin })).resolves.toMatchObject({
      kind: 'accepted',
    });
  });

  it('a message whose work keeps dying after the claim: its own redelivery takes over once, then the action fails', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = Array.from({ length: MAX_DEQUEUE_COUNT }, () => new Error('a bug after the claim'));
    const delivery = { messageId: 'message-1' };
    const outcomes: string[] = [];
    // The host redelivers the same message (same id) after each failed delivery, 5 s later, under a live 30 s lease.
    for (let attempt = 1; attempt <= MAX_DEQUEUE_COUNT; attempt++) {
      try {
        outcomes.push(await applyPasscodeReset(t.services, message, delivery));
        break;
      } catch (error) {
        outcomes.push((error as Error).message);
        t.clock.advance({ seconds: 5 });
      }
    }

    // Two deliveries sent the command and died; the third ends it without calling the channel again.
    expect(outcomes).toEqual(['a bug after the claim', 'a bug after the claim', 'failed']);
    expect(t.channel.received).toHaveLength(2);
    const stored = (await t.actions.get('device-1', message.actionId))?.value;
    expect(stored).toMatchObject({ actionState: 'failed', attempts: 2, error: { code: 'outcomeUnknown' } });
    expect(stored?.error?.message).toMatch(/kept failing after it had claimed/);
    // Its passcode may be on the device: it stays shown, and the device is free for a new reset.
    await expectInvariants(t, message, 'failed');
  });

  it('a duplicate message (another id) still waits for a live claim: only the same message takes over', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = [new Error('died')];
    await expect(applyPasscodeReset(t.services, message, { messageId: 'message-1' })).rejects.toThrow('died');
    await expect(applyPasscodeReset(t.services, message, { messageId: 'message-2' })).resolves.toBe('deferred');
    await expect(applyPasscodeReset(t.services, message, { messageId: 'message-1' })).resolves.toBe('done');
    expect(t.channel.received).toHaveLength(2);
  });

  it('the poison handler leaves a finished action alone', async () => {
    const t = setup();
    const message = await accept(t);
    await deliver(t, message);
    await expect(failUndeliveredReset(t.services, message)).resolves.toBe('alreadyFinished');
    await expectInvariants(t, message, 'done');
  });
});

describe('device retries: transient failures are retried with the same passcode, without spending deliveries', () => {
  it('after two transient failures the third attempt succeeds; every attempt carried the same passcode', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = [new TransientError('gateway timeout'), new TransientError('gateway 503')];

    await expect(deliver(t, message)).resolves.toBe('retrying');
    const results = await drain(t);

    expect(results.map((r) => r.attempts)).toEqual([1, 1]);
    expect((await t.actions.get('device-1', message.actionId))?.value.attempts).toBe(3);
    expect(receivedFor(t, message.actionId)).toHaveLength(3);
    await expectInvariants(t, message, 'done');
  });

  it("honours the device's Retry-After and shows the error and the next attempt while it waits", async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = [new TransientError('the device gateway answered 503', 45)];

    await expect(deliver(t, message)).resolves.toBe('retrying');

    expect(t.queue.delays).toEqual([45]);
    const view = await getAction(t.services, 'device-1', message.actionId, admin);
    expect(view).toMatchObject({
      actionState: 'active',
      lastError: { code: 'deviceUnreachable', message: 'the device gateway answered 503' },
      nextAttemptDateTime: '2026-11-26T10:00:45.000Z',
    });
    // A copy of the message that arrives early (the sweeper, a duplicate) waits for the next attempt too.
    t.clock.advance({ seconds: 10 });
    await expect(deliver(t, { ...message })).resolves.toBe('deferred');
    expect(t.queue.delays.at(-1)).toBe(35);
    expect(t.channel.received).toHaveLength(1);
    await drain(t);
    await expectInvariants(t, message, 'done');
  });

  it('backs off exponentially with jitter: 5 s doubling, capped at 5 minutes', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = Array.from({ length: 9 }, () => new TransientError('no answer'));

    await deliver(t, message);
    await drain(t);

    const gaps = nextAttemptGaps(t);
    const bases = [5, 10, 20, 40, 80, 160, 300, 300, 300];
    expect(gaps).toHaveLength(bases.length);
    for (const [i, gap] of gaps.entries()) {
      const base = bases[i] as number;
      expect(gap).toBeGreaterThanOrEqual(Math.ceil(base / 2));
      expect(gap).toBeLessThanOrEqual(base);
    }
    await expectInvariants(t, message, 'done');
  });

  it('past the retry window the app stops sending and asks; "never received" fails it, passcode dropped', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = Array.from({ length: 200 }, () => new TransientError('no answer', 300));
    t.channel.checkScript = [{ status: 'failed', code: 'deviceUnreachable', message: 'never received' }];

    await deliver(t, message);
    const results = await drain(t);

    expect(results.every((r) => r.attempts === 1)).toBe(true);
    const stored = await t.actions.get('device-1', message.actionId);
    expect(stored?.value.error).toEqual({ code: 'deviceUnreachable', message: 'never received' });
    // Sent every 5 minutes within the 60-minute window, then asked once.
    expect(receivedFor(t, message.actionId).length).toBe(results.length);
    expect(t.channel.checks).toEqual([{ actionId: message.actionId, deviceId: 'device-1' }]);
    await expectInvariants(t, message, 'failed');
  });

  it('a channel that took the command but never answers keeps the passcode; at expiry it ends outcomeUnknown, shown', async () => {
    const t = setup();
    const message = await accept(t);
    t.channel.script = Array.from({ length: 200 }, () => new TransientError('the device gateway answered 503'));
    t.channel.checkScript = Array.from({ length: 500 }, () => new TransientError('the device gateway answered 503'));

    await deliver(t, message);
    const results = await drain(t, 1000);

    expect(results.every((r) => r.attempts === 1)).toBe(true);
    const stored = await t.actions.get('device-1', message.actionId);
    expect(stored?.value).toMatchObject({ actionState: 'failed', error: { code: OUTCOME_UNKNOWN } });
    // Asked with growing pauses (at most every 15 minutes) for the day the action may live.
    expect(t.channel.checks.length).toBeGreaterThan(80);
    expect(t.channel.checks.length).toBeLessThan(200);
    await expectInvariants(t, message, 'failed');
  });

  it('a command that waits for the device is checked on a growing schedule, never sent again, until applied', async () => {
    const t = setup();
    const message = await accept(t);
    const waiting = { status: 'waiting', reference: 'op-1' } as const;
    t.channel.script = [waiting];
    t.channel.checkScript = Array.from({ length: 6 }, () => waiting);

    await expect(deliver(t, message)).resolves.toBe('waiting');
    const view = await getAction(t.services, 'device-1', message.actionId, admin);
    expect(view).toMatchObject({ actionState: 'active', deviceCommand: { state: 'waitingForDevice' } });
    expect(view.passcode).toBeUndefined();
    await drain(t);

    expect(receivedFor(t, message.actionId)).toHaveLength(1);
    expect(t.channel.checks).toHaveLength(7);
    expect(t.channel.checks.every((c) => c.reference === 'op-1')).toBe(true);
    // The first check within 15 s of the send, then pauses of 15 s, 30 s, 60 s… (equal jitter: half to all of it).
    const sentAt = t.attemptTimes[0] as number;
    expect(((t.checkTimes[0] as number) - sentAt) / 1000).toBeLessThanOrEqual(15);
    const gaps = t.checkTimes.slice(1).map((time, i) => (time - (t.checkTimes[i] as number)) / 1000);
    for (const [i, gap] of gaps.entries()) {
      const base = Math.min(900, 15 * 2 ** (i + 1));
      expect(gap).toBeGreaterThanOrEqual(Math.ceil(base / 2));
      expect(gap).toBeLessThanOrEqual(base);
    }
    await expectInvariants(t, message, 'done');
  });

  it('renews its claim while the device channel works', async () => {
    const t = makeTestServices({ settings: { leaseSeconds: 0.06 } });
    t.addDevice(deviceFixture());
    const { action } = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller: admin });
    const message = t.queue.messages.shift() as ResetMessage;
    const apply = t.channel.send.bind(t.channel);
    t.channel.send = async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return apply(request);
    };
    const writesBefore = t.actions.writes;

    await expect(applyPasscodeReset(t.services, message)).resolves.toBe('done');

    // The claim, at least two renewals (every 20 ms over 150 ms), the final write.
    expect(t.actions.writes - writesBefore).toBeGreaterThanOrEqual(4);
    expect((await t.actions.get('device-1', action.id))?.value.actionState).toBe('done');
  });
});

/** The gaps between consecutive attempts, from the times the device was called (the clock moves with the queue). */
function nextAttemptGaps(t: Harness): number[] {
  return t.attemptTimes.slice(1).map((time, i) => (time - (t.attemptTimes[i] as number)) / 1000);
}

/** Makes the first apply wait until released; counts the calls. */
function holdFirstApply(t: Harness) {
  const state = { calls: 0, release: () => {} };
  const apply = t.channel.send.bind(t.channel);
  t.channel.send = async (request: ApplyPasscodeRequest): Promise<CommandStatus> => {
    state.calls++;
    if (state.calls === 1) await new Promise<void>((resolve) => (state.release = resolve));
    return apply(request);
  };
  return state;
}

/** Waits (a few event-loop turns at most) until `condition` holds. */
async function vi_waitFor(condition: () => boolean) {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}
