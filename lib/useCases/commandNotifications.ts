import { isTerminal, recordCommandStatus } from '../core/actionLifecycle';
import { PreconditionFailedError } from '../core/errors';
import type { CommandStatus } from '../core/model';
import type { Services } from './services';
import { announceFinished } from './subscriptions';

/** A command's status pushed by the channel (Android Management's Pub/Sub COMMAND notifications). */
export interface PushedCommand {
  deviceId: string;
  /** The channel's reference of the command (the operation name). */
  reference: string;
  status: CommandStatus;
}

export type PushOutcome = 'recorded' | 'unknownCommand' | 'stillWaiting' | 'alreadyFinished';

/**
 * Finishes the action whose command the push reports, at once: the device's in-flight action, if its command is the
 * one pushed. A push for any other command (another app's, an older action's, a repeat) changes nothing. Polling
 * stays the fallback: a lost push only means the next scheduled check finds the same answer.
 */
export async function recordPushedCommand(services: Services, pushed: PushedCommand): Promise<PushOutcome> {
  if (pushed.status.status === 'waiting') return 'stillWaiting';
  for (let attempt = 0; attempt < 3; attempt++) {
    const { inFlightActionId } = await services.actions.resetContext(pushed.deviceId, services.clock.now(), 0);
    const found = inFlightActionId && (await services.actions.get(pushed.deviceId, inFlightActionId));
    if (!found || found.value.command?.reference !== pushed.reference) return 'unknownCommand';
    if (isTerminal(found.value.actionState)) return 'alreadyFinished';
    const now = services.clock.now();
    const decision = recordCommandStatus(found.value, pushed.status, now, services.settings, (n) =>
      services.randomInt(0, n),
    );
    if (decision.kind !== 'move') return 'alreadyFinished';
    try {
      await services.actions.update(decision.next, found);
    } catch (error) {
      // A check or another push got there first: look again.
      if (error instanceof PreconditionFailedError) continue;
      throw error;
    }
    if (isTerminal(decision.next.actionState)) await announceFinished(services, decision.next);
    return 'recorded';
  }
  return 'alreadyFinished';
}
