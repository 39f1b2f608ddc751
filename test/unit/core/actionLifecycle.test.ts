import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cancel as cancelAction,
  canTransition,
  checkChange,
  checkDelaySeconds,
  checkDue,
  claim,
  type Decision,
  expire,
  expiryDeadline,
  ForbiddenTransitionError,
  failUndelivered,
  idempotencyKeyExpiry,
  idempotencyKeyRemovalDue,
  isStuck,
  isTerminal,
  type LifecycleSettings,
  nextReview,
  OUTCOME_UNKNOWN,
  passcodeOnDisplay,
  purgePasscode,
  recordCommandStatus,
  recordTransientFailure,
  renewLease,
  requestCancel,
  retentionCutoff,
  retentionEnd,
  retryDelaySeconds,
  showsPasscode,
  workerStep,
} from '../../../lib/core/actionLifecycle';
import { ACTION_STATES, type ActionState, type CommandStatus, type DeviceAction } from '../../../lib/core/model';
import { actionFixture } from '../../support/services';

// Kept beside the use cases that drive the state machine; it tests lib/core/actionLifecycle.ts.
const rank = (state: ActionState) => (state === 'pending' ? 0 : state === 'active' ? 1 : 2);
const anyState = fc.constantFrom(...ACTION_STATES);

describe('action state machine (property tests)', () => {
  it('has exactly the four terminal states of docs/API.md', () => {
    expect(ACTION_STATES.filter(isTerminal).sort()).toEqual(['canceled', 'done', 'failed', 'notSupported']);
  });

  it('no transition leaves a terminal state', () => {
    fc.assert(
      fc.property(anyState, anyState, (from, to) => {
        if (isTerminal(from)) expect(canTransition(from, to)).toBe(false);
      }),
    );
  });

  it('every allowed transition moves strictly forward (pending < active < terminal)', () => {
    fc.assert(
      fc.property(anyState, anyState, (from, to) => {
        if (canTransition(from, to)) expect(rank(to)).toBeGreaterThan(rank(from));
      }),
    );
  });

  it('every sequence of allowed transitions from pending never moves backwards and stops at a terminal state', () => {
    fc.assert(
      fc.property(fc.array(anyState, { maxLength: 20 }), (attempts) => {
        let state: ActionState = 'pending';
        const path: ActionState[] = [state];
        for (const next of attempts) {
          if (!canTransition(state, next)) continue;
          expect(rank(next)).toBeGreaterThan(rank(state));
          state = next;
          path.push(state);
        }
        // At most pending → active → terminal, and once terminal nothing follows.
        expect(path.length).toBeLessThanOrEqual(3);
        for (let i = 0; i < path.length - 1; i++) expect(isTerminal(path[i] as ActionState)).toBe(false);
      }),
    );
  });

  it('allows the moves the use cases make: claim, finish, cancel (also of a waiting command), expire', () => {
    expect(canTransition('pending', 'active')).toBe(true);
    expect(canTransition('pending', 'canceled')).toBe(true);
    expect(canTransition('pending', 'failed')).toBe(true);
    for (const end of ['done', 'failed', 'notSupported', 'canceled'] as const) {
      expect(canTransition('active', end)).toBe(true);
    }
    expect(canTransition('active', 'pending')).toBe(false);
  });
});

const SETTINGS: LifecycleSettings = {
  leaseSeconds: 30,
  passcodeDisplayHours: 168,
  retryWindowMinutes: 60,
  actionExpiryHours: 24,
  stuckAfterSeconds: 120,
  retentionDays: 90,
};
const START = new Date('2026-11-26T10:00:00.000Z');
const atSecond = (seconds: number) => new Date(START.getTime() + seconds * 1000);
const SEALED = { keyId: 'k1', value: 'c2VhbGVk' };
const pending = (): DeviceAction => actionFixture({ id: 'a1', deviceId: 'd1' });
const never = () => {
  throw new Error('a second passcode was generated');
};
const half = (n: number) => Math.floor(n / 2);

const record = (action: DeviceAction, status: CommandStatus, at: Date) =>
  recordCommandStatus(action, status, at, SETTINGS, half);

function moved(decision: Decision): DeviceAction {
  if (decision.kind !== 'move') throw new Error(`expected a move, got ${decision.kind}`);
  return decision.next;
}

describe('action lifecycle: each transition', () => {
  it('claim: pending → active with a lease and a passcode generated once; a re-claim keeps it', () => {
    const claimed = moved(claim(pending(), atSecond(1), SETTINGS, () => SEALED));
    expect(claimed).toMatchObject({
      actionState: 'active',
      attempts: 1,
      claimedUntil: atSecond(31).toISOString(),
      sealedPasscode: SEALED,
    });
    expect(claim(claimed, atSecond(10), SETTINGS, never)).toEqual({ kind: 'wait', until: atSecond(31) });
    const reclaimed = moved(claim(claimed, atSecond(31), SETTINGS, never));
    expect(reclaimed).toMatchObject({ attempts: 2, sealedPasscode: SEALED, claimedUntil: atSecond(61).toISOString() });
    expect(claim({ ...claimed, actionState: 'done' }, atSecond(40), SETTINGS, never)).toEqual({ kind: 'finished' });
  });

  it('renewLease moves the end of the claim and nothing else', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    const renewed = moved(renewLease(claimed, atSecond(20), SETTINGS));
    expect(renewed).toEqual({ ...claimed, claimedUntil: atSecond(50).toISOString() });
    expect(() => checkChange(claimed, renewed)).not.toThrow();
  });

  it('recordCommandStatus: applied opens the display window; failed and notSupported drop the passcode', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    const done = moved(record(claimed, { status: 'applied' }, atSecond(2)));
    expect(done).toMatchObject({
      actionState: 'done',
      sealedPasscode: SEALED,
      appliedDateTime: atSecond(2).toISOString(),
      passcodeExpirationDateTime: atSecond(2 + 168 * 3600).toISOString(),
    });
    expect(done.claimedUntil).toBeUndefined();
    for (const status of ['failed', 'notSupported'] as const) {
      const ended = moved(record(claimed, { status, code: 'x', message: 'y' }, atSecond(2)));
      expect(ended).toMatchObject({ actionState: status, error: { code: 'x', message: 'y' } });
      expect(ended.sealedPasscode).toBeUndefined();
    }
    expect(record(done, { status: 'applied' }, atSecond(3))).toEqual({ kind: 'finished' });
  });

  it('recordCommandStatus: waiting keeps the passcode, releases the claim and checks again within 15 s, growing', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    const waiting = moved(
      record(
        claimed,
        { status: 'waiting', reference: 'op/1', deviceLastSeenDateTime: START.toISOString() },
        atSecond(2),
      ),
    );
    expect(waiting).toMatchObject({
      actionState: 'active',
      sealedPasscode: SEALED,
      command: { state: 'waitingForDevice', reference: 'op/1', sentDateTime: atSecond(2).toISOString(), checks: 0 },
      nextAttemptDateTime: atSecond(2 + 12).toISOString(),
    });
    expect(waiting.claimedUntil).toBeUndefined();
    expect(workerStep(waiting)).toBe('check');
    // Never claimed (so never sent) again: only checked.
    expect(claim(waiting, atSecond(100), SETTINGS, never)).toEqual({ kind: 'finished' });
    expect(checkDue(waiting, atSecond(5))).toEqual({ kind: 'wait', until: atSecond(14) });
    const again = moved(record(waiting, { status: 'waiting', reference: 'op/1' }, atSecond(14)));
    expect(again.command).toMatchObject({ checks: 1, sentDateTime: atSecond(2).toISOString() });
    expect(again.command?.deviceLastSeenDateTime).toBe(START.toISOString());
    expect(again.nextAttemptDateTime).toBe(atSecond(14 + 23).toISOString());
    const done = moved(record(again, { status: 'applied' }, atSecond(30)));
    expect(done).toMatchObject({ actionState: 'done', sealedPasscode: SEALED });
    expect(done.command).toBeUndefined();
    expect(() => checkChange(claimed, waiting)).not.toThrow();
    expect(() => checkChange(again, done)).not.toThrow();
  });

  it('checkDelaySeconds: within 15 s at first, doubling to 15 minutes, with equal jitter', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (checks, u) => {
        const base = Math.min(900, 15 * 2 ** checks);
        const delay = checkDelaySeconds(checks, (n) => Math.floor(u * n));
        expect(delay).toBeGreaterThanOrEqual(Math.ceil(base / 2));
        expect(delay).toBeLessThanOrEqual(base);
      }),
    );
    expect(checkDelaySeconds(0, (n) => n - 1)).toBeLessThanOrEqual(15);
  });

  it('a waiting command: the next check is never later than just after its expiry; past it, deviceUnreachable', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    const expires = atSecond(3600).toISOString();
    const waiting = moved(
      record(claimed, { status: 'waiting', reference: 'op', expiresDateTime: expires }, atSecond(1)),
    );
    const late = moved(
      record(
        { ...waiting, command: { ...waiting.command!, checks: 9 } },
        { status: 'waiting', reference: 'op' },
        atSecond(3500),
      ),
    );
    expect(late.nextAttemptDateTime).toBe(atSecond(3605).toISOString());
    // Until the grace period after the expiry the device's last report may still arrive.
    expect(moved(record(late, { status: 'waiting', reference: 'op' }, atSecond(3605))).actionState).toBe('active');
    const gone = moved(record(late, { status: 'waiting', reference: 'op' }, atSecond(3600 + 600)));
    expect(gone).toMatchObject({ actionState: 'failed', error: { code: 'deviceUnreachable' } });
    expect(gone.sealedPasscode).toBeUndefined();
  });

  it('recordCommandStatus: canceled drops the passcode; unknown ends as outcomeUnknown and keeps it visible', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    const waiting = moved(record(claimed, { status: 'waiting', reference: 'op' }, atSecond(1)));
    const canceled = moved(record(waiting, { status: 'canceled' }, atSecond(5)));
    expect(canceled).toMatchObject({ actionState: 'canceled' });
    expect(canceled.sealedPasscode).toBeUndefined();
    const unknown = moved(record(claimed, { status: 'unknown', message: 'the gateway cannot tell' }, atSecond(5)));
    expect(unknown).toMatchObject({
      actionState: 'failed',
      error: { code: OUTCOME_UNKNOWN },
      sealedPasscode: SEALED,
      passcodeExpirationDateTime: atSecond(5 + 168 * 3600).toISOString(),
    });
    expect(showsPasscode(unknown)).toBe(true);
    expect(() => checkChange(claimed, unknown)).not.toThrow();
  });

  it('requestCancel: only a command that waits for the device; it notes the request and nothing else', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    expect(requestCancel(claimed, atSecond(1))).toEqual({ kind: 'finished' });
    const waiting = moved(record(claimed, { status: 'waiting', reference: 'op' }, atSecond(1)));
    const requested = moved(requestCancel(waiting, atSecond(9)));
    expect(requested.command?.cancelRequestedDateTime).toBe(atSecond(9).toISOString());
    expect(requested.actionState).toBe('active');
    expect(moved(requestCancel(requested, atSecond(12)))).toBe(requested);
    expect(() => checkChange(waiting, requested)).not.toThrow();
  });

  it('recordTransientFailure: retried inside the window with the next attempt shown; past it, the app only asks', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    const waiting = moved(
      recordTransientFailure(claimed, { message: 'busy', retryAfterSeconds: 45 }, atSecond(1), SETTINGS, half),
    );
    expect(waiting).toMatchObject({
      actionState: 'active',
      sealedPasscode: SEALED,
      lastError: { code: 'deviceUnreachable', message: 'busy' },
      nextAttemptDateTime: atSecond(46).toISOString(),
    });
    expect(waiting.claimedUntil).toBeUndefined();
    expect(claim(waiting, atSecond(30), SETTINGS, never)).toEqual({ kind: 'wait', until: atSecond(46) });

    const late = moved(claim(waiting, atSecond(3600), SETTINGS, never));
    // The last send may have reached the device: the passcode stays, and the app asks instead of sending again.
    const confirming = moved(recordTransientFailure(late, { message: 'busy' }, atSecond(3600), SETTINGS, half));
    expect(confirming).toMatchObject({
      actionState: 'active',
      sealedPasscode: SEALED,
      command: { state: 'confirming', checks: 0 },
      nextAttemptDateTime: atSecond(3600 + 12).toISOString(),
    });
    expect(workerStep(confirming)).toBe('check');
    // A check that fails is tried again, later each time, until the action expires: then outcomeUnknown.
    const stillDown = moved(recordTransientFailure(confirming, { message: 'busy' }, atSecond(3700), SETTINGS, half));
    expect(stillDown.command?.checks).toBe(1);
    const day = 24 * 3600;
    const unknown = moved(recordTransientFailure(stillDown, { message: 'busy' }, atSecond(day), SETTINGS, half));
    expect(unknown).toMatchObject({ actionState: 'failed', error: { code: OUTCOME_UNKNOWN }, sealedPasscode: SEALED });
    // A channel that answers "never received" ends it without a passcode.
    const refused = { status: 'failed', code: 'deviceUnreachable', message: 'never received' } as const;
    const failed = moved(record(stillDown, refused, atSecond(3800)));
    expect(failed).toMatchObject({ actionState: 'failed', error: { code: 'deviceUnreachable' } });
    expect(failed.sealedPasscode).toBeUndefined();
    expect(failed.lastError).toBeUndefined();
  });

  it('a next attempt that would fall after the window turns to asking now, at the Retry-After the channel gave', () => {
    const claimed = moved(claim(pending(), atSecond(3500), SETTINGS, () => SEALED));
    const asking = moved(
      recordTransientFailure(claimed, { message: 'busy', retryAfterSeconds: 300 }, atSecond(3500), SETTINGS, half),
    );
    expect(asking).toMatchObject({
      command: { state: 'confirming', checks: 0 },
      nextAttemptDateTime: atSecond(3800).toISOString(),
    });
    // Inside the window with room to spare, it is sent again.
    const early = moved(claim(pending(), atSecond(10), SETTINGS, () => SEALED));
    expect(
      moved(recordTransientFailure(early, { message: 'busy' }, atSecond(10), SETTINGS, half)).command,
    ).toBeUndefined();
  });

  it('retryDelaySeconds: the device Retry-After, else 5 s doubling to 5 minutes with equal jitter', () => {
    expect(retryDelaySeconds(3, 45, () => 0)).toBe(45);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, u) => {
        const base = Math.min(300, 5 * 2 ** (attempt - 1));
        const delay = retryDelaySeconds(attempt, undefined, (n) => Math.floor(u * n));
        expect(delay).toBeGreaterThanOrEqual(Math.ceil(base / 2));
        expect(delay).toBeLessThanOrEqual(base);
      }),
    );
  });

  it('cancel: only a pending action (a waiting command is canceled through the channel)', () => {
    expect(moved(cancelAction(pending(), atSecond(1)))).toMatchObject({ actionState: 'canceled' });
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    expect(cancelAction(claimed, atSecond(1))).toEqual({ kind: 'finished' });
  });

  it('expire: not before ACTION_EXPIRY_HOURS, never under a live claim; a sent passcode is kept (outcomeUnknown)', () => {
    const day = 24 * 3600;
    expect(expire(pending(), atSecond(day - 1), SETTINGS)).toEqual({ kind: 'wait', until: atSecond(day) });
    const neverSent = moved(expire(pending(), atSecond(day), SETTINGS));
    expect(neverSent).toMatchObject({ actionState: 'failed', error: { code: 'expired' } });
    expect(showsPasscode(neverSent)).toBe(false);
    const claimed = moved(claim(pending(), atSecond(day - 10), SETTINGS, () => SEALED));
    expect(expire(claimed, atSecond(day + 1), SETTINGS)).toEqual({ kind: 'wait', until: atSecond(day + 20) });
    const expired = moved(expire(claimed, atSecond(day + 20), SETTINGS));
    expect(expired).toMatchObject({ actionState: 'failed', error: { code: OUTCOME_UNKNOWN }, sealedPasscode: SEALED });
  });

  it('expire: never before a waiting command can expire (its own expiry plus a grace period)', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    const expires = atSecond(30 * 3600);
    const waiting = moved(
      record(claimed, { status: 'waiting', reference: 'op', expiresDateTime: expires.toISOString() }, atSecond(1)),
    );
    expect(expiryDeadline(waiting, SETTINGS)).toEqual(atSecond(30 * 3600 + 600));
    expect(expire(waiting, atSecond(25 * 3600), SETTINGS)).toEqual({ kind: 'wait', until: atSecond(30 * 3600 + 600) });
  });

  it('failUndelivered: waits out a live claim, sends again inside the window, fails after it', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    expect(failUndelivered(claimed, atSecond(10), SETTINGS)).toEqual({ kind: 'wait', until: atSecond(30) });
    expect(failUndelivered(claimed, atSecond(40), SETTINGS)).toEqual({ kind: 'wait', until: atSecond(40) });
    // The passcode was generated, so the command may have been sent: it stays visible.
    expect(moved(failUndelivered(claimed, atSecond(3600), SETTINGS))).toMatchObject({
      actionState: 'failed',
      error: { code: OUTCOME_UNKNOWN },
      sealedPasscode: SEALED,
    });
    expect(moved(failUndelivered(pending(), atSecond(3600), SETTINGS))).toMatchObject({
      actionState: 'failed',
      error: { code: 'deliveryFailed' },
    });
  });

  it('purgePasscode: at the end of the display window, and the action keeps its state', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    const done = moved(record(claimed, { status: 'applied' }, atSecond(1)));
    const end = atSecond(1 + 168 * 3600);
    expect(purgePasscode(done, atSecond(100))).toEqual({ kind: 'wait', until: end });
    const purged = moved(purgePasscode(done, end));
    expect(purged).toEqual({ ...done, sealedPasscode: undefined });
    expect(() => checkChange(done, purged)).not.toThrow();
  });

  it('passcodeOnDisplay: shown from the outcome until the instant the sweeper purges it, never after', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    expect(passcodeOnDisplay(claimed, atSecond(1))).toBe(false); // in flight: not shown yet
    const done = moved(record(claimed, { status: 'applied' }, atSecond(1)));
    const end = atSecond(1 + 168 * 3600);
    expect(passcodeOnDisplay(done, atSecond(2))).toBe(true);
    expect(passcodeOnDisplay(done, new Date(end.getTime() - 1))).toBe(true);
    expect(purgePasscode(done, new Date(end.getTime() - 1)).kind).toBe('wait');
    expect(passcodeOnDisplay(done, end)).toBe(false);
    expect(purgePasscode(done, end).kind).toBe('move');
    expect(passcodeOnDisplay({ ...done, sealedPasscode: undefined }, atSecond(2))).toBe(false);
    expect(passcodeOnDisplay({ ...done, passcodeExpirationDateTime: undefined }, atSecond(2))).toBe(false);
    const failed = moved(record(claimed, { status: 'failed', code: 'x', message: 'y' }, atSecond(1)));
    expect(passcodeOnDisplay({ ...failed, sealedPasscode: SEALED }, atSecond(2))).toBe(false);
  });

  it('idempotencyKeyExpiry and retentionCutoff: the one place each period is added', () => {
    expect(idempotencyKeyExpiry(atSecond(0).toISOString())).toEqual(atSecond(48 * 3600));
    const keyed = { ...pending(), idempotencyKeyHash: 'h' };
    expect(idempotencyKeyRemovalDue(keyed)).toEqual(idempotencyKeyExpiry(keyed.startDateTime));
    const now = atSecond(100 * 24 * 3600);
    expect(retentionCutoff(now, SETTINGS)).toEqual(atSecond(10 * 24 * 3600));
    // An action started exactly at the cutoff is at its retention end now: both say "past retention" together.
    expect(
      retentionEnd({ ...pending(), startDateTime: retentionCutoff(now, SETTINGS).toISOString() }, SETTINGS),
    ).toEqual(now);
  });

  it('nextReview: while in flight at the stuck time (or the expiry); once finished when something is due, last at retention', () => {
    const p = pending();
    expect(nextReview(p, atSecond(0), SETTINGS)).toEqual(atSecond(120));
    expect(isStuck(p, atSecond(119), SETTINGS)).toBe(false);
    expect(isStuck(p, atSecond(120), SETTINGS)).toBe(true);
    const claimed = moved(claim(p, atSecond(100), SETTINGS, () => SEALED));
    expect(isStuck(claimed, atSecond(200), SETTINGS)).toBe(false);
    expect(nextReview(claimed, atSecond(100), SETTINGS)).toEqual(atSecond(130 + 120));
    const done = moved(record(claimed, { status: 'applied' }, atSecond(101)));
    expect(nextReview(done, atSecond(300), SETTINGS)).toEqual(atSecond(101 + 168 * 3600));
    const keyed = { ...done, idempotencyKeyHash: 'h' };
    expect(nextReview(keyed, atSecond(300), SETTINGS)).toEqual(atSecond(48 * 3600));
    // Nothing else due: the action's own removal, RETENTION_DAYS after its start (so no action is ever left behind).
    const retention = atSecond(90 * 24 * 3600);
    expect(nextReview({ ...keyed, sealedPasscode: undefined }, atSecond(48 * 3600), SETTINGS)).toEqual(retention);
    expect(nextReview(moved(cancelAction(p, atSecond(1))), atSecond(2), SETTINGS)).toEqual(retention);
  });
});

describe('action lifecycle: the stores refuse what it does not allow (checkChange)', () => {
  const claimed = () => moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
  const done = () => moved(record(claimed(), { status: 'applied' }, atSecond(1)));
  const waiting = () => moved(record(claimed(), { status: 'waiting', reference: 'op' }, atSecond(1)));

  it.each<[string, () => [DeviceAction, DeviceAction]]>([
    ['a state moving backwards', () => [done(), { ...done(), actionState: 'active' }]],
    ['a command in the channel forgotten', () => [waiting(), { ...waiting(), command: undefined }]],
    ['a replaced passcode', () => [claimed(), { ...claimed(), sealedPasscode: { keyId: 'k1', value: 'b3RoZXI=' } }]],
    ['a passcode appearing outside a claim', () => [pending(), { ...pending(), sealedPasscode: SEALED }]],
    ['a passcode dropped from an active action', () => [claimed(), { ...claimed(), sealedPasscode: undefined }]],
    ['a passcode dropped while marking done', () => [claimed(), { ...done(), sealedPasscode: undefined }]],
    ['a changed reason', () => [pending(), { ...pending(), reason: 'other' }]],
    ['a changed target', () => [pending(), { ...pending(), target: { ...pending().target, osVersion: '1.0' } }]],
    ['attempts going back', () => [claimed(), { ...claimed(), attempts: 0 }]],
    [
      'a finished action changing anything but its passcode',
      () => [done(), { ...done(), lastUpdatedDateTime: atSecond(9).toISOString() }],
    ],
  ])('refuses %s', (_name, pair) => {
    const [before, next] = pair();
    expect(() => checkChange(before, next)).toThrow(ForbiddenTransitionError);
  });

  it('accepts every change the lifecycle functions make, along any path (property test)', () => {
    const step = fc.constantFrom(
      'claim',
      'renew',
      'applied',
      'failed',
      'transient',
      'cancel',
      'expire',
      'undelivered',
      'purge',
      'waiting',
      'unknown',
      'canceled',
      'requestCancel',
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(step, fc.integer({ min: 0, max: 4000 })), { maxLength: 25 }), (steps) => {
        let action = pending();
        let now = START.getTime();
        for (const [name, seconds] of steps) {
          now += seconds * 1000;
          const at = new Date(now);
          const statuses: Record<string, CommandStatus> = {
            applied: { status: 'applied' },
            failed: { status: 'failed', code: 'c', message: 'm' },
            waiting: { status: 'waiting', reference: 'op', expiresDateTime: new Date(now + 3_600_000).toISOString() },
            unknown: { status: 'unknown', message: 'm' },
            canceled: { status: 'canceled' },
          };
          const status = statuses[name];
          const decision: Decision = status
            ? record(action, status, at)
            : name === 'claim'
              ? claim(action, at, SETTINGS, () => SEALED)
              : name === 'renew'
                ? renewLease(action, at, SETTINGS)
                : name === 'transient'
                  ? recordTransientFailure(action, { message: 'm' }, at, SETTINGS, half)
                  : name === 'cancel'
                    ? cancelAction(action, at)
                    : name === 'requestCancel'
                      ? requestCancel(action, at)
                      : name === 'expire'
                        ? expire(action, at, SETTINGS)
                        : name === 'undelivered'
                          ? failUndelivered(action, at, SETTINGS)
                          : purgePasscode(action, at);
          if (decision.kind !== 'move') continue;
          expect(() => checkChange(action, decision.next)).not.toThrow();
          // Invariant 2: once stored, the passcode is the one generated first, or gone.
          if (decision.next.sealedPasscode) expect(decision.next.sealedPasscode).toEqual(SEALED);
          // Invariant 7: a passcode that may be on the device is dropped only on the channel's word.
          if (
            action.sealedPasscode &&
            !decision.next.sealedPasscode &&
            decision.next.actionState !== action.actionState
          ) {
            expect(['failed', 'notSupported', 'canceled'].includes(name)).toBe(true);
          }
          action = decision.next;
        }
      }),
    );
  });
});
