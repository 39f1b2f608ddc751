import {
  type ChannelOutcome,
  claim,
  type Decision,
  failUndelivered,
  isTerminal,
  recordOutcome,
  recordTransientFailure,
  renewLease,
  retryDelaySeconds,
} from '../core/actionLifecycle';
import { PreconditionFailedError, StorageUnavailableError, TransientError } from '../core/errors';
import type { DeviceAction, ResetMessage } from '../core/model';
import { generatePasscode } from '../core/passcodeGenerator';
import type { Versioned } from '../ports';
import { passcodeAad, type Services } from './services';
import { announceFinished } from './subscriptions';

export type WorkerOutcome =
  | 'done'
  | 'failed'
  | 'notSupported'
  | 'retrying'
  | 'deferred'
  | 'alreadyFinished'
  | 'missing'
  | 'lostRace';

/**
 * The queue worker: claims the action (a lease), generates its passcode once (stored sealed with the claim, before it
 * is applied), applies it through the device channel while renewing the lease, and records the outcome. A device that
 * answers "try later" gets the same passcode again after its Retry-After (or a backoff), through a new, delayed
 * message: the queue's own delivery attempts are kept for crashes. Storage failures are thrown (the caller waits for
 * storage and runs this again; every step is idempotent).
 */
export async function applyPasscodeReset(services: Services, message: ResetMessage): Promise<WorkerOutcome> {
  const found = await services.actions.get(message.deviceId, message.actionId);
  if (!found) {
    services.log.warn('reset message for an unknown action', {
      actionId: message.actionId,
      deviceId: message.deviceId,
    });
    return 'missing';
  }
  const now = services.clock.now();
  const decision = claim(found.value, now, services.settings, () =>
    services.cipher.seal(
      generatePasscode(found.value.target.passcodePolicy, services.randomInt),
      passcodeAad(found.value.deviceId, found.value.id),
    ),
  );
  if (decision.kind === 'finished') return 'alreadyFinished';
  if (decision.kind === 'wait') {
    // Another worker holds the claim, or the device asked us to wait: come back then, with a fresh message.
    await sendAgain(services, message, decision.until);
    return 'deferred';
  }
  let claimed: Versioned<DeviceAction>;
  try {
    claimed = await services.actions.update(decision.next, found);
  } catch (error) {
    if (error instanceof PreconditionFailedError) return 'lostRace';
    throw error;
  }
  const { outcome, latest } = await applyUnderLease(services, claimed, message.traceparent);
  const at = services.clock.now();
  const next =
    outcome instanceof TransientError
      ? recordTransientFailure(latest.value, outcome, at, services.settings, (n) => services.randomInt(0, n))
      : recordOutcome(latest.value, outcome, at, services.settings);
  const recorded = await store(services, next, latest);
  if (!recorded) return 'lostRace';
  if (isTerminal(recorded.actionState)) await announceFinished(services, recorded);
  if (recorded.actionState === 'active' && recorded.nextAttemptDateTime) {
    await sendAgain(services, message, new Date(recorded.nextAttemptDateTime));
    return 'retrying';
  }
  return recorded.actionState === 'done' ? 'done' : recorded.actionState === 'notSupported' ? 'notSupported' : 'failed';
}

/** Applies the claimed action's passcode; the lease is renewed every third of its length until the device answers. */
async function applyUnderLease(
  services: Services,
  claimed: Versioned<DeviceAction>,
  traceparent: string | undefined,
): Promise<{ outcome: ChannelOutcome | TransientError; latest: Versioned<DeviceAction> }> {
  const action = claimed.value;
  let latest = claimed;
  let renewal: Promise<void> = Promise.resolve();
  const timer = setInterval(
    () => {
      renewal = renewal.then(async () => {
        const renewed = renewLease(latest.value, services.clock.now(), services.settings);
        if (renewed.kind !== 'move') return;
        try {
          latest = await services.actions.update(renewed.next, latest);
        } catch (error) {
          // The next renewal tries again; the final write tells whether the claim was kept.
          services.log.warn('renewing a claim failed', {
            actionId: action.id,
            errorName: error instanceof Error ? error.name : typeof error,
          });
        }
      });
    },
    (services.settings.leaseSeconds * 1000) / 3,
  );
  try {
    const sealed = action.sealedPasscode;
    if (!sealed) throw new Error('a claimed action has no passcode');
    const outcome = await services.channel.apply({
      actionId: action.id,
      deviceId: action.deviceId,
      operatingSystem: action.target.operatingSystem,
      osVersion: action.target.osVersion,
      policy: action.target.passcodePolicy,
      passcode: services.cipher.open(sealed, passcodeAad(action.deviceId, action.id)),
      ...(traceparent && { traceparent }),
    });
    return { outcome, latest: await settled() };
  } catch (error) {
    // The device's transient failures are the action's business; storage failures are the caller's (see above).
    if (error instanceof TransientError && !(error instanceof StorageUnavailableError)) {
      return { outcome: error, latest: await settled() };
    }
    await settled();
    throw error;
  }

  async function settled() {
    clearInterval(timer);
    await renewal;
    return latest;
  }
}

/** Stores a lifecycle decision; undefined when the action changed under us (it should not: we held the claim). */
async function store(services: Services, decision: Decision, current: Versioned<DeviceAction>) {
  if (decision.kind !== 'move') return undefined;
  try {
    return (await services.actions.update(decision.next, current)).value;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    services.log.error('the action changed while its claim was held', { actionId: current.value.id });
    return undefined;
  }
}

/** Sends the message again, visible at `when` (at least a second from now). */
function sendAgain(services: Services, message: ResetMessage, when: Date) {
  const delaySeconds = Math.max(1, Math.ceil((when.getTime() - services.clock.now().getTime()) / 1000));
  return services.queue.enqueue(message, { delaySeconds });
}

/**
 * The poison-queue handler: every delivery of the message failed (crashes, or storage outages longer than a worker
 * waits). Under a live claim it waits for the claim to lapse; within the retry window it sends the action to a worker
 * again (the stored passcode is re-applied); past the window the action fails as deliveryFailed.
 */
export async function failUndeliveredReset(
  services: Services,
  message: ResetMessage,
): Promise<'failed' | 'requeued' | 'alreadyFinished' | 'missing'> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = await services.actions.get(message.deviceId, message.actionId);
    if (!found) return 'missing';
    const now = services.clock.now();
    const decision = failUndelivered(found.value, now, services.settings);
    if (decision.kind === 'finished') return 'alreadyFinished';
    if (decision.kind === 'wait') {
      const backoff = retryDelaySeconds(found.value.attempts, undefined, (n) => services.randomInt(0, n));
      const when = Math.max(decision.until.getTime(), now.getTime() + backoff * 1000);
      await sendAgain(services, message, new Date(when));
      return 'requeued';
    }
    try {
      await services.actions.update(decision.next, found);
      await announceFinished(services, decision.next);
      services.log.warn('reset passcode action failed after every retry', {
        actionId: message.actionId,
        deviceId: message.deviceId,
      });
      return 'failed';
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }
  throw new Error('could not record the delivery failure: the action keeps changing');
}
