import { isTerminal } from '../core/actionState';
import { acceptedResetEvent } from '../core/auditEvents';
import { PreconditionFailedError } from '../core/errors';
import type { DeviceAction } from '../core/model';
import type { InFlightGuard } from '../ports';
import type { Services } from './services';

export interface SweepReport {
  requeued: number;
  expired: number;
  purged: number;
}

/**
 * The timer's sweep: re-enqueues in-flight actions that made no progress for a while (their message was lost,
 * e.g. the process died between writing the action and enqueueing it), fails those that are too old, and
 * removes passcodes whose display window has ended. Every write is conditional, so a sweep racing a worker
 * loses harmlessly; a duplicate message is harmless because the worker is idempotent.
 */
export async function sweepActions(services: Services): Promise<SweepReport> {
  const report: SweepReport = { requeued: 0, expired: 0, purged: 0 };
  for (const guard of await services.actions.listInFlight()) {
    const outcome = await sweepOne(services, guard);
    if (outcome) report[outcome]++;
  }
  report.purged = await purgeExpiredPasscodes(services);
  if (report.requeued + report.expired + report.purged > 0) services.log.info('sweep finished', { ...report });
  return report;
}

async function sweepOne(services: Services, guard: InFlightGuard): Promise<'requeued' | 'expired' | undefined> {
  const found = await services.actions.get(guard.deviceId, guard.actionId);
  if (!found || isTerminal(found.value.actionState)) return undefined;
  const now = services.clock.now();
  const action = found.value;
  const age = now.getTime() - new Date(action.startDateTime).getTime();
  const idle = now.getTime() - new Date(action.lastUpdatedDateTime).getTime();
  try {
    if (age > services.settings.actionExpiryHours * 3600_000) {
      const { sealedPasscode: _dropped, ...rest } = action;
      const expired: DeviceAction = {
        ...rest,
        actionState: 'failed',
        lastUpdatedDateTime: now.toISOString(),
        error: { code: 'expired', message: 'The action did not complete in time.' },
      };
      await services.actions.update(expired, found);
      return 'expired';
    }
    if (idle > services.settings.stuckAfterSeconds * 1000) {
      // Touch the action first (conditional) so that only one sweeper re-enqueues it. The accepted event is written
      // again (the same event: a no-op when it exists) in case the request died before writing it.
      await services.actions.update({ ...action, lastUpdatedDateTime: now.toISOString() }, found);
      await services.audit.record(acceptedResetEvent(action));
      await services.queue.enqueue({ v: 1, actionId: action.id, deviceId: action.deviceId });
      return 'requeued';
    }
  } catch (error) {
    if (error instanceof PreconditionFailedError) return undefined;
    throw error;
  }
  return undefined;
}

async function purgeExpiredPasscodes(services: Services): Promise<number> {
  let purged = 0;
  for (const found of await services.actions.listWithExpiredPasscodes(services.clock.now())) {
    const { sealedPasscode: _dropped, ...rest } = found.value;
    try {
      await services.actions.update(rest, found);
      purged++;
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }
  return purged;
}
