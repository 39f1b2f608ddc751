import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ChannelOutcome,
  cancel as cancelAction,
  canTransition,
  checkChange,
  claim,
  type Decision,
  expire,
  ForbiddenTransitionError,
  failUndelivered,
  isStuck,
  isTerminal,
  type LifecycleSettings,
  nextReview,
  purgePasscode,
  recordOutcome,
  recordTransientFailure,
  renewLease,
  retryDelaySeconds,
} from '../../../lib/core/actionLifecycle';
import { ACTION_STATES, type ActionState, type DeviceAction } from '../../../lib/core/model';
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

  it('allows the moves the use cases make: claim, finish, cancel, expire', () => {
    expect(canTransition('pending', 'active')).toBe(true);
    expect(canTransition('pending', 'canceled')).toBe(true);
    expect(canTransition('pending', 'failed')).toBe(true);
    for (const end of ['done', 'failed', 'notSupported'] as const) expect(canTransition('active', end)).toBe(true);
    expect(canTransition('active', 'canceled')).toBe(false);
    expect(canTransition('active', 'pending')).toBe(false);
  });
});

const SETTINGS: LifecycleSettings = {
  leaseSeconds: 30,
  passcodeDisplayHours: 168,
  retryWindowMinutes: 60,
  actionExpiryHours: 24,
  stuckAfterSeconds: 120,
};
const START = new Date('2026-11-26T10:00:00.000Z');
const atSecond = (seconds: number) => new Date(START.getTime() + seconds * 1000);
const SEALED = { keyId: 'k1', value: 'c2VhbGVk' };
const pending = (): DeviceAction => actionFixture({ id: 'a1', deviceId: 'd1' });
const never = () => {
  throw new Error('a second passcode was generated');
};
const half = (n: number) => Math.floor(n / 2);

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

  it('recordOutcome: done opens the display window; failed and notSupported drop the passcode', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    const done = moved(recordOutcome(claimed, { outcome: 'applied' }, atSecond(2), SETTINGS));
    expect(done).toMatchObject({
      actionState: 'done',
      sealedPasscode: SEALED,
      appliedDateTime: atSecond(2).toISOString(),
      passcodeExpirationDateTime: atSecond(2 + 168 * 3600).toISOString(),
    });
    expect(done.claimedUntil).toBeUndefined();
    for (const outcome of ['failed', 'notSupported'] as const) {
      const ended = moved(recordOutcome(claimed, { outcome, code: 'x', message: 'y' }, atSecond(2), SETTINGS));
      expect(ended).toMatchObject({ actionState: outcome, error: { code: 'x', message: 'y' } });
      expect(ended.sealedPasscode).toBeUndefined();
    }
    expect(recordOutcome(done, { outcome: 'applied' }, atSecond(3), SETTINGS)).toEqual({ kind: 'finished' });
  });

  it('recordTransientFailure: retried inside the window with the next attempt shown; past it, deviceUnreachable', () => {
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
    const failed = moved(recordTransientFailure(late, { message: 'busy' }, atSecond(3600), SETTINGS, half));
    expect(failed).toMatchObject({ actionState: 'failed', error: { code: 'deviceUnreachable' } });
    expect(failed.sealedPasscode).toBeUndefined();
    expect(failed.lastError).toBeUndefined();
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

  it('cancel: only a pending action', () => {
    expect(moved(cancelAction(pending(), atSecond(1)))).toMatchObject({ actionState: 'canceled' });
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    expect(cancelAction(claimed, atSecond(1))).toEqual({ kind: 'finished' });
  });

  it('expire: not before ACTION_EXPIRY_HOURS, never under a live claim, and it drops the passcode', () => {
    const day = 24 * 3600;
    expect(expire(pending(), atSecond(day - 1), SETTINGS)).toEqual({ kind: 'wait', until: atSecond(day) });
    const claimed = moved(claim(pending(), atSecond(day - 10), SETTINGS, () => SEALED));
    expect(expire(claimed, atSecond(day + 1), SETTINGS)).toEqual({ kind: 'wait', until: atSecond(day + 20) });
    const expired = moved(expire(claimed, atSecond(day + 20), SETTINGS));
    expect(expired).toMatchObject({ actionState: 'failed', error: { code: 'expired' } });
    expect(expired.sealedPasscode).toBeUndefined();
  });

  it('failUndelivered: waits out a live claim, sends again inside the window, fails after it', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    expect(failUndelivered(claimed, atSecond(10), SETTINGS)).toEqual({ kind: 'wait', until: atSecond(30) });
    expect(failUndelivered(claimed, atSecond(40), SETTINGS)).toEqual({ kind: 'wait', until: atSecond(40) });
    expect(moved(failUndelivered(claimed, atSecond(3600), SETTINGS))).toMatchObject({
      actionState: 'failed',
      error: { code: 'deliveryFailed' },
    });
  });

  it('purgePasscode: at the end of the display window, and the action keeps its state', () => {
    const claimed = moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
    const done = moved(recordOutcome(claimed, { outcome: 'applied' }, atSecond(1), SETTINGS));
    const end = atSecond(1 + 168 * 3600);
    expect(purgePasscode(done, atSecond(100))).toEqual({ kind: 'wait', until: end });
    const purged = moved(purgePasscode(done, end));
    expect(purged).toEqual({ ...done, sealedPasscode: undefined });
    expect(() => checkChange(done, purged)).not.toThrow();
  });

  it('nextReview: while in flight at the stuck time (or the expiry); once finished when something is due', () => {
    const p = pending();
    expect(nextReview(p, atSecond(0), SETTINGS)).toEqual(atSecond(120));
    expect(isStuck(p, atSecond(119), SETTINGS)).toBe(false);
    expect(isStuck(p, atSecond(120), SETTINGS)).toBe(true);
    const claimed = moved(claim(p, atSecond(100), SETTINGS, () => SEALED));
    expect(isStuck(claimed, atSecond(200), SETTINGS)).toBe(false);
    expect(nextReview(claimed, atSecond(100), SETTINGS)).toEqual(atSecond(130 + 120));
    const done = moved(recordOutcome(claimed, { outcome: 'applied' }, atSecond(101), SETTINGS));
    expect(nextReview(done, atSecond(300), SETTINGS)).toEqual(atSecond(101 + 168 * 3600));
    const keyed = { ...done, idempotencyKeyHash: 'h' };
    expect(nextReview(keyed, atSecond(300), SETTINGS)).toEqual(atSecond(48 * 3600));
    expect(nextReview({ ...keyed, sealedPasscode: undefined }, atSecond(48 * 3600), SETTINGS)).toBeUndefined();
    expect(nextReview(moved(cancelAction(p, atSecond(1))), atSecond(2), SETTINGS)).toBeUndefined();
  });
});

describe('action lifecycle: the stores refuse what it does not allow (checkChange)', () => {
  const claimed = () => moved(claim(pending(), atSecond(0), SETTINGS, () => SEALED));
  const done = () => moved(recordOutcome(claimed(), { outcome: 'applied' }, atSecond(1), SETTINGS));

  it.each<[string, () => [DeviceAction, DeviceAction]]>([
    ['a state moving backwards', () => [done(), { ...done(), actionState: 'active' }]],
    ['active → canceled', () => [claimed(), { ...claimed(), actionState: 'canceled' }]],
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
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(step, fc.integer({ min: 0, max: 4000 })), { maxLength: 25 }), (steps) => {
        let action = pending();
        let now = START.getTime();
        for (const [name, seconds] of steps) {
          now += seconds * 1000;
          const at = new Date(now);
          const outcome: ChannelOutcome = { outcome: 'failed', code: 'c', message: 'm' };
          const decision: Decision =
            name === 'claim'
              ? claim(action, at, SETTINGS, () => SEALED)
              : name === 'renew'
                ? renewLease(action, at, SETTINGS)
                : name === 'applied'
                  ? recordOutcome(action, { outcome: 'applied' }, at, SETTINGS)
                  : name === 'failed'
                    ? recordOutcome(action, outcome, at, SETTINGS)
                    : name === 'transient'
                      ? recordTransientFailure(action, { message: 'm' }, at, SETTINGS, half)
                      : name === 'cancel'
                        ? cancelAction(action, at)
                        : name === 'expire'
                          ? expire(action, at, SETTINGS)
                          : name === 'undelivered'
                            ? failUndelivered(action, at, SETTINGS)
                            : purgePasscode(action, at);
          if (decision.kind !== 'move') continue;
          expect(() => checkChange(action, decision.next)).not.toThrow();
          // Invariant 2: once stored, the passcode is the one generated first, or gone.
          if (decision.next.sealedPasscode) expect(decision.next.sealedPasscode).toEqual(SEALED);
          action = decision.next;
        }
      }),
    );
  });
});
