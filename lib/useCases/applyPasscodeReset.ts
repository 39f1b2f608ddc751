import { isTerminal } from '../core/actionState';
import { PreconditionFailedError } from '../core/errors';
import type { DeviceAction, ResetMessage } from '../core/model';
import { generatePasscode } from '../core/passcodeGenerator';
import type { ApplyOutcome, Versioned } from '../ports';
import { passcodeAad, type Services } from './services';

export type WorkerOutcome = 'done' | 'failed' | 'notSupported' | 'alreadyFinished' | 'missing' | 'lostRace';

/**
 * The queue worker: claims the action, generates its passcode once (stored sealed before it is applied),
 * applies it through the device channel and records the outcome. A redelivered message re-applies the stored
 * passcode and never generates another (DESIGN.md invariant 2). Transient channel or storage failures are
 * thrown so that the host retries the message; after the last attempt the poison handler fails the action.
 */
export async function applyPasscodeReset(services: Services, message: ResetMessage): Promise<WorkerOutcome> {
  const found = await services.actions.get(message.deviceId, message.actionId);
  if (!found) {
    services.log.warn('reset message for an unknown action', { ...message });
    return 'missing';
  }
  if (isTerminal(found.value.actionState)) return 'alreadyFinished';

  let claimed: Versioned<DeviceAction>;
  try {
    claimed = await services.actions.update(claim(services, found.value), found);
  } catch (error) {
    if (error instanceof PreconditionFailedError) return 'lostRace';
    throw error;
  }
  const action = claimed.value;
  const sealed = action.sealedPasscode;
  if (!sealed) throw new Error('a claimed action has no passcode');

  const outcome = await services.channel.apply({
    actionId: action.id,
    deviceId: action.deviceId,
    operatingSystem: action.target.operatingSystem,
    osVersion: action.target.osVersion,
    policy: action.target.passcodePolicy,
    passcode: services.cipher.open(sealed, passcodeAad(action.deviceId, action.id)),
  });

  try {
    await services.actions.update(finish(services, action, outcome), claimed);
  } catch (error) {
    // Someone else finished it meanwhile (a duplicate delivery, or the sweeper expired it).
    if (error instanceof PreconditionFailedError) return 'lostRace';
    throw error;
  }
  return outcome.outcome === 'applied' ? 'done' : outcome.outcome;
}

/** pending|active → active, with the passcode generated and sealed on the first claim only. */
function claim(services: Services, action: DeviceAction): DeviceAction {
  const sealedPasscode =
    action.sealedPasscode ??
    services.cipher.seal(
      generatePasscode(action.target.passcodePolicy, services.randomInt),
      passcodeAad(action.deviceId, action.id),
    );
  return {
    ...action,
    actionState: 'active',
    attempts: action.attempts + 1,
    sealedPasscode,
    lastUpdatedDateTime: services.clock.now().toISOString(),
  };
}

function finish(services: Services, action: DeviceAction, outcome: ApplyOutcome): DeviceAction {
  const now = services.clock.now();
  const base = { ...action, lastUpdatedDateTime: now.toISOString() };
  if (outcome.outcome === 'applied') {
    const expires = new Date(now.getTime() + services.settings.passcodeDisplayHours * 3600_000);
    return {
      ...base,
      actionState: 'done',
      appliedDateTime: now.toISOString(),
      passcodeExpirationDateTime: expires.toISOString(),
    };
  }
  // A passcode that never reached the device is of no use to anyone: drop it.
  const { sealedPasscode: _dropped, ...rest } = base;
  return { ...rest, actionState: outcome.outcome, error: { code: outcome.code, message: outcome.message } };
}

/** The poison-queue handler: the message could not be delivered after every retry. */
export async function failUndeliveredReset(
  services: Services,
  message: ResetMessage,
): Promise<'failed' | 'alreadyFinished' | 'missing'> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = await services.actions.get(message.deviceId, message.actionId);
    if (!found) return 'missing';
    if (isTerminal(found.value.actionState)) return 'alreadyFinished';
    const { sealedPasscode: _dropped, ...rest } = found.value;
    const failed: DeviceAction = {
      ...rest,
      actionState: 'failed',
      lastUpdatedDateTime: services.clock.now().toISOString(),
      error: { code: 'deliveryFailed', message: 'The device could not be reached after every retry.' },
    };
    try {
      await services.actions.update(failed, found);
      services.log.warn('reset passcode action failed after every retry', { ...message });
      return 'failed';
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }
  throw new Error('could not record the delivery failure: the action keeps changing');
}
