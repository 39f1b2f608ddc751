import type { ActionError, ActionState, CommandStatus, DeviceAction, DeviceCommand, SealedSecret } from './model';

/**
 * The reset passcode action's life, as pure functions: every change of a stored action is made by one of them, and
 * the stores refuse any change `checkChange` does not allow. Time and randomness come in as arguments.
 *
 *   pending ──claim──▶ active (sending) ──applied──▶ done ──(display window ends)──▶ done without passcode
 *      │                 │ ├──failed / notSupported (the channel says it was not applied: passcode dropped)
 *      │                 │ ├──transient failure──▶ active (nextAttemptDateTime) ──claim──▶ … until the retry window ends
 *      │                 │ └──waiting / no answer past the retry window──▶ active with a command (the app asks, never
 *      │                 │      sends again) ──the channel's answer──▶ done / failed / notSupported / canceled
 *      ├──cancel──▶ canceled          (expiry, undeliverable: failed; passcode kept as outcomeUnknown when it was sent)
 *      └──expire / undeliverable──▶ failed
 *
 * A passcode is dropped only when the channel says the command was not (and will not be) applied. When the app cannot
 * find out (the action expires, or every delivery failed, after the command may have been sent), the action fails as
 * `outcomeUnknown` and keeps its passcode for the display window: a device never holds a passcode nobody can see.
 * A claim is a lease (`claimedUntil`): while it is live, nothing else moves the action.
 */

const TERMINAL: ReadonlySet<ActionState> = new Set(['done', 'failed', 'canceled', 'notSupported']);

/** Done, failed, canceled and notSupported are final: no state follows them. */
export const isTerminal = (state: ActionState): boolean => TERMINAL.has(state);

/** The state moves; anything else would move a state backwards. Staying in a state is always a move of its own. */
const NEXT: Record<ActionState, readonly ActionState[]> = {
  pending: ['active', 'canceled', 'failed'],
  active: ['done', 'failed', 'notSupported', 'canceled'],
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
  /** How long a command that gets no answer is sent again, counted from acceptance; after it the app only asks. */
  retryWindowMinutes: number;
  actionExpiryHours: number;
  /** How long an action may make no progress before the sweeper sends it to a worker again. */
  stuckAfterSeconds: number;
  /** Days a finished action is kept (RETENTION_DAYS), counted from its start. */
  retentionDays: number;
}

/** How long an Idempotency-Key is remembered (docs/API.md: at least 24 hours). */
const IDEMPOTENCY_KEY_HOURS = 48;

/** The error code of an action that ended without knowing whether the device got its passcode (which is kept). */
export const OUTCOME_UNKNOWN = 'outcomeUnknown';

/**
 * How long after a command's own expiry the app still waits for the channel to report it: the device's last report
 * can reach the channel a little after the command's time is up.
 */
const COMMAND_EXPIRY_GRACE_MS = 10 * 60_000;

/** What a lifecycle function decided: a new version to store, or that nothing may happen before `until`. */
export type Decision = { kind: 'move'; next: DeviceAction } | { kind: 'wait'; until: Date } | { kind: 'finished' };

const move = (next: DeviceAction): Decision => ({ kind: 'move', next });
const at = (date: Date) => date.toISOString();
const plus = (date: Date, ms: number) => new Date(date.getTime() + ms);
const time = (iso: string | undefined) => (iso === undefined ? undefined : new Date(iso));

/** Whether a worker's claim on the action still holds at `now`. */
const leaseIsLive = (action: DeviceAction, now: Date): boolean =>
  action.claimedUntil !== undefined && now < new Date(action.claimedUntil);

/** The action without its passcode: the one place a passcode is dropped. */
function withoutPasscode(action: DeviceAction): DeviceAction {
  const { sealedPasscode: _dropped, ...rest } = action;
  return rest;
}

/** Leaves the in-flight bookkeeping behind when an action ends. */
function ended(action: DeviceAction, now: Date, state: ActionState, error?: ActionError): DeviceAction {
  const { nextAttemptDateTime: _n, lastError: _l, command: _d, ...rest } = released(action);
  return { ...rest, actionState: state, lastUpdatedDateTime: at(now), ...(error && { error }) };
}

/** The action without a worker's claim on it. */
function released(action: DeviceAction): DeviceAction {
  const { claimedUntil: _c, claimedBy: _b, ...rest } = action;
  return rest;
}

/**
 * How many deliveries may die after claiming the action before it fails: the first redelivery tries once more (the
 * death may have been a passing one); the next ends it, without calling the device channel again for a failure that
 * is not the device's (an endless crash loop would otherwise send the command every few seconds for a day).
 */
const MAX_CRASHED_DELIVERIES = 1;

/** Ends the action as failed because the channel said it was not applied: the passcode goes with it. */
const fail = (action: DeviceAction, now: Date, error: ActionError) =>
  withoutPasscode(ended(action, now, 'failed', error));

/** The end of the passcode display window of an action that ends now. */
const displayEnd = (now: Date, settings: Pick<LifecycleSettings, 'passcodeDisplayHours'>) =>
  at(plus(now, settings.passcodeDisplayHours * 3_600_000));

/**
 * Ends an action whose fate the app could not learn. If a passcode was generated, the command may have reached the
 * device: the action fails as outcomeUnknown and the passcode stays visible for the display window. Otherwise nothing
 * was ever sent, and it fails with `error` and nothing to show.
 */
function failUnconfirmed(
  action: DeviceAction,
  now: Date,
  settings: Pick<LifecycleSettings, 'passcodeDisplayHours'>,
  error: ActionError,
): DeviceAction {
  if (!action.sealedPasscode) return fail(action, now, error);
  return {
    ...ended(action, now, 'failed', {
      code: OUTCOME_UNKNOWN,
      message: `${error.message} The device may have received the new passcode, so it is shown until the display window ends.`,
    }),
    passcodeExpirationDateTime: displayEnd(now, settings),
  };
}

/** What the worker does with an action in flight: send its command (under a claim) or ask how the command stands. */
export const workerStep = (action: DeviceAction): 'send' | 'check' => (action.command ? 'check' : 'send');

/**
 * A worker takes the action to send its command: pending, or active whose previous claim lapsed (a worker died, or a
 * retry is due). The passcode is generated on the first claim only and stored with it, so every later attempt sends
 * the same one. An action whose command is with the channel is never claimed again: the worker asks instead.
 *
 * `delivery` is the queue message being worked on. Its own claim, still held, means its previous delivery died after
 * claiming (the host delivers a message again only once the last delivery ended): that delivery takes over at once, and
 * past MAX_CRASHED_DELIVERIES the action fails (deliveryFailed, or outcomeUnknown since the command may have gone out).
 */
export function claim(
  action: DeviceAction,
  now: Date,
  settings: Pick<LifecycleSettings, 'leaseSeconds' | 'passcodeDisplayHours'>,
  sealNewPasscode: () => SealedSecret,
  delivery?: string,
): Decision {
  if (isTerminal(action.actionState) || action.command) return { kind: 'finished' };
  const redelivered = delivery !== undefined && action.claimedBy === delivery;
  const crashedDeliveries = (action.crashedDeliveries ?? 0) + (redelivered ? 1 : 0);
  if (crashedDeliveries > MAX_CRASHED_DELIVERIES) {
    return move(
      failUnconfirmed(action, now, settings, {
        code: 'deliveryFailed',
        message: 'The work kept failing after it had claimed the action.',
      }),
    );
  }
  if (leaseIsLive(action, now) && !redelivered)
    return { kind: 'wait', until: new Date(action.claimedUntil ?? at(now)) };
  const nextAttempt = time(action.nextAttemptDateTime);
  if (nextAttempt && now < nextAttempt && !redelivered) return { kind: 'wait', until: nextAttempt };
  const { nextAttemptDateTime: _n, ...rest } = released(action);
  return move({
    ...rest,
    actionState: 'active',
    attempts: action.attempts + 1,
    claimedUntil: at(plus(now, settings.leaseSeconds * 1000)),
    ...(delivery !== undefined && { claimedBy: delivery }),
    ...(crashedDeliveries > 0 && { crashedDeliveries }),
    sealedPasscode: action.sealedPasscode ?? sealNewPasscode(),
    lastUpdatedDateTime: at(now),
  });
}

/** The claim holds for another lease period (the device channel is still working). */
export function renewLease(action: DeviceAction, now: Date, settings: Pick<LifecycleSettings, 'leaseSeconds'>) {
  if (action.actionState !== 'active') return { kind: 'finished' } as const;
  return move({ ...action, claimedUntil: at(plus(now, settings.leaseSeconds * 1000)) });
}

/** Whether a status check of the action's command is due at `now` (or when it is). */
export function checkDue(action: DeviceAction, now: Date): Decision {
  if (isTerminal(action.actionState) || !action.command) return { kind: 'finished' };
  const due = time(action.nextAttemptDateTime);
  return due && now < due ? { kind: 'wait', until: due } : { kind: 'move', next: action };
}

type LifecycleTiming = Pick<LifecycleSettings, 'passcodeDisplayHours' | 'retryWindowMinutes' | 'actionExpiryHours'>;

/**
 * What the channel said of the command, after a send or a check. Applied: done, shown for the display window.
 * Failed, notSupported, canceled: the command will not apply; the passcode goes. Waiting: the action keeps waiting,
 * and is asked again after a growing pause (never past the command's own expiry). Unknown: the channel cannot tell;
 * the action ends as outcomeUnknown, its passcode kept.
 */
export function recordCommandStatus(
  action: DeviceAction,
  status: CommandStatus,
  now: Date,
  settings: LifecycleTiming,
  random: (n: number) => number,
): Decision {
  if (action.actionState !== 'active') return { kind: 'finished' };
  switch (status.status) {
    case 'applied':
      return move({
        ...ended(action, now, 'done'),
        appliedDateTime: at(now),
        passcodeExpirationDateTime: displayEnd(now, settings),
      });
    case 'failed':
    case 'notSupported':
      return move(withoutPasscode(ended(action, now, status.status, { code: status.code, message: status.message })));
    case 'canceled':
      // Canceled at an admin's request, or in the channel's own console: either way it will not apply.
      return move(withoutPasscode(ended(action, now, 'canceled')));
    case 'unknown':
      return move(failUnconfirmed(action, now, settings, { code: OUTCOME_UNKNOWN, message: `${status.message}.` }));
    case 'waiting':
      return recordWaiting(action, status, now, random);
  }
}

function recordWaiting(
  action: DeviceAction,
  status: Extract<CommandStatus, { status: 'waiting' }>,
  now: Date,
  random: (n: number) => number,
): Decision {
  const previous = action.command;
  const expiresDateTime = status.expiresDateTime ?? previous?.expiresDateTime;
  const expires = time(expiresDateTime);
  if (expires && now.getTime() >= expires.getTime() + COMMAND_EXPIRY_GRACE_MS) {
    // Past its expiry and still not run: the channel will never apply it.
    return move(
      fail(action, now, {
        code: 'deviceUnreachable',
        message: 'The device did not run the passcode command before the command expired.',
      }),
    );
  }
  const checks = previous && previous.state === 'waitingForDevice' ? previous.checks + 1 : 0;
  const command: DeviceCommand = {
    state: 'waitingForDevice',
    reference: status.reference,
    sentDateTime: previous?.state === 'waitingForDevice' ? previous.sentDateTime : at(now),
    checks,
    ...(expiresDateTime && { expiresDateTime }),
    ...((status.deviceLastSeenDateTime ?? previous?.deviceLastSeenDateTime) && {
      deviceLastSeenDateTime: status.deviceLastSeenDateTime ?? previous?.deviceLastSeenDateTime,
    }),
    ...(previous?.cancelRequestedDateTime && { cancelRequestedDateTime: previous.cancelRequestedDateTime }),
  };
  let nextCheck = plus(now, checkDelaySeconds(checks, random) * 1000);
  // One look just after the command expires, so that an expired command ends the action then, not up to 15 min later.
  if (expires && expires > now && nextCheck > expires) nextCheck = plus(expires, 5_000);
  const { lastError: _l, ...rest } = released(action);
  return move({ ...rest, command, nextAttemptDateTime: at(nextCheck), lastUpdatedDateTime: at(now) });
}

const BACKOFF_FIRST_SECONDS = 5;
const BACKOFF_MAX_SECONDS = 300;
const CHECK_FIRST_SECONDS = 15;
const CHECK_MAX_SECONDS = 900;

/** Exponential backoff from `first` doubling to `max` seconds, with "equal jitter" (half fixed, half random). */
function equalJitter(step: number, first: number, max: number, random: (n: number) => number): number {
  const base = Math.min(max, first * 2 ** Math.max(0, step));
  return Math.ceil(base / 2 + random(Math.floor(base / 2) + 1));
}

/**
 * Seconds before the next attempt after the `attempt`-th transient failure: the device's own Retry-After when it
 * gave one, else exponential backoff from 5 s doubling up to 5 minutes, with "equal jitter" so that devices that
 * failed together do not all come back together. `random(n)` is uniform in [0, n).
 */
export function retryDelaySeconds(
  attempt: number,
  retryAfterSeconds: number | undefined,
  random: (n: number) => number,
) {
  if (retryAfterSeconds !== undefined) return retryAfterSeconds;
  return equalJitter(attempt - 1, BACKOFF_FIRST_SECONDS, BACKOFF_MAX_SECONDS, random);
}

/** Seconds before the next status check of a waiting command: within 15 s at first, growing to 15 minutes. */
export const checkDelaySeconds = (checks: number, random: (n: number) => number) =>
  equalJitter(checks, CHECK_FIRST_SECONDS, CHECK_MAX_SECONDS, random);

/** When the retry window (sending again after no answer) ends for the action. */
const retryWindowEnd = (action: DeviceAction, settings: Pick<LifecycleSettings, 'retryWindowMinutes'>) =>
  plus(new Date(action.startDateTime), settings.retryWindowMinutes * 60_000);

const retryWindowOver = (action: DeviceAction, now: Date, settings: Pick<LifecycleSettings, 'retryWindowMinutes'>) =>
  now >= retryWindowEnd(action, settings);

/**
 * The channel could not be reached this time. While the command is still being sent, within the retry window the
 * action stays active, without a claim, with the error and the time of the next attempt visible; once the window is
 * over the app stops sending and asks the channel how the command ended (it may have been applied: the passcode is
 * never dropped on a guess). A failed status check is tried again later, until the action expires.
 */
export function recordTransientFailure(
  action: DeviceAction,
  failure: { message: string; retryAfterSeconds?: number },
  now: Date,
  settings: LifecycleTiming,
  random: (n: number) => number,
): Decision {
  if (action.actionState !== 'active') return { kind: 'finished' };
  const lastError = { code: 'deviceUnreachable', message: failure.message };
  const rest = released(action);
  if (action.command) {
    if (now >= expiryDeadline(action, settings)) {
      return move(failUnconfirmed(action, now, settings, { code: 'expired', message: `${failure.message}.` }));
    }
    const command = { ...action.command, checks: action.command.checks + 1 };
    const delay = retryAfterOr(failure, checkDelaySeconds(command.checks, random));
    return move({
      ...rest,
      command,
      lastError,
      nextAttemptDateTime: at(plus(now, delay * 1000)),
      lastUpdatedDateTime: at(now),
    });
  }
  const delay = retryDelaySeconds(action.attempts, failure.retryAfterSeconds, random);
  const nextAttempt = plus(now, delay * 1000);
  // When the next attempt would come after the window, the app asks from now on (at the channel's Retry-After).
  if (nextAttempt >= retryWindowEnd(action, settings)) {
    const command: DeviceCommand = { state: 'confirming', sentDateTime: at(now), checks: 0 };
    const wait = retryAfterOr(failure, checkDelaySeconds(0, random));
    return move({
      ...rest,
      command,
      lastError,
      nextAttemptDateTime: at(plus(now, wait * 1000)),
      lastUpdatedDateTime: at(now),
    });
  }
  return move({ ...rest, lastError, nextAttemptDateTime: at(nextAttempt), lastUpdatedDateTime: at(now) });
}

const retryAfterOr = (failure: { retryAfterSeconds?: number }, fallback: number) =>
  failure.retryAfterSeconds !== undefined ? Math.max(failure.retryAfterSeconds, fallback) : fallback;

/** An admin cancels a pending action: no worker has started, nothing was sent. */
export function cancel(action: DeviceAction, now: Date): Decision {
  if (action.actionState !== 'pending') return { kind: 'finished' };
  return move(ended(action, now, 'canceled'));
}

/**
 * An admin asks to cancel an action whose command waits for the device. The action stays as it is until the channel
 * confirms the command will not apply (then `canceled`) or reports how the device ran it; only the request is noted.
 */
export function requestCancel(action: DeviceAction, now: Date): Decision {
  const command = action.command;
  if (action.actionState !== 'active' || command?.state !== 'waitingForDevice') return { kind: 'finished' };
  if (command.cancelRequestedDateTime) return { kind: 'move', next: action };
  return move({ ...action, command: { ...command, cancelRequestedDateTime: at(now) }, lastUpdatedDateTime: at(now) });
}

/**
 * When an action in flight may be ended as expired: ACTION_EXPIRY_HOURS after acceptance, and never before a command
 * the channel still holds can expire (its own expiry plus a grace period for the device's last report).
 */
export function expiryDeadline(action: DeviceAction, settings: Pick<LifecycleSettings, 'actionExpiryHours'>): Date {
  const byAge = new Date(action.startDateTime).getTime() + settings.actionExpiryHours * 3_600_000;
  const commandExpires = time(action.command?.expiresDateTime);
  const byCommand = commandExpires ? commandExpires.getTime() + COMMAND_EXPIRY_GRACE_MS : 0;
  return new Date(Math.max(byAge, byCommand));
}

/**
 * Too old to finish: failed as expired, never under a live claim (the worker may be sending it right now). A command
 * that may have reached the device keeps its passcode (outcomeUnknown).
 */
export function expire(
  action: DeviceAction,
  now: Date,
  settings: Pick<LifecycleSettings, 'actionExpiryHours' | 'passcodeDisplayHours'>,
): Decision {
  if (isTerminal(action.actionState)) return { kind: 'finished' };
  const expiresAt = expiryDeadline(action, settings);
  if (now < expiresAt) return { kind: 'wait', until: expiresAt };
  if (leaseIsLive(action, now)) return { kind: 'wait', until: new Date(action.claimedUntil ?? at(now)) };
  return move(
    failUnconfirmed(action, now, settings, { code: 'expired', message: 'The action did not complete in time.' }),
  );
}

/**
 * Every delivery of the action's message failed (the poison queue). Under a live claim nothing happens yet; within the
 * retry window the action is to be tried again (`wait` until now: send it again); past it, it fails as deliveryFailed
 * (outcomeUnknown, passcode kept, when the command may have been sent).
 */
export function failUndelivered(
  action: DeviceAction,
  now: Date,
  settings: Pick<LifecycleSettings, 'retryWindowMinutes' | 'passcodeDisplayHours'>,
): Decision {
  if (isTerminal(action.actionState)) return { kind: 'finished' };
  if (leaseIsLive(action, now)) return { kind: 'wait', until: new Date(action.claimedUntil ?? at(now)) };
  if (!retryWindowOver(action, now, settings)) return { kind: 'wait', until: now };
  return move(
    failUnconfirmed(action, now, settings, {
      code: 'deliveryFailed',
      message: 'The device could not be reached after every retry.',
    }),
  );
}

/** Whether an ended action's passcode is one the admin may see: applied, or possibly on the device. */
export const showsPasscode = (action: DeviceAction): boolean =>
  action.actionState === 'done' || (action.actionState === 'failed' && action.error?.code === OUTCOME_UNKNOWN);

/** When a finished action's passcode must be gone: the end of its display window. */
const passcodeRemovalDue = (action: DeviceAction): Date | undefined =>
  action.sealedPasscode === undefined ? undefined : (time(action.passcodeExpirationDateTime) ?? new Date(0));

/**
 * Whether the action's passcode may be shown at `now`: one the admin may see, still stored, inside its display
 * window. The sweeper removes it at the same instant this turns false, and no view shows it a moment longer.
 */
export const passcodeOnDisplay = (action: DeviceAction, now: Date): boolean => {
  const due = passcodeRemovalDue(action);
  return showsPasscode(action) && due !== undefined && now < due;
};

/** The display window ended: the stored passcode is removed; the action keeps its state. */
export function purgePasscode(action: DeviceAction, now: Date): Decision {
  const due = passcodeRemovalDue(action);
  if (!isTerminal(action.actionState) || due === undefined) return { kind: 'finished' };
  if (now < due) return { kind: 'wait', until: due };
  return move(withoutPasscode(action));
}

/**
 * When the sweeper must look at the action next: while in flight, when it would count as stuck (or expire); once
 * finished, when its passcode or Idempotency-Key must be removed, and last when the action itself is (retention). The
 * schedule so finds every action, whether or not its accepted event was ever written.
 */
export function nextReview(action: DeviceAction, now: Date, settings: LifecycleSettings): Date {
  if (!isTerminal(action.actionState)) {
    const stuck = settings.stuckAfterSeconds * 1000;
    const earliest = Math.min(quietSince(action).getTime() + stuck, expiryDeadline(action, settings).getTime());
    return new Date(earliest > now.getTime() ? earliest : now.getTime() + stuck);
  }
  const due = [passcodeRemovalDue(action), idempotencyKeyRemovalDue(action)].filter(
    (d): d is Date => d !== undefined && d > now,
  );
  return new Date(Math.min(...due.map((d) => d.getTime()), retentionEnd(action, settings).getTime()));
}

const retentionMs = (settings: Pick<LifecycleSettings, 'retentionDays'>) => settings.retentionDays * 24 * 3_600_000;

/** When a finished action is removed: RETENTION_DAYS after its start. */
export const retentionEnd = (action: DeviceAction, settings: Pick<LifecycleSettings, 'retentionDays'>): Date =>
  plus(new Date(action.startDateTime), retentionMs(settings));

/** What happened before this time is past RETENTION_DAYS (audit events are purged by it). */
export const retentionCutoff = (now: Date, settings: Pick<LifecycleSettings, 'retentionDays'>): Date =>
  plus(now, -retentionMs(settings));

/** The last sign of life of an action in flight: its last change, the end of its claim, or its next attempt. */
function quietSince(action: DeviceAction): Date {
  const times = [action.lastUpdatedDateTime, action.claimedUntil, action.nextAttemptDateTime].flatMap((t) =>
    t === undefined ? [] : [new Date(t).getTime()],
  );
  return new Date(Math.max(...times));
}

/** When an Idempotency-Key reserved at `reservedAt` stops naming its action: a request with it then starts anew. */
export const idempotencyKeyExpiry = (reservedAt: string): Date =>
  plus(new Date(reservedAt), IDEMPOTENCY_KEY_HOURS * 3_600_000);

/** When the action's Idempotency-Key record must be gone (the key was reserved with the action's start time). */
export const idempotencyKeyRemovalDue = (action: DeviceAction): Date | undefined =>
  action.idempotencyKeyHash === undefined ? undefined : idempotencyKeyExpiry(action.startDateTime);

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

/** The states in which a passcode may be dropped: the channel said it was not applied (or the action never sent). */
const DROPS_PASSCODE: ReadonlySet<ActionState> = new Set(['failed', 'notSupported', 'canceled']);

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
  if (had && !has && !DROPS_PASSCODE.has(to) && !(isTerminal(from) && from === to)) {
    throw new ForbiddenTransitionError('the passcode was dropped outside failure or purge');
  }
  if (before.command && !after.command && !isTerminal(to)) {
    throw new ForbiddenTransitionError('a command in the channel was forgotten');
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
