import type { AuditEvent } from '../ports';
import type { DeviceAction } from './model';

/** Marks the audit event that records an action's creation; "Device actions" lists actions by these events. */
const ACCEPTED = 'accepted';

/**
 * The audit event of an accepted reset request. It is derived from the action alone (its id is the action's id), so
 * writing it again, as the sweeper does when it repairs an interrupted request, yields the very same event.
 */
export const acceptedResetEvent = (action: DeviceAction): AuditEvent => ({
  id: action.id,
  eventDateTime: action.startDateTime,
  eventType: 'resetRequested',
  callerId: action.requestedById,
  callerName: action.requestedBy,
  deviceId: action.deviceId,
  actionId: action.id,
  ...(action.reason !== undefined && { reason: action.reason }),
  outcome: 'success',
  detail: ACCEPTED,
});

/** Whether an event records an action's acceptance (its id is the action's id). */
export const isAcceptedEvent = (event: AuditEvent): boolean =>
  event.eventType === 'resetRequested' && event.detail === ACCEPTED && event.outcome === 'success';
