import {
  checkDue,
  claim,
  type Decision,
  failUndelivered,
  isTerminal,
  recordCommandStatus,
  recordTransientFailure,
  renewLease,
  retryDelaySeconds,
  workerStep,
} from '../core/actionLifecycle';
import { isDeviceFailure, PreconditionFailedError, TransientError } from '../core/errors';
import type { CommandStatus, DeviceAction, ResetMessage } from '../core/model';
import { generatePasscode } from '../core/passcodeGenerator';
import type { Versioned } from '../ports';
import { type Delivery, passcodeAad, type Services } from './services';
import { announceFinished } from './subscriptions';

export type WorkerOutcome =
  | 'done'
  | 'failed'
  | 'notSupported'
  | 'canceled'
  | 'retrying'
  | 'waiting'
  | 'deferred'
  | 'alreadyFinished'
  | 'missing'
  | 'lostRace';

/**
 * The queue worker. An action whose command is not yet with the channel is claimed (a lease), given its passcode once
 * (stored sealed with the claim, before it is sent), sent through the device channel while the lease is renewed, and
 * the channel's answer recorded. An action whose command waits for the device (or whose fate must be asked) is
 * checked instead: the channel is asked, never sent to again. Either way the next look is a new, delayed message, so
 * no worker waits in a loop. Storage failures are thrown (the caller waits for storage and runs this again; every
 * step is idempotent).
 */
export async function applyPasscodeReset(
  services: Services,
  message: ResetMessage,
  delivery: Delivery = {},
): Promise<WorkerOutcome> {
  const found = await services.actions.get(message.deviceId, message.actionId);
  if (!found) {
    services.log.warn('reset message for an unknown action', {
      actionId: message.actionId,
      deviceId: message.deviceId,
    });
    return 'missing';
  }
  if (isTerminal(found.value.actionState)) return 'alreadyFinished';
  return workerStep(found.value) === 'check'
    ? checkCommand(services, message, found)
    : sendCommand(services, message, found, delivery);
}

async function sendCommand(
  services: Services,
  message: ResetMessage,
  found: Versioned<DeviceAction>,
  delivery: Delivery,
): Promise<WorkerOutcome> {
  const seal = () =>
    services.cipher.seal(
      generatePasscode(found.value.target.passcodePolicy, services.randomInt),
      passcodeAad(found.value.deviceId, found.value.id),
    );
  const decision = claim(found.value, services.clock.now(), services.settings, seal, delivery.messageId);
  if (decision.kind === 'finished') return 'alreadyFinished';
  if (decision.kind === 'move' && isTerminal(decision.next.actionState)) {
    // Its deliveries kept dying after claiming it: it ends here, and the device channel is not called again.
    const ended = await store(services, decision, found);
    if (ended) await announceFinished(services, ended);
    return ended ? 'failed' : 'lostRace';
  }
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
  const { status, latest } = await sendUnderLease(services, claimed, message.traceparent);
  return record(services, message, latest, status);
}

/** Asks the channel how the action's command stands, when a check is due. */
async function checkCommand(
  services: Services,
  message: ResetMessage,
  found: Versioned<DeviceAction>,
): Promise<WorkerOutcome> {
  const due = checkDue(found.value, services.clock.now());
  if (due.kind === 'finished') return 'alreadyFinished';
  if (due.kind === 'wait') {
    await sendAgain(services, message, due.until);
    return 'deferred';
  }
  const { id, deviceId, command } = found.value;
  let status: CommandStatus | TransientError;
  try {
    status = await services.channel.check({
      actionId: id,
      deviceId,
      ...(command?.reference && { reference: command.reference }),
    });
  } catch (error) {
    if (!isDeviceFailure(error)) throw error;
    status = error;
  }
  return record(services, message, found, status);
}

/** Stores what the channel said, announces an ended action, and schedules the next look at one still in flight. */
async function record(
  services: Services,
  message: ResetMessage,
  latest: Versioned<DeviceAction>,
  status: CommandStatus | TransientError,
): Promise<WorkerOutcome> {
  const now = services.clock.now();
  const random = (n: number) => services.randomInt(0, n);
  const next =
    status instanceof TransientError
      ? recordTransientFailure(latest.value, status, now, services.settings, random)
      : recordCommandStatus(latest.value, status, now, services.settings, random);
  const recorded = await store(services, next, latest);
  if (!recorded) return 'lostRace';
  if (isTerminal(recorded.actionState)) {
    await announceFinished(services, recorded);
    return recorded.actionState as 'done' | 'failed' | 'notSupported' | 'canceled';
  }
  if (recorded.nextAttemptDateTime) await sendAgain(services, message, new Date(recorded.nextAttemptDateTime));
  return recorded.command ? 'waiting' : 'retrying';
}

/** Sends the claimed action's passcode; the lease is renewed every third of its length until the channel answers. */
async function sendUnderLease(
  services: Services,
  claimed: Versioned<DeviceAction>,
  traceparent: string | undefined,
): Promise<{ status: CommandStatus | TransientError; latest: Versioned<DeviceAction> }> {
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
    const status = await services.channel.send({
      actionId: action.id,
      deviceId: action.deviceId,
      operatingSystem: action.target.operatingSystem,
      osVersion: action.target.osVersion,
      policy: action.target.passcodePolicy,
      passcode: services.cipher.open(sealed, passcodeAad(action.deviceId, action.id)),
      ...(traceparent && { traceparent }),
    });
    return { status, latest: await settled() };
  } catch (error) {
    if (isDeviceFailure(error)) return { status: error, latest: await settled() };
    await settled();
    throw error;
  }

  async function settled() {
    clearInterval(timer);
    await renewal;
    return latest;
  }
}

/** Stores a lifecycle decision; undefined when the action changed under us (another look at it got there first). */
async function store(services: Services, decision: Decision, current: Versioned<DeviceAction>) {
  if (decision.kind !== 'move') return undefined;
  try {
    return (await services.actions.update(decision.next, current)).value;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    services.log.warn('the action changed while it was being worked on', { actionId: current.value.id });
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
 * again (the stored passcode is sent again, or the command checked); past the window the action fails as
 * deliveryFailed, keeping its passcode when the command may have been sent.
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
