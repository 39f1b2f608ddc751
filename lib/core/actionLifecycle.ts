import type { ActionError, ActionState, DeviceAction, SealedSecret } from './model';

/**
 * The reset passcode action's life, as pure functions: every change of a stored action is made by one of them, and
 * the stores refuse any change `checkChange` does not allow. Time and randomness come in as arguments.
 *
 *   pending ──claim──▶ active ──applied──▶ done ──(display window ends)──▶ done without passcode
 *      │                 │ ├──failed / notSupported (passcode dropped)
 *      │                 │ └──transient failure──▶ active (nextAttemptDateTime, lastError) ──claim──▶ …
 *      ├──cancel──▶ canceled          (device unreachable past the retry window, expiry, undeliverable: failed)
 *      └──expire / undeliverable──▶ failed
 *
 * A claim is a lease (`claimedUntil`): while it is live, nothing else moves the action, so a device never holds a
 * passcode that a concurrent expiry or poison handler has just thrown away.
 */

const TERMINAL: ReadonlySet<ActionState> = new Set(['done', 'failed', 'canceled', 'notSupported']);

/** Done, failed, canceled and notSupported are final: no state follows them. */
export const isTerminal = (state: ActionState): boolean => TERMINAL.has(state);

/** The state moves; anything else would move a state backwards. Staying in a state is always a move of its own. */
const NEXT: Record<ActionState, readonly ActionState[]> = {
  pending: ['active', 'canceled', 'failed'],
  active: ['done', 'failed', 'notSupported'],
  done: [],
  failed: [],
  canceled: [],
  notSupported: [],
};

/** Whether an action may move from one state to another (a different one). */
export const canTransition = (from: ActionState, to: ActionState): boolean => NEXT[from].includes(to);

/** Timing of the lifecycle, from the app settings. */
export interface LifecycleSettings {
  /** How long a claim holds without renewal. */
  leaseSeconds: number;
  passcodeDisplayHours: number;
  /** How long transient device failures are retried, counted from acceptance. */
  retryWindowMinutes: number;
  actionExpiryHours: number;
  /** How long an action may make no progress before the sweeper sends it to a worker again. */
  stuckAfterSeconds: number;
}

/** How long an Idempotency-Key is remembered (docs/API.md: at least 24 hours). */
export const IDEMPOTENCY_KEY_HOURS = 48;

/** What a lifecycle function decided: a new version to store, or that nothing may happen before `until`. */
export type Decision = { kind: 'move'; next: DeviceAction } | { kind: 'wait'; until: Date } | { kind: 'finished' };

const move = (next: DeviceAction): Decision => ({ kind: 'move', next });
const at = (date: Date) => date.toISOString();
const plus = (date: Date, ms: number) => new Date(date.getTime() + ms);
const time = (iso: string | undefined) => (iso === undefined ? undefined : new Date(iso));

/** Whether a worker's claim on the action still holds at `now`. */
export const leaseIsLive = (action: DeviceAction, now: Date): boolean =>
  action.claimedUntil !== undefined && now < new Date(action.claimedUntil);

/** The action without its passcode: the one place a passcode is dropped. */
export function withoutPasscode(action: DeviceAction): DeviceAction {
  const { sealedPasscode: _dropped, ...rest } = action;
  return rest;
}

/** Leaves the in-flight bookkeeping behind when an action ends. */
function ended(action: DeviceAction, now: Date, state: ActionState, error?: ActionError): DeviceAction {
  const { claimedUntil: _c, nextAttemptDateTime: _n, lastError: _l, ...rest } = action;
  return { ...rest, actionState: state, lastUpdatedDateTime: at(now), ...(error && { error }) };
}

/** Ends the action as failed; the passcode goes with it (it never reached the device, or nobody will see it). */
const fail = (action: DeviceAction, now: Date, error: ActionError) =>
  withoutPasscode(ended(action, now, 'failed', error));

/**
 * A worker takes the action: pending, or active whose previous claim lapsed (a worker died, or a retry is due).
 * The passcode is generated on the first claim only and stored with it, so every later attempt applies the same one.
 */
export function claim(
  action: DeviceAction,
  now: Date,
  settings: Pick<LifecycleSettings, 'leaseSeconds'>,
  sealNewPasscode: () => SealedSecret,
): Decision {
  if (isTerminal(action.actionState)) return { kind: 'finished' };
  if (leaseIsLive(action, now)) return { kind: 'wait', until: new Date(action.claimedUntil ?? at(now)) };
  const nextAttempt = time(action.nextAttemptDateTime);
  if (nextAttempt && now < nextAttempt) return { kind: 'wait', until: nextAttempt };
  const { nextAttemptDateTime: _n, ...rest } = action;
  return move({
    ...rest,
    actionState: 'active',
    attempts: action.attempts + 1,
    claimedUntil: at(plus(now, settings.leaseSeconds * 1000)),
    sealedPasscode: action.sealedPasscode ?? sealNewPasscode(),
    lastUpdatedDateTime: at(now),
  });
}

/** The claim holds for another lease period (the device channel is still working). */
export function renewLease(action: DeviceAction, now: Date, settings: Pick<LifecycleSettings, 'leaseSeconds'>) {
  if (action.actionState !== 'active') return { kind: 'finished' } as const;
  return move({ ...action, claimedUntil: at(plus(now, settings.leaseSeconds * 1000)) });
}

/** What the device channel answered for the claimed action. */
export type ChannelOutcome =
  | { outcome: 'applied' }
  | { outcome: 'failed' | 'notSupported'; code: string; message: string };

/** The device answered: done (the passcode is shown for the display window), failed or notSupported. */
export function recordOutcome(
  action: DeviceAction,
  outcome: ChannelOutcome,
  now: Date,
  settings: Pick<LifecycleSettings, 'passcodeDisplayHours'>,
): Decision {
  if (action.actionState !== 'active') return { kind: 'finished' };
  if (outcome.outcome === 'applied') {
    return move({
      ...ended(action, now, 'done'),
      appliedDateTime: at(now),
      passcodeExpirationDateTime: at(plus(now, settings.passcodeDisplayHours * 3_600_000)),
    });
  }
  const error = { code: outcome.code, message: outcome.message };
  return move(withoutPasscode(ended(action, now, outcome.outcome, error)));
}

const BACKOFF_FIRST_SECONDS = 5;
const BACKOFF_MAX_SECONDS = 300;

/**
 * Seconds before the next attempt after the `attempt`-th transient failure: the device's own Retry-After when it
 * gave one, else exponential backoff from 5 s doubling up to 5 minutes, with "equal jitter" (half fixed, half
 * random) so that devices that failed together do not all come back together. `random(n)` is uniform in [0, n).
 */
export function retryDelaySeconds(
  attempt: number,
  retryAfterSeconds: number | undefined,
  random: (n: number) => number,
) {
  if (retryAfterSeconds !== undefined) return retryAfterSeconds;
  const base = Math.min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** Math.max(0, attempt - 1));
  return Math.ceil(base / 2 + random(Math.floor(base / 2) + 1));
}

/**
 * The device could not be reached this time. Within the retry window the action stays active, without a claim, with
 * the error and the time of the next attempt visible; past the window it fails as deviceUnreachable.
 */
export function recordTransientFailure(
  action: DeviceAction,
  failure: { message: string; retryAfterSeconds?: number },
  now: Date,
  settings: Pick<LifecycleSettings, 'retryWindowMinutes'>,
  random: (n: number) => number,
): Decision {
  if (action.actionState !== 'active') return { kind: 'finished' };
  const lastError = { code: 'deviceUnreachable', message: failure.message };
  if (now >= plus(new Date(action.startDateTime), settings.retryWindowMinutes * 60_000)) {
    return move(
      fail(action, now, {
        code: 'deviceUnreachable',
        message: `${failure.message}; retried until the retry window ended.`,
      }),
    );
  }
  const delay = retryDelaySeconds(action.attempts, failure.retryAfterSeconds, random);
  const { claimedUntil: _c, ...rest } = action;
  return move({ ...rest, lastError, nextAttemptDateTime: at(plus(now, delay * 1000)), lastUpdatedDateTime: at(now) });
}

/** An admin cancels the action; only a pending one (no worker has started) can be. */
export function cancel(action: DeviceAction, now: Date): Decision {
  if (action.actionState !== 'pending') return { kind: 'finished' };
  return move(ended(action, now, 'canceled'));
}

/** Too old to finish: failed as expired, but never under a live claim (the worker may be applying it right now). */
export function expire(
  action: DeviceAction,
  now: Date,
  settings: Pick<LifecycleSettings, 'actionExpiryHours'>,
): Decision {
  if (isTerminal(action.actionState)) return { kind: 'finished' };
  const expiresAt = plus(new Date(action.startDateTime), settings.actionExpiryHours * 3_600_000);
  if (now < expiresAt) return { kind: 'wait', until: expiresAt };
  if (leaseIsLive(action, now)) return { kind: 'wait', until: new Date(action.claimedUntil ?? at(now)) };
  return move(fail(action, now, { code: 'expired', message: 'The action did not complete in time.' }));
}

/**
 * Every delivery of the action's message failed (the poison queue). Under a live claim nothing happens yet; within the
 * retry window the action is to be tried again (`wait` until now: send it again); past it, it fails as deliveryFailed.
 */
export function failUndelivered(
  action: DeviceAction,
  now: Date,
  settings: Pick<LifecycleSettings, 'retryWindowMinutes'>,
): Decision {
  if (isTerminal(action.actionState)) return { kind: 'finished' };
  if (leaseIsLive(action, now)) return { kind: 'wait', until: new Date(action.claimedUntil ?? at(now)) };
  if (now < plus(new Date(action.startDateTime), settings.retryWindowMinutes * 60_000))
    return { kind: 'wait', until: now };
  return move(
    fail(action, now, { code: 'deliveryFailed', message: 'The device could not be reached after every retry.' }),
  );
}

/** When a done action's passcode must be gone: the end of its display window. */
export const passcodeRemovalDue = (action: DeviceAction): Date | undefined =>
  action.sealedPasscode === undefined ? undefined : (time(action.passcodeExpirationDateTime) ?? new Date(0));

/** The display window ended: the stored passcode is removed; the action keeps its state. */
export function purgePasscode(action: DeviceAction, now: Date): Decision {
  const due = passcodeRemovalDue(action);
  if (!isTerminal(action.actionState) || due === undefined) return { kind: 'finished' };
  if (now < due) return { kind: 'wait', until: due };
  return move(withoutPasscode(action));
}

/**
 * When the sweeper must look at the action next, or undefined when it never needs to again: while in flight, when it
 * would count as stuck (or expire); once finished, when its passcode or Idempotency-Key must be removed.
 */
export function nextReview(action: DeviceAction, now: Date, settings: LifecycleSettings): Date | undefined {
  if (!isTerminal(action.actionState)) {
    const stuck = settings.stuckAfterSeconds * 1000;
    const expiresAt = new Date(action.startDateTime).getTime() + settings.actionExpiryHours * 3_600_000;
    const earliest = Math.min(quietSince(action).getTime() + stuck, expiresAt);
    return new Date(earliest > now.getTime() ? earliest : now.getTime() + stuck);
  }
  const due = [passcodeRemovalDue(action), idempotencyKeyRemovalDue(action)].filter(
    (d): d is Date => d !== undefined && d > now,
  );
  return due.length === 0 ? undefined : new Date(Math.min(...due.map((d) => d.getTime())));
}

/** The last sign of life of an action in flight: its last change, the end of its claim, or its next attempt. */
function quietSince(action: DeviceAction): Date {
  const times = [action.lastUpdatedDateTime, action.claimedUntil, action.nextAttemptDateTime].flatMap((t) =>
    t === undefined ? [] : [new Date(t).getTime()],
  );
  return new Date(Math.max(...times));
}

/** When the action's Idempotency-Key record must be gone. */
export const idempotencyKeyRemovalDue = (action: DeviceAction): Date | undefined =>
  action.idempotencyKeyHash === undefined
    ? undefined
    : plus(new Date(action.startDateTime), IDEMPOTENCY_KEY_HOURS * 3_600_000);

/** Whether an action in flight made no progress for the stuck period (its message was lost, or its worker died). */
export const isStuck = (action: DeviceAction, now: Date, settings: Pick<LifecycleSettings, 'stuckAfterSeconds'>) =>
  !isTerminal(action.actionState) && now.getTime() - quietSince(action).getTime() >= settings.stuckAfterSeconds * 1000;

/** A change the lifecycle does not allow: a bug, never a caller's mistake. */
export class ForbiddenTransitionError extends Error {
  constructor(reason: string) {
    super(`forbidden action change: ${reason}`);
    this.name = 'ForbiddenTransitionError';
  }
}

const IMMUTABLE = [
  'id',
  'deviceId',
  'actionName',
  'startDateTime',
  'requestedBy',
  'requestedById',
  'reason',
  'idempotencyKeyHash',
] as const;

/**
 * Throws unless `after` is a change the functions above can make from `before`: states only move forward, what was
 * requested never changes, attempts never go back, and the passcode is created once (by a claim) and never replaced.
 * The stores call this on every update, so no code path can bypass the lifecycle.
 */
export function checkChange(before: DeviceAction, after: DeviceAction): void {
  for (const field of IMMUTABLE) {
    if (before[field] !== after[field]) throw new ForbiddenTransitionError(`${field} changed`);
  }
  if (!sameFields(before.target, after.target)) throw new ForbiddenTransitionError('target changed');
  const from = before.actionState;
  const to = after.actionState;
  if (from !== to && !canTransition(from, to)) throw new ForbiddenTransitionError(`${from} → ${to}`);
  if (after.attempts < before.attempts) throw new ForbiddenTransitionError('attempts went back');
  const had = before.sealedPasscode;
  const has = after.sealedPasscode;
  if (had && has && (had.keyId !== has.keyId || had.value !== has.value)) {
    throw new ForbiddenTransitionError('the passcode was replaced');
  }
  if (!had && has && to !== 'active') throw new ForbiddenTransitionError('a passcode appeared outside a claim');
  if (had && !has && to !== 'failed' && to !== 'notSupported' && !(isTerminal(from) && from === to)) {
    throw new ForbiddenTransitionError('the passcode was dropped outside failure or purge');
  }
  if (isTerminal(from) && from === to && !sameFields(withoutPasscode(before), withoutPasscode(after))) {
    throw new ForbiddenTransitionError(`a ${from} action changed`);
  }
}

/** Field-by-field equality, whatever order the fields were written in. */
function sameFields(a: object, b: object): boolean {
  const entries = (o: object) =>
    Object.entries(o)
      .filter(([, v]) => v !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join('\n');
  return entries(a) === entries(b);
}
