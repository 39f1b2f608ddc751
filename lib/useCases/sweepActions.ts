import {
  expire,
  idempotencyKeyRemovalDue,
  isStuck,
  isTerminal,
  nextReview,
  purgePasscode,
  retentionCutoff,
  retentionEnd,
} from '../core/actionLifecycle';
import { acceptedResetEvent, isAcceptedEvent } from '../core/auditEvents';
import { PreconditionFailedError } from '../core/errors';
import type { DeviceAction } from '../core/model';
import type { ScheduleEntry, Versioned } from '../ports';
import type { Services } from './services';
import { announceFinished, maintainSubscriptions } from './subscriptions';

export interface SweepReport {
  reviewed: number;
  requeued: number;
  expired: number;
  passcodesPurged: number;
  keysPurged: number;
  /** Finished actions and audit events removed after RETENTION_DAYS. */
  actionsPurged: number;
  eventsPurged: number;
  subscriptionsPurged: number;
  /** Workflows' subscriptions renewed before they expire (Power Automate never renews them). */
  subscriptionsRenewed: number;
}

/** Schedule entries one run reviews at most; the rest are reviewed by the next runs (every minute). */
const SWEEP_BATCH = 500;
/** Audit events one run purges at most. */
const RETENTION_BATCH = 200;
/** Subscriptions one run renews or removes at most. */
const SUBSCRIPTION_PURGE_BATCH = 100;
const PARALLEL_REVIEWS = 16;

/**
 * The timer's sweep. It reads only what is due: the schedule entries whose time has come (actions that may be stuck
 * or too old, passcodes and Idempotency-Keys whose time is up) and the audit events past their retention. So its cost
 * follows what is in flight or due, never the length of the history.
 */
export async function sweepActions(services: Services): Promise<SweepReport> {
  const now = services.clock.now();
  const report: SweepReport = {
    reviewed: 0,
    requeued: 0,
    expired: 0,
    passcodesPurged: 0,
    keysPurged: 0,
    actionsPurged: 0,
    eventsPurged: 0,
    subscriptionsPurged: 0,
    subscriptionsRenewed: 0,
  };
  const due = await services.schedule.listDue(now, SWEEP_BATCH);
  for (let i = 0; i < due.length; i += PARALLEL_REVIEWS) {
    await Promise.all(due.slice(i, i + PARALLEL_REVIEWS).map((entry) => reviewSafely(services, entry, now, report)));
  }
  await purgeRetired(services, now, report);
  const subscriptions = await maintainSubscriptions(services, SUBSCRIPTION_PURGE_BATCH);
  report.subscriptionsPurged = subscriptions.purged;
  report.subscriptionsRenewed = subscriptions.renewed;
  const { reviewed, ...changes } = report;
  if (Object.values(changes).some((n) => n > 0)) services.log.info('sweep finished', { reviewed, ...changes });
  return report;
}

async function reviewSafely(services: Services, entry: ScheduleEntry, now: Date, report: SweepReport) {
  try {
    await review(services, entry, now, report);
    report.reviewed++;
  } catch (error) {
    // A concurrent change or an outage: the entry stays due, and the next run reviews it again.
    if (!(error instanceof PreconditionFailedError)) {
      services.log.warn('reviewing a scheduled action failed', {
        actionId: entry.actionId,
        errorName: error instanceof Error ? error.name : typeof error,
      });
    }
  }
}

/**
 * One action's review. Work first, then the entry moves to the action's next review (or goes), so a crash in between
 * only repeats idempotent work. Conditional writes make a review that races a worker lose harmlessly.
 */
async function review(services: Services, entry: ScheduleEntry, now: Date, report: SweepReport) {
  const stored = await services.actions.get(entry.deviceId, entry.actionId);
  if (!stored) {
    // The request died before writing its action, lost the device to another request, or retention removed it.
    await services.schedule.remove(entry);
    return;
  }
  // A request that died (or lost its answers) after writing its action may not have recorded it: the event is also its
  // list entry. Not best effort: until it is written, the entry stays due and the next run tries again.
  if (entry.visits === 0) await services.audit.record(acceptedResetEvent(stored.value));
  let found = stored;
  if (!isTerminal(found.value.actionState)) found = await reviewInFlight(services, found, now, report);
  if (isTerminal(found.value.actionState)) found = await reviewFinished(services, found, now, report);
  if (isTerminal(found.value.actionState) && now >= retentionEnd(found.value, services.settings)) {
    await services.actions.remove(found);
    report.actionsPurged++;
    await services.schedule.remove(entry);
    return;
  }
  await services.schedule.reschedule(entry, nextReview(found.value, now, services.settings));
}

/** Fails an action that is too old (never under a live claim), or sends a stuck one to a worker again. */
async function reviewInFlight(
  services: Services,
  found: Versioned<DeviceAction>,
  now: Date,
  report: SweepReport,
): Promise<Versioned<DeviceAction>> {
  const expiry = expire(found.value, now, services.settings);
  if (expiry.kind === 'move') {
    const expired = await services.actions.update(expiry.next, found);
    report.expired++;
    return expired;
  }
  if (isStuck(found.value, now, services.settings)) {
    // Its message was lost (the request died before enqueueing it) or its worker died: the worker is idempotent, so a
    // duplicate message is harmless.
    await services.queue.enqueue({ v: 1, actionId: found.value.id, deviceId: found.value.deviceId });
    report.requeued++;
  }
  return found;
}

/** How long after its end a finished action is announced again (the announcement may have been lost). */
const ANNOUNCE_AGAIN_WITHIN_MS = 3_600_000;

/**
 * Announces a recently finished action again (a lost announcement means lost notifications; the fan-out sends each
 * subscription one notice whatever the repeats), removes its passcode after the display window and its
 * Idempotency-Key after 48 hours.
 */
async function reviewFinished(
  services: Services,
  found: Versioned<DeviceAction>,
  now: Date,
  report: SweepReport,
): Promise<Versioned<DeviceAction>> {
  if (now.getTime() - new Date(found.value.lastUpdatedDateTime).getTime() < ANNOUNCE_AGAIN_WITHIN_MS) {
    await announceFinished(services, found.value);
  }
  let current = found;
  const purge = purgePasscode(current.value, now);
  if (purge.kind === 'move') {
    current = await services.actions.update(purge.next, current);
    report.passcodesPurged++;
  }
  const { idempotencyKeyHash } = current.value;
  const keyDue = idempotencyKeyRemovalDue(current.value);
  if (idempotencyKeyHash && keyDue && keyDue <= now) {
    await services.idempotencyKeys.remove(idempotencyKeyHash, current.value.id);
    report.keysPurged++;
  }
  return current;
}

/**
 * Audit events past RETENTION_DAYS go, a batch per run in the store's order (Table Storage: newest first, by inverted
 * time) until none is left. An accepted event takes its finished action along if it is still there: every action is
 * removed through its schedule entry now, but versions before it dropped a finished action's entry once nothing was
 * left to do, and those actions are found only through their events.
 */
async function purgeRetired(services: Services, now: Date, report: SweepReport) {
  const cutoff = retentionCutoff(now, services.settings);
  const retired = await services.audit.listOlderThan(cutoff, RETENTION_BATCH);
  for (const event of retired.filter(isAcceptedEvent)) {
    const found = await services.actions.get(event.deviceId, event.actionId ?? event.id);
    if (found && isTerminal(found.value.actionState)) {
      await services.actions.remove(found);
      report.actionsPurged++;
    }
  }
  if (retired.length > 0) {
    await services.audit.remove(retired);
    report.eventsPurged += retired.length;
  }
}
